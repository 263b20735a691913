"""The speed options of training: bfloat16 autocast only where the CPU multiplies it natively,
the OT loss in float32 under it, length-bucketed batches, and cached drift targets that equal
what every step would compute."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from wordot import data, precision, train
from wordot.data.prepare import bucketed_order, language_batches
from wordot.embed import EmbedConfig, WordEmbeddings, embed_words
from wordot.loss import LossConfig, alignment_divergence, drift
from wordot.models import load_encoder
from wordot.train.targets import InitialEnglish


def test_cpuinfo_flags_are_read(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_bf16 amx_tile\n\nflags : x\n")
    flags = precision.cpu_flags(str(info))
    assert {"avx2", "amx_bf16"} <= flags and "x" not in flags
    assert precision.cpu_bf16_supported(flags)
    assert not precision.cpu_bf16_supported(frozenset({"avx2", "fma"}))
    assert precision.cpu_flags(str(tmp_path / "absent")) == frozenset()


@pytest.mark.parametrize(("flags", "expected"), [({"avx512_bf16"}, "bf16"), ({"avx2"}, "no")])
def test_auto_precision_follows_the_cpu(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert precision.resolve_mixed_precision("auto", cpu=True) == expected
    assert precision.resolve_mixed_precision("no", cpu=True) == "no"  # the flag to turn it off
    with pytest.raises(ValueError, match="mixed_precision='half'.*auto"):
        precision.resolve_mixed_precision("half", cpu=True)


def test_ot_loss_runs_in_float32_on_bfloat16_vectors():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=g).bfloat16()
    y = torch.randn(3, 6, 8, generator=g).bfloat16()
    mx, my = torch.ones(3, 5, dtype=torch.bool), torch.ones(3, 6, dtype=torch.bool)
    mx[0, 3:] = False
    src, en = WordEmbeddings(x, mx, [[]] * 3), WordEmbeddings(y, my, [[]] * 3)
    assert src.weights.dtype == torch.float32 and torch.allclose(
        src.weights[0, :3], torch.tensor(1 / 3)
    )
    cfg = LossConfig(eps=0.1, tol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = alignment_divergence(src, en, cfg)
    ref = alignment_divergence(
        WordEmbeddings(x.float(), mx, [[]] * 3), WordEmbeddings(y.float(), my, [[]] * 3), cfg
    )
    assert low.dtype == torch.float32
    assert torch.allclose(low, ref, rtol=1e-6, atol=1e-7), (low, ref)
    d = drift(en, WordEmbeddings(y.float() + 0.5, my, [[]] * 3))
    assert d.dtype == torch.float32 and torch.isclose(d, torch.tensor(8 * 0.25))


def _corpus(lengths):
    src = ["x" * n for n in lengths]
    return data.ParallelCorpus("de", src, ["y" * (n // 2 + 1) for n in lengths])


def test_unbucketed_order_is_the_plain_permutation():
    corpus = _corpus(range(1, 41))
    plain = bucketed_order(corpus, 40, 4, 0, 3, "de", 1)
    assert np.array_equal(plain, data.prepare.seeded_rng(3, "de", "epoch", 1).permutation(40))


def test_buckets_cut_padding_and_keep_every_pair_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, size=203).tolist()
    corpus, batch = _corpus(lengths), 8
    n = 203 // batch * batch
    order = bucketed_order(corpus, n, batch, 10, 0, "de", 0)
    assert sorted(order.tolist()) == list(range(203))  # a permutation
    per_batch = np.array(lengths)[order[:n]].reshape(-1, batch)
    plain = np.array(lengths)[bucketed_order(corpus, n, batch, 0, 0, "de", 0)[:n]].reshape(
        -1, batch
    )
    padded = (per_batch.max(1, keepdims=True) - per_batch).sum()
    padded_plain = (plain.max(1, keepdims=True) - plain).sum()
    assert padded < 0.35 * padded_plain, (padded, padded_plain)
    # batch order is shuffled, not sorted by length across the epoch
    assert not np.all(np.diff(per_batch.max(1)) <= 0)


def test_bucketed_batches_resume_exactly_and_do_not_repeat_pairs():
    corpora = {"de": data.smoke_corpus("de"), "fr": data.smoke_corpus("fr")}
    full = list(language_batches(corpora, 4, seed=1, epochs=2, bucket=3))
    tail = list(language_batches(corpora, 4, seed=1, epochs=2, bucket=3, start_step=5))
    assert tail == full[5:]
    spe = data.steps_per_epoch(corpora, 4)
    first_epoch = [s for b in full[:spe] for s in b["de"][0]]
    assert len(first_epoch) == len(set(first_epoch)) == spe * 4


def test_cached_targets_equal_what_each_step_computes():
    model, tok = load_encoder("tiny")
    model.eval()
    cfg = EmbedConfig()
    en = data.smoke_corpus("de").en[:10]
    cache = InitialEnglish(model, tok, cfg, cache=True)
    first = cache(en[:6])
    again = cache(en[3:10])  # three seen, four new
    assert cache.computed == 10 and len(cache) == 10
    with torch.no_grad():
        direct = embed_words(model, tok, en[3:10], "en", cfg)
    assert again.vectors.shape == direct.vectors.shape
    assert torch.equal(again.mask, direct.mask) and again.words == direct.words
    assert torch.allclose(again.vectors, direct.vectors, atol=1e-5)
    n = min(first.vectors.shape[1], direct.vectors.shape[1])  # the rows seen in both calls
    assert torch.allclose(first.vectors[3:, :n], direct.vectors[:3, :n], atol=1e-5)
    plain = InitialEnglish(model, tok, cfg)
    plain(en[:4]), plain(en[:4])
    assert plain.computed == 8 and len(plain) == 0


def _cfg(**kw):
    base = dict(
        encoder="tiny",
        languages=("de", "fr"),
        batch_size=4,
        lr=3e-3,
        epochs=2,
        max_steps=12,
        loss=LossConfig(eps=0.05, cost="sqeuclidean", lam=1.0, tol=1e-4),
        checkpoint_every=0,
    )
    return train.TrainConfig(**base | kw)


def test_cached_targets_train_the_same_run(tmp_path):
    corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
    plain = train.train(_cfg(), corpora, tmp_path / "plain", progress=False)
    cached = train.train(_cfg(cache_targets=True), corpora, tmp_path / "cached", progress=False)
    a, b = (train.read_log(tmp_path / n) for n in ("plain", "cached"))
    for ra, rb in zip(a, b, strict=True):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-4)
    # 12 steps of 4 pairs x 2 languages; an epoch is 10 steps, so the cache has seen every
    # English sentence (shared by de and fr) before the second epoch starts
    assert data.steps_per_epoch(corpora, 4) == 10
    assert plain["targets_computed"] == 12 * 4 * 2
    assert cached["targets_computed"] == len(set(corpora["de"].en) | set(corpora["fr"].en))
    assert plain["mixed_precision"] == "no"


def test_bucketed_training_lowers_the_loss(tmp_path):
    # per-batch losses differ with the batch's lengths: compare whole epochs (the same pairs)
    corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
    cfg = _cfg(bucket_by_length=True, max_steps=20)
    train.train(cfg, corpora, tmp_path / "r", progress=False)
    log = train.read_log(tmp_path / "r")
    first, second = (sum(r["loss"] for r in log[e * 10 : (e + 1) * 10]) for e in (0, 1))
    assert second < 0.8 * first, (first, second)


BF16_RUN = """
import json, sys
from wordot import data, train
from wordot.loss import LossConfig
corpora = {k: data.smoke_corpus(k) for k in ("de", "fr")}
cfg = train.TrainConfig(encoder="tiny", languages=("de", "fr"), batch_size=4, lr=3e-3,
    max_steps=3, loss=LossConfig(eps=0.05, cost="sqeuclidean", tol=1e-4), checkpoint_every=0,
    mixed_precision=sys.argv[1], cpu=True)
summary = train.train(cfg, corpora, sys.argv[2], progress=False)
print(json.dumps({k: summary[k] for k in ("mixed_precision", "first_loss", "last_loss")}))
"""


def test_a_bf16_run_trains_with_the_loss_in_float32(tmp_path):
    # an Accelerator fixes its precision for the life of a process: one process per run
    out = {}
    for mode in ("no", "bf16"):
        done = subprocess.run(
            [sys.executable, "-c", BF16_RUN, mode, str(tmp_path / mode)],
            capture_output=True,
            text=True,
            check=False,
            env=os.environ | {"OMP_NUM_THREADS": "1"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["bf16"]["mixed_precision"] == "bf16" and out["no"]["mixed_precision"] == "no"
    # bfloat16 keeps ~3 significant digits in the encoder; the losses agree to a few percent
    assert out["bf16"]["first_loss"] == pytest.approx(out["no"]["first_loss"], rel=0.05)
    assert out["bf16"]["first_loss"] != out["no"]["first_loss"]  # autocast did act
    assert out["bf16"]["last_loss"] < out["bf16"]["first_loss"]
