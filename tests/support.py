"""Helpers shared by the test modules (imported as ``support``; pytest puts tests/ on the path)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def eval_data() -> Path | None:
    """The shared evaluation data: ``$WORDOT_DATA``, else ``<repo>/../shared/eval-data``."""
    for candidate in (os.environ.get("WORDOT_DATA"), ROOT.parent / "shared" / "eval-data"):
        if candidate and (Path(candidate) / "README.md").is_file():
            return Path(candidate)
    return None


EVAL_DATA = eval_data()
needs_eval_data = pytest.mark.skipif(
    EVAL_DATA is None, reason="real evaluation data absent (../shared/eval-data or $WORDOT_DATA)"
)


def interrupt_training(monkeypatch, after_groups: int) -> None:
    """Make :mod:`wordot.train.loop` raise KeyboardInterrupt ("power cut") at the loss of the
    ``after_groups + 1``-th language group, as a kill inside that step would."""
    from wordot.train import loop

    real = loop._group_loss
    calls = {"n": 0}

    def cut(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after_groups:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_group_loss", cut)


def tiny_train_config(**kw):
    """A TrainConfig on the tiny encoder and the de/fr smoke corpora, updated by ``kw``."""
    from wordot import train
    from wordot.loss import LossConfig

    base = dict(
        encoder="tiny",
        languages=("de", "fr"),
        batch_size=4,
        grad_accum=1,
        lr=3e-3,
        loss=LossConfig(eps=0.05, lam=1.0, tol=1e-4),
        checkpoint_every=0,
        dropout=False,
        seed=0,
    )
    return train.TrainConfig(**(base | kw))
