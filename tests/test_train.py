"""WordOT fine-tuning: the loss falls, runs resume exactly, NaN stops with a name, files land."""

import json

import pytest
import torch

from wordot import data, train
from wordot.loss import LossConfig
from wordot.models import load_encoder


@pytest.fixture(scope="module")
def corpora():
    return {k: data.smoke_corpus(k) for k in ("de", "fr")}


def _cfg(**kw):
    base = dict(
        encoder="tiny",
        languages=("de", "fr"),
        batch_size=4,
        grad_accum=1,
        lr=3e-3,
        loss=LossConfig(eps=0.05, lam=1.0, solver={"tol": 1e-4}),
        checkpoint_every=0,
        dropout=False,
        seed=0,
    )
    base.update(kw)
    return train.TrainConfig(**base)


def _weights(path):
    model, _ = load_encoder(str(path))
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_falls_and_run_files_are_written(corpora, tmp_path):
    summary = train.train(_cfg(max_steps=12, epochs=2), corpora, tmp_path / "run", progress=False)
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

    real = train._group_loss
    calls = {"n": 0}

    def crash_at_step_5(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4 * len(cfg.languages):  # steps 1-4 done, die inside step 5
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "_group_loss", crash_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, corpora, tmp_path / "cut", progress=False)
    monkeypatch.setattr(train, "_group_loss", real)
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

    monkeypatch.setattr(train, "wordot_loss", nan_loss)
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
