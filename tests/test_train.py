"""WordOT fine-tuning: the loss falls, runs resume exactly, NaN stops with a name, files land;
one process per run directory, damaged files named or repaired, bad settings refused, and an
error on one of several processes stops them all."""

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from support import interrupt_training, tiny_train_config

from wordot import data, train
from wordot.embed import EmbedConfig
from wordot.loss import LossConfig
from wordot.models import load_encoder
from wordot.paths import CorruptFileError
from wordot.train import loop, provenance
from wordot.train.lock import run_lock

_cfg = tiny_train_config


def _weights(path):
    model, _ = load_encoder(str(path))
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_falls_and_run_files_are_written(corpora, tmp_path):
    # the squared cost: on the tiny random encoder (word vectors of norm ~8) the Euclidean cost's
    # bounded gradients lower the loss by only ~13% in 12 steps, too close to call a fall
    loss = LossConfig(eps=0.05, cost="sqeuclidean", lam=1.0, tol=1e-4)
    cfg = _cfg(max_steps=12, epochs=2, loss=loss)
    summary = train.train(cfg, corpora, tmp_path / "run", progress=False)
    log = train.read_log(tmp_path / "run")
    assert [r["step"] for r in log] == list(range(1, 13))
    assert {"loss", "ot/de", "ot/fr", "reg/de", "loss/de", "seconds"} <= set(log[0])
    first = sum(r["loss"] for r in log[:3]) / 3
    last = sum(r["loss"] for r in log[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    assert summary["steps"] == 12 and summary["updates"] == 12
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["lr"] == 3e-3 and cfg["languages"] == ["de", "fr"] and "wordot_version" in cfg
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 12
    tuned = _weights(tmp_path / "run" / "model")
    init, _ = load_encoder("tiny")
    changed = [k for k, v in init.state_dict().items() if not torch.equal(v, tuned[k])]
    assert changed, "training changed no weight"


def test_resume_reproduces_the_uninterrupted_run(corpora, tmp_path, monkeypatch):
    cfg = _cfg(max_steps=6, grad_accum=2, checkpoint_every=1, dropout=True)
    train.train(cfg, corpora, tmp_path / "full", progress=False)

    real = loop._group_loss
    interrupt_training(monkeypatch, 4 * len(cfg.languages))  # steps 1-4 done, die in step 5
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, corpora, tmp_path / "cut", progress=False)
    monkeypatch.setattr(loop, "_group_loss", real)
    assert (tmp_path / "cut" / "checkpoints" / "step-4" / "state.json").exists()
    summary = train.train(cfg, corpora, tmp_path / "cut", resume=True, progress=False)
    assert summary["resumed_from"] == 4 and summary["steps"] == 6
    full, cut = _weights(tmp_path / "full" / "model"), _weights(tmp_path / "cut" / "model")
    assert all(torch.equal(full[k], cut[k]) for k in full), "resumed weights differ"
    assert [r["step"] for r in train.read_log(tmp_path / "cut")] == [2, 4, 6]
    with pytest.raises(FileExistsError, match="not empty; pass resume=True"):
        train.train(cfg, corpora, tmp_path / "full", progress=False)


def test_nan_loss_stops_with_step_and_language(corpora, tmp_path):
    model, tok = load_encoder("tiny")
    with torch.no_grad():
        model.encoder.layer[0].output.dense.weight[0, 0] = float("nan")
    with pytest.raises(
        train.NonFiniteLoss, match=r"NaN/inf word vectors \(de side\) at step 1 \(language de\)"
    ):
        train.train(
            _cfg(max_steps=2), corpora, tmp_path / "nan", model=model, tokenizer=tok, progress=False
        )


def test_nan_loss_with_finite_vectors_is_caught_too(corpora, tmp_path, monkeypatch):
    from wordot.loss import LossParts

    def nan_loss(src, en, en_init, cfg):
        nan = sum(e.vectors.sum() for e in src.values()) * float("nan")
        return LossParts(nan, {k: nan for k in src}, {})

    monkeypatch.setattr(loop, "wordot_loss", nan_loss)
    with pytest.raises(train.NonFiniteLoss, match=r"loss is nan at step 1 \(language de\)"):
        train.train(_cfg(max_steps=2), corpora, tmp_path / "nan2", progress=False)


def test_frozen_word_embeddings_do_not_move(corpora, tmp_path):
    train.train(
        _cfg(max_steps=2, freeze_word_embeddings=True), corpora, tmp_path / "frozen", progress=False
    )
    init, _ = load_encoder("tiny")
    tuned = _weights(tmp_path / "frozen" / "model")
    key = "embeddings.word_embeddings.weight"
    assert torch.equal(init.state_dict()[key], tuned[key])
    assert not torch.equal(
        init.state_dict()["encoder.layer.0.output.dense.weight"],
        tuned["encoder.layer.0.output.dense.weight"],
    )


def test_missing_language_is_named(corpora, tmp_path):
    with pytest.raises(ValueError, match=r"no parallel data for language\(s\) \['el'\]"):
        train.train(_cfg(languages=("de", "el")), corpora, tmp_path / "x", progress=False)


def test_resume_refuses_a_run_with_other_settings(corpora, tmp_path):
    train.train(_cfg(max_steps=1), corpora, tmp_path / "run", progress=False)
    other = _cfg(max_steps=1, lr=1e-3, loss=LossConfig(eps=0.1, lam=1.0, tol=1e-4))
    with pytest.raises(ValueError, match=r"other settings \(differing: loss.eps, lr\); delete"):
        train.train(other, corpora, tmp_path / "run", resume=True, progress=False)


def test_resume_reuses_a_finished_run_without_loading_the_encoder(corpora, tmp_path, monkeypatch):
    from wordot import models

    cfg = _cfg(max_steps=2)
    summary = train.train(cfg, corpora, tmp_path / "run", progress=False)
    stamp = (tmp_path / "run" / "log.jsonl").stat().st_mtime_ns

    def no_loading(name):
        raise AssertionError("a finished run must not load the encoder")

    monkeypatch.setattr(models, "load_encoder", no_loading)
    again = train.train(cfg, corpora, tmp_path / "run", resume=True, progress=False)
    assert again == json.loads((tmp_path / "run" / "summary.json").read_text()) | {"reused": True}
    assert again["steps"] == summary["steps"] == 2
    assert (tmp_path / "run" / "log.jsonl").stat().st_mtime_ns == stamp


def test_a_run_is_not_reused_for_other_pairs_or_other_code(corpora, tmp_path, monkeypatch):
    # issue 14, item 8: the book once reused a run that no committed code had trained
    cfg = _cfg(max_steps=2)
    train.train(cfg, corpora, tmp_path / "run", progress=False)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["provenance"]
    assert stored["data_sha256"] == provenance.data_fingerprint(corpora)
    assert stored["code_sha256"] == provenance.code_fingerprint()
    edited = dict(corpora)
    pairs = list(corpora["de"])
    pairs[0] = (pairs[0][0] + " Heute.", pairs[0][1] + " Today.")
    edited["de"] = data.ParallelCorpus("de", [p[0] for p in pairs], [p[1] for p in pairs])
    with pytest.raises(
        ValueError,
        match=r"same settings but other pairs \(differing: "
        r"provenance.data_sha256.de\)",
    ):
        train.train(cfg, edited, tmp_path / "run", resume=True, progress=False)
    monkeypatch.setattr(
        loop, "provenance", lambda c: provenance.provenance(c) | {"code_sha256": "0"}
    )
    with pytest.raises(
        ValueError,
        match=r"same settings but other code \(differing: "
        r"provenance.code_sha256\)",
    ):
        train.train(cfg, corpora, tmp_path / "run", resume=True, progress=False)


def test_the_code_fingerprint_ignores_docstrings_and_comments(tmp_path, monkeypatch):
    pkg = tmp_path / "wordot"
    (pkg / "train").mkdir(parents=True)
    (pkg / "a.py").write_text('"""Doc."""\n\ndef f(x):\n    """Twice."""\n    return 2 * x\n')
    monkeypatch.setattr(provenance, "_PACKAGE", pkg)
    before = provenance.code_fingerprint(("a.py",))
    (pkg / "a.py").write_text('"""Other doc."""\n\n\ndef f(x):  # a comment\n    return 2 * x\n')
    assert provenance.code_fingerprint(("a.py",)) == before
    (pkg / "a.py").write_text("def f(x):\n    return 3 * x\n")
    assert provenance.code_fingerprint(("a.py",)) != before


def test_two_fresh_runs_are_bit_identical(corpora, tmp_path):
    # the tolerance of a rerun on the same machine and thread count is zero
    cfg = _cfg(max_steps=3)
    for name in ("a", "b"):
        train.train(cfg, corpora, tmp_path / name, progress=False)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in train.read_log(tmp_path / "a")]
    again = [{k: v for k, v in r.items() if k != "seconds"} for r in train.read_log(tmp_path / "b")]
    assert strip == again
    assert _same_weights(tmp_path / "a", tmp_path / "b")


def test_batch_size_must_divide_among_processes(corpora, tmp_path, monkeypatch):
    from accelerate import Accelerator

    monkeypatch.setattr(Accelerator, "num_processes", property(lambda self: 5))
    with pytest.raises(ValueError, match="batch_size 4 does not divide among 5 processes"):
        train.train(_cfg(max_steps=1), corpora, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU, WORLD_SIZE=2 means NCCL")
def test_a_multi_process_launch_that_accelerate_runs_alone_is_refused(
    corpora, tmp_path, monkeypatch
):
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun on CPUs without cpu=True: 1 process each
    with pytest.raises(RuntimeError, match="launched as 2 processes, but accelerate runs each"):
        train.train(_cfg(max_steps=1), corpora, tmp_path / "run", progress=False)


def test_shards_are_disjoint_and_cover_the_batch():
    batch = {"de": (list("abcdef"), list("ABCDEF")), "fr": (list("ghijkl"), list("GHIJKL"))}
    parts = [train.shard(batch, r, 3) for r in range(3)]
    assert parts[1] == {"de": (["b", "e"], ["B", "E"]), "fr": (["h", "k"], ["H", "K"])}
    for lang, (src, en) in batch.items():
        assert sorted(p for part in parts for p in zip(*part[lang], strict=True)) == sorted(
            zip(src, en, strict=True)
        )


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_steps", -5),
        ("max_steps", 0),
        ("epochs", 0),
        ("grad_accum", 0),
        ("batch_size", 0),
        ("lr", float("nan")),
        ("lr", float("inf")),
        ("lr", -1e-3),
        ("checkpoint_every", -1),
        ("keep_checkpoints", -1),
    ],
)
def test_settings_that_would_train_nothing_are_refused(field, value):
    # today: max_steps=-5 and epochs=0 train nothing and save the untrained model as a finished
    # run, grad_accum=0 raises ZeroDivisionError in the loop
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}={re.escape(repr(value))}; it"):
        _cfg(**{field: value})


def test_settings_of_the_wrong_type_are_refused():
    with pytest.raises(TypeError, match=r"TrainConfig\.batch_size must be a whole number"):
        _cfg(batch_size=4.0)
    with pytest.raises(TypeError, match=r"TrainConfig\.lr must be a number"):
        _cfg(lr="3e-3")


def test_unknown_languages_are_refused_listing_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown .*languages code\(s\) \['xx'\]; known: ar, bg, "
    ):
        _cfg(languages=("de", "xx"))
    with pytest.raises(ValueError, match="English is the target side"):
        _cfg(languages=("de", "en"))
    with pytest.raises(ValueError, match="give each code once"):
        _cfg(languages=("de", "de"))
    with pytest.raises(TypeError, match="tuple of codes"):
        _cfg(languages="de")
    assert _cfg(languages=["fr", "de"]).languages == ("fr", "de")


# -- one process per run directory -------------------------------------------------------------


def test_a_second_train_on_a_locked_run_fails_naming_the_holder(corpora, tmp_path, monkeypatch):
    cfg, out = _cfg(max_steps=3), tmp_path / "run"
    real, seen = loop.train_step, {}

    def join_at_step_2(run, batch, step, *args):
        if step == 2 and not seen:
            seen["joined"] = True
            started = time.perf_counter()
            with pytest.raises(train.RunLocked) as err:
                train.train(cfg, corpora, out, resume=True, progress=False)
            seen["error"], seen["seconds"] = str(err.value), time.perf_counter() - started
        return real(run, batch, step, *args)

    monkeypatch.setattr(loop, "train_step", join_at_step_2)
    train.train(cfg, corpora, out, progress=False)
    holder = f"is being trained by process {os.getpid()} on host {socket.gethostname()}"
    assert holder in seen["error"] and seen["seconds"] < 5, seen
    assert [r["step"] for r in train.read_log(out)] == [1, 2, 3]  # each step trained once


_SLOW_TRAINER = """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import test_train as T
    from wordot import data, train
    from wordot.train import loop, provenance

    real = loop.train_step
    def slow(*args):
        time.sleep(0.5)
        return real(*args)
    loop.train_step = slow
    corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
    train.train(T._kill_cfg(), corpora, sys.argv[2], progress=False)
"""


def _kill_cfg():
    return _cfg(max_steps=8, checkpoint_every=1)


def test_a_killed_trainer_leaves_no_stale_lock(corpora, tmp_path):
    script, out = tmp_path / "trainer.py", tmp_path / "run"
    script.write_text(textwrap.dedent(_SLOW_TRAINER))
    env = os.environ | {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, str(script), str(Path(__file__).parent), str(out)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoints" / "step-2" / "state.json").exists():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the trainer made no checkpoint in 120 s"
            time.sleep(0.1)
        with pytest.raises(train.RunLocked, match=f"by process {proc.pid} on host "):
            train.train(_kill_cfg(), corpora, out, resume=True, progress=False)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    summary = train.train(_kill_cfg(), corpora, out, resume=True, progress=False)
    assert summary["resumed_from"] >= 2 and summary["steps"] == 8
    assert [r["step"] for r in train.read_log(out)] == list(range(1, 9))


# -- damaged run files -------------------------------------------------------------------------


def _crash_cfg():
    return _cfg(max_steps=6, grad_accum=2, checkpoint_every=1, dropout=True)


@pytest.fixture(scope="module")
def crashed(corpora, tmp_path_factory):
    """``full``: an uninterrupted run; ``cut``: the same run killed in step 5, with checkpoints
    after steps 2 and 4 (every test works on a copy)."""
    root = tmp_path_factory.mktemp("crashed")
    train.train(_crash_cfg(), corpora, root / "full", progress=False)
    real, calls = loop._group_loss, {"n": 0}

    def crash_in_step_5(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4 * 2:  # steps 1-4 of 2 languages done
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "_group_loss", crash_in_step_5)
        with pytest.raises(KeyboardInterrupt):
            train.train(_crash_cfg(), corpora, root / "cut", progress=False)
    return root


def _copy(crashed, name, tmp_path):
    return Path(shutil.copytree(crashed / name, tmp_path / name))


def _same_weights(a, b):
    wa, wb = _weights(a / "model"), _weights(b / "model")
    return all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_corrupt_checkpoint_gives_way_to_the_one_before(corpora, crashed, tmp_path):
    cut = _copy(crashed, "cut", tmp_path)
    step_2, step_4 = (cut / "checkpoints" / f"step-{k}" for k in (2, 4))
    weights = step_4 / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # today: SafetensorError, no path
    said = (
        rf"could not load {re.escape(str(step_4))} \(.+\); resuming from {re.escape(str(step_2))}"
    )
    with pytest.warns(UserWarning, match=said):
        summary = train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    assert summary["resumed_from"] == 2 and summary["steps"] == 6
    assert _same_weights(crashed / "full", cut), "resumed weights differ"
    assert [r["step"] for r in train.read_log(cut)] == [2, 4, 6]


def test_no_loadable_checkpoint_says_how_to_restart(corpora, crashed, tmp_path):
    cut = _copy(crashed, "cut", tmp_path)
    for k in (2, 4):
        (cut / "checkpoints" / f"step-{k}" / "model.safetensors").write_bytes(b"\0" * 100)
    with pytest.raises(CorruptFileError, match=r"no checkpoint of .+ can be loaded: .+step-4 .+"):
        train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    with pytest.raises(CorruptFileError, match=r"step-2 .+ To restart from step 0: delete "):
        train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    assert not (cut / "summary.json").exists()
    shutil.rmtree(cut / "checkpoints")  # as the error says
    summary = train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    assert summary["resumed_from"] == 0 and _same_weights(crashed / "full", cut)


def test_a_record_torn_by_a_crash_is_cut_off_the_log(corpora, crashed, tmp_path):
    cut = _copy(crashed, "cut", tmp_path)
    with (cut / "log.jsonl").open("a") as fh:
        fh.write('{"step": 5, "upd')  # today: "corrupt file", resume impossible
    with pytest.warns(UserWarning, match=r"log\.jsonl: cut off a partial last line .+upd"):
        summary = train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    assert summary["resumed_from"] == 4 and _same_weights(crashed / "full", cut)
    assert [r["step"] for r in train.read_log(cut)] == [2, 4, 6]


def test_checkpoint_and_summary_steps_beyond_the_plan_are_refused(corpora, crashed, tmp_path):
    # today each of these gives a run that looks finished, with the checkpoint's weights
    cut = _copy(crashed, "cut", tmp_path)
    (cut / "checkpoints" / "step-4" / "state.json").write_text('{"step": 99}')
    with pytest.raises(CorruptFileError, match=r"step-4/state\.json says step 99, not 4"):
        train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    (cut / "checkpoints" / "step-4").rename(cut / "checkpoints" / "step-99")
    beyond = r"step-99/state\.json: a checkpoint after step 99, but this run has 6 steps"
    with pytest.raises(ValueError, match=beyond):
        train.train(_crash_cfg(), corpora, cut, resume=True, progress=False)
    assert not (cut / "summary.json").exists() and not (cut / "model").exists()
    full = _copy(crashed, "full", tmp_path)
    (full / "summary.json").write_text('{"steps": 99}')
    with pytest.raises(ValueError, match=r"summary\.json says the run made 99 steps, but this"):
        train.train(_crash_cfg(), corpora, full, resume=True, progress=False)


def test_corrupt_config_and_summary_are_named_with_a_way_out(corpora, crashed, tmp_path):
    full = _copy(crashed, "full", tmp_path)
    (full / "summary.json").write_text('{"steps": 6, "upd')
    with pytest.raises(CorruptFileError, match=r"summary\.json: .+continued from its last"):
        train.train(_crash_cfg(), corpora, full, resume=True, progress=False)
    (full / "summary.json").unlink()  # as the error says
    summary = train.train(_crash_cfg(), corpora, full, resume=True, progress=False)
    assert summary["resumed_from"] == 4 and _same_weights(crashed / "full", full)
    (full / "config.json").write_text('{"lr": 0.0')
    with pytest.raises(CorruptFileError, match=r"corrupt file .+config\.json: .+Delete the run"):
        train.train(_crash_cfg(), corpora, full, resume=True, progress=False)


# -- several processes -------------------------------------------------------------------------


def _tiny_with_pooler():
    """The tiny encoder with a BERT pooler: run by the model, never read by the loss."""
    from transformers.models.bert.modeling_bert import BertPooler

    model, tok = load_encoder("tiny")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model.pooler = BertPooler(model.config)
    return model, tok


def test_parameters_the_loss_cannot_reach_are_frozen():
    model, tok = _tiny_with_pooler()
    pooler = {"pooler.dense.weight", "pooler.dense.bias"}
    assert set(loop.freeze_unreachable(model, tok, "A cat.", EmbedConfig())) == pooler
    model, tok = _tiny_with_pooler()  # word vectors from layer 1 of 2: layer 2 is unreachable
    model.train(True)
    frozen = set(loop.freeze_unreachable(model, tok, "A cat.", EmbedConfig(layer=1)))
    assert frozen == pooler | {n for n, _ in model.named_parameters() if ".layer.1." in n}
    assert not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)
    assert all(p.requires_grad for n, p in model.named_parameters() if n not in frozen)
    assert model.training  # the probe ran in eval mode and restored the mode


def _ddp_cfg():
    # 3 steps of 2 languages, an update every 2 steps: the second, partial one after step 3;
    # drift penalty on (lam = 1), which the shards reweight to the global batch's words
    return _cfg(max_steps=3, grad_accum=2, checkpoint_every=1, cpu=True)


_WORKER = """
    import json, sys
    from pathlib import Path

    import accelerate
    import torch
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

    sys.path.insert(0, sys.argv[1])
    import test_train as T
    from wordot import data, train
    from wordot.train import loop, provenance

    out = Path(sys.argv[2])
    corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
    shards, reductions = [], {}

    real_group_loss = loop._group_loss
    def recording_group_loss(model, targets, tokenizer, batch, langs, *rest):
        shards.append({lang: batch[lang] for lang in langs})
        return real_group_loss(model, targets, tokenizer, batch, langs, *rest)
    loop._group_loss = recording_group_loss

    real_prepare = accelerate.Accelerator.prepare
    def counting_prepare(self, *objs):  # count every parameter's gradient all-reduces
        model, opt = real_prepare(self, *objs)
        names = {id(p): n for n, p in model.module.named_parameters()}
        def hook(state, bucket):
            for p in bucket.parameters():
                reductions[names[id(p)]] = reductions.get(names[id(p)], 0) + 1
            return default_hooks.allreduce_hook(None, bucket)
        model.register_comm_hook(None, hook)
        return model, opt
    accelerate.Accelerator.prepare = counting_prepare

    model, tok = T._tiny_with_pooler()
    summary = train.train(T._ddp_cfg(), corpora, out / "ddp", model=model, tokenizer=tok,
                          progress=False)
    rank = torch.distributed.get_rank()
    torch.save(model.state_dict(), out / f"weights-{rank}.pt")
    accelerate.Accelerator.prepare = real_prepare
    loop._group_loss = real_group_loss

    real_loss = loop.wordot_loss
    def nan_on_rank_1(src, en, en_init, cfg):
        parts = real_loss(src, en, en_init, cfg)
        if rank == 1:
            parts.total = parts.total * float("nan")
        return parts
    loop.wordot_loss = nan_on_rank_1
    try:
        train.train(T._cfg(max_steps=2, cpu=True), corpora, out / "nan", progress=False)
        error = None
    except train.NonFiniteLoss as err:
        error = str(err)
    report = {"shards": shards, "reductions": reductions, "summary": summary, "error": error}
    (out / f"rank-{rank}.json").write_text(json.dumps(report))
"""


def _launch(script: Path, out: Path, timeout: float = 240.0, *, ok: bool = True) -> str:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = os.environ | {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [*cmd, str(script), str(Path(__file__).parent), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # the workers run in sessions of their own: torchrun stops them when it is terminated
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate(timeout=60)
        pytest.fail(f"2-process training hung (deadlock?) for {timeout} s:\n{output[-3000:]}")
    assert (proc.returncode == 0) == ok, output[-3000:]
    return output


def test_two_processes_split_the_global_batch_and_match_one(corpora, tmp_path):
    """2 CPU processes (gloo, torchrun) against one process on the same global batch."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_WORKER))
    _launch(script, tmp_path)
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    cfg = _ddp_cfg()

    # every rank computed its half of every language's global batch, the halves disjoint
    batches = itertools.islice(data.language_batches(corpora, cfg.batch_size, seed=cfg.seed), 3)
    calls = [(b, lang) for b in batches for lang in cfg.languages]
    assert [len(r["shards"]) for r in ranks] == [len(calls)] * 2
    for i, (batch, lang) in enumerate(calls):
        halves = [set(zip(*r["shards"][i][lang], strict=True)) for r in ranks]
        assert len(halves[0]) == len(halves[1]) == cfg.batch_size // 2
        assert not halves[0] & halves[1]
        assert halves[0] | halves[1] == set(zip(*batch[lang], strict=True))

    # gradients are all-reduced exactly once per update (2 updates: after steps 2 and 3), and
    # the pooler, which gets no gradient, is frozen instead of breaking DDP
    assert ranks[0]["reductions"] == ranks[1]["reductions"]
    assert set(ranks[0]["reductions"].values()) == {2}
    assert not any(k.startswith("pooler.") for k in ranks[0]["reductions"])
    assert ranks[0]["summary"]["updates"] == 2 and ranks[0]["summary"]["steps"] == 3
    assert (tmp_path / "ddp" / "checkpoints" / "step-2" / "state.json").exists()

    # a NaN on one rank stops both (no deadlock: the launch above returned), each naming it
    assert "loss is nan at step 1 (language de)" in ranks[1]["error"]
    assert "non-finite word vectors or loss on process(es) [1]" in ranks[0]["error"]
    assert "at step 1 (language de)" in ranks[0]["error"]

    # both ranks hold the same weights, and they are the one-process run's
    w0, w1 = (torch.load(tmp_path / f"weights-{r}.pt") for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    model, tok = _tiny_with_pooler()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    one = train.train(cfg, corpora, tmp_path / "one", model=model, tokenizer=tok, progress=False)
    w = model.state_dict()
    # The same loss: sentence-scope S_eps is a mean over pairs, so with equal shards the mean
    # of the shards' means is the global mean, and the drift penalty (a mean over English
    # words, unequal between shards) is reweighted by each shard's share of the words. So the
    # averaged gradient is the global one up to float32 rounding and the Sinkhorn tolerance
    # (each shard's problems stop at tol on their own). But Adam's first steps are about
    # lr * sign(gradient) per weight, so a weight whose gradient is at that noise level can
    # move by a whole lr either way: we compare the update as a whole (relative L2, measured
    # ~0.5%) rather than weight by weight.
    diff = sum(((w0[k] - w[k]) ** 2).sum() for k in init)
    update = sum(((w[k] - init[k]) ** 2).sum() for k in init)
    assert update > 0 and (diff / update).sqrt() < 0.05, (diff / update).sqrt()
    pooler = [k for k in init if k.startswith("pooler.")]
    assert pooler and all(torch.equal(w0[k], init[k]) for k in pooler)
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "ddp" / "model" / "model.safetensors")
    assert all(torch.equal(saved[k], init[k]) for k in pooler), "the pooler must be saved"

    # the logged loss is the global batch's: the first record (steps 1-2, before any update)
    # agrees to rounding, the second (after one update) as closely as the weights do
    logs = [train.read_log(tmp_path / d) for d in ("ddp", "one")]
    assert [r["step"] for r in logs[0]] == [r["step"] for r in logs[1]] == [2, 3]
    for key in ("loss", "ot/de", "reg/fr", "loss/fr"):
        assert logs[0][0][key] == pytest.approx(logs[1][0][key], rel=1e-5, abs=1e-5), key
        assert logs[0][1][key] == pytest.approx(logs[1][1][key], rel=1e-3), key
    assert ranks[0]["summary"]["first_loss"] == pytest.approx(one["first_loss"], rel=1e-5)


_FAILING_WORKER = """
    import json, os, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    import test_train as T
    from wordot import data, train
    from wordot.paths import write_json
    from wordot.train import loop, provenance

    out = Path(sys.argv[2])
    rank = int(os.environ["RANK"])
    corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
    report = {}

    def attempt(case):
        try:
            train.train(T._cfg(max_steps=4, cpu=True), corpora, out / case, progress=False)
            report[case] = {"error": None}
        except Exception as err:
            report[case] = {"error": f"{type(err).__name__}: {err}"}
        report[case]["at"] = time.time()
        write_json(out / f"rank-{rank}.json", report)

    def linger(case):  # a failed process that lives on (a notebook, a stuck teardown)
        deadline = time.time() + 60
        other = out / f"rank-{1 - rank}.json"
        while time.time() < deadline:
            if other.exists() and case in json.loads(other.read_text()):
                return
            time.sleep(0.1)

    attempt("locked")  # the test holds the lock of this one

    real_step, real_embed, step_now = loop.train_step, loop.embed_words, {}
    def tracking_step(run, batch, step, *args):
        step_now["step"] = step
        return real_step(run, batch, step, *args)
    def failing_embed(*args, **kwargs):  # a data error or OOM of rank 1 in step 2's forward
        if rank == 1 and step_now.get("step") == 2:
            raise RuntimeError("injected failure on rank 1 in step 2")
        return real_embed(*args, **kwargs)
    loop.train_step, loop.embed_words = tracking_step, failing_embed
    attempt("forward")
    linger("forward")
    loop.embed_words = real_embed

    real_loss = loop.wordot_loss
    def failing_backward(src, en, en_init, cfg):  # an OOM in the last backward of an update
        parts = real_loss(src, en, en_init, cfg)
        if rank == 1 and step_now["step"] == 2 and "fr" in src:
            def boom(grad):
                raise RuntimeError("injected failure on rank 1 in step 2's backward")
            parts.ot["fr"].register_hook(boom)  # (the total is recomputed by reweighting)
        return parts
    loop.wordot_loss = failing_backward
    attempt("backward")
    linger("backward")
    sys.exit(1)
"""


def test_an_error_on_one_process_stops_all_of_them(tmp_path):
    """Rank 1 fails and lives on; rank 0 stops within seconds, naming rank 1's error."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_FAILING_WORKER))
    with run_lock(tmp_path / "locked"):
        started = time.monotonic()
        output = _launch(script, tmp_path, timeout=180, ok=False)
    assert time.monotonic() - started < 120, output[-3000:]
    assert set(re.findall(r"rank +: (\d)", output)) == {"0", "1"}, output[-3000:]  # both failed
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]

    # a locked run directory: the main process names the holder, the other process stops too
    holder = f"by process {os.getpid()} on host {socket.gethostname()}"
    assert (
        ranks[0]["locked"]["error"].startswith("RunLocked: ")
        and holder in ranks[0]["locked"]["error"]
    )
    assert ranks[1]["locked"]["error"].startswith("ProcessFailed: process 0 failed: RunLocked: ")

    # an error between collective calls, on rank 1 only: rank 0 raises at its next status check
    # (without the check it waited for rank 1 until the backend's 30-minute timeout)
    injected = "RuntimeError: injected failure on rank 1 in step 2"
    assert ranks[1]["forward"]["error"].startswith(injected)
    assert ranks[0]["forward"]["error"].startswith(f"ProcessFailed: process 1 failed: {injected}")
    if sys.version_info >= (3, 11):  # the step and language, as a note
        assert "at step 2 (language de)" in ranks[0]["forward"]["error"]
    assert abs(ranks[0]["forward"]["at"] - ranks[1]["forward"]["at"]) < 20

    # an error in the backward pass of the update's last step, before DDP averages gradients
    assert ranks[1]["backward"]["error"].startswith(f"{injected}'s backward")
    failed = f"ProcessFailed: process 1 failed: {injected}'s backward"
    assert ranks[0]["backward"]["error"].startswith(failed)
    assert abs(ranks[0]["backward"]["at"] - ranks[1]["backward"]["at"]) < 20


def test_a_snapshot_is_the_model_of_a_run_stopped_there(corpora, tmp_path):
    # constant learning rate: the model after step 3 of a 6-step run is the 3-step run's model
    train.train(_cfg(max_steps=6, snapshot_steps=(3,)), corpora, tmp_path / "long", progress=False)
    train.train(_cfg(max_steps=3), corpora, tmp_path / "short", progress=False)
    snap = train.files.snapshot_dir(tmp_path / "long", 3)
    assert sorted(p.name for p in snap.parent.iterdir()) == ["step-3"]
    same = {
        k: torch.equal(v, _weights(tmp_path / "short" / "model")[k])
        for k, v in _weights(snap).items()
    }
    assert all(same.values())
    final = _weights(tmp_path / "long" / "model")
    assert not all(torch.equal(v, final[k]) for k, v in _weights(snap).items())
    with pytest.raises(ValueError, match="snapshot_steps.*below max_steps=6"):
        _cfg(max_steps=6, snapshot_steps=(6,))
    with pytest.raises(ValueError, match="step 3 ends no optimiser update"):
        _cfg(max_steps=6, grad_accum=2, snapshot_steps=(3,))
