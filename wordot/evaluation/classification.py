"""Zero-shot classification with a frozen encoder: the offline stand-in for XNLI.

A Debian package's section group is predicted from its description by a softmax-regression
probe (:func:`fit_probe`) trained on English features only and tested on de/fr/es/ru/zh
(:func:`zero_shot_classification`). The encoder stays *frozen*: this measures how well the
representation itself transfers across languages, which is what alignment changes, not what full
task fine-tuning (the paper's XNLI protocol) would reach.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import corpora
from .common import EvalSizes, check_language
from .features import FeatureCache, cached_vectors, make_feature_cache

__all__ = ["WEIGHT_DECAYS", "Probe", "fit_probe", "zero_shot_classification"]

#: weight decays tried by :func:`fit_probe`, chosen on the English dev set
WEIGHT_DECAYS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class Probe:
    """Softmax regression on standardised features: ``logits = ((X - mean) / std) @ W + b``.

    ``W: (D, C)``, ``b: (C,)``, ``mean``/``std: (D,)`` from the training features.
    """

    W: Tensor
    b: Tensor
    mean: Tensor
    std: Tensor
    weight_decay: float
    dev_accuracy: float | None = None

    def logits(self, X: Tensor) -> Tensor:
        """``(N, D) -> (N, C)``."""
        return ((X.double() - self.mean) / self.std) @ self.W + self.b

    def predict(self, X: Tensor) -> Tensor:
        """Class indices ``(N,)``."""
        return self.logits(X).argmax(1)

    def accuracy(self, X: Tensor, y: Tensor) -> float:
        """Share of the rows of ``X: (N, D)`` predicted as ``y: (N,)``."""
        return (self.predict(X) == y).double().mean().item()


def _fit_one(
    Z: Tensor, y: Tensor, n_classes: int, weight_decay: float, max_iter: int
) -> tuple[Tensor, Tensor]:
    """Full-batch L-BFGS on mean cross-entropy + ``weight_decay / 2 * |W|^2`` from zeros."""
    W = torch.zeros(Z.shape[1], n_classes, dtype=Z.dtype, requires_grad=True)
    b = torch.zeros(n_classes, dtype=Z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS(
        [W, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(Z @ W + b, y) + 0.5 * weight_decay * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def fit_probe(
    X_train: Tensor,
    y_train: Tensor,
    X_dev: Tensor,
    y_dev: Tensor,
    n_classes: int,
    *,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    max_iter: int = 200,
) -> Probe:
    """Softmax regression ``(N, D) -> C`` classes; the weight decay with the best dev accuracy
    (ties: the larger decay) is kept. Deterministic: float64, zero init, full batch, no
    sampling, so the same features give the same probe."""
    if X_train.shape[0] == 0 or X_dev.shape[0] == 0:
        raise ValueError("empty training or dev features")
    if X_train.shape[0] != y_train.shape[0] or X_dev.shape[0] != y_dev.shape[0]:
        raise ValueError(
            f"mismatched counts: {X_train.shape[0]} vs {y_train.shape[0]} training labels, "
            f"{X_dev.shape[0]} vs {y_dev.shape[0]} dev labels"
        )
    if not weight_decays:
        raise ValueError("no weight decay to try")
    X = X_train.double()
    mean, std = X.mean(0), X.std(0).clamp_min(1e-6)
    Z = (X - mean) / std
    best: Probe | None = None
    with torch.enable_grad():
        for wd in sorted(weight_decays):
            W, b = _fit_one(Z, y_train.long(), n_classes, float(wd), max_iter)
            probe = Probe(W, b, mean, std, float(wd))
            probe.dev_accuracy = probe.accuracy(X_dev, y_dev.long())
            if best is None or probe.dev_accuracy >= best.dev_accuracy:
                best = probe
    assert best is not None
    return best


def _subset(rows: list[tuple[str, str]], n: int | None, seed: int) -> list[tuple[str, str]]:
    if n is None or n >= len(rows):
        return rows
    idx = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in idx]


def zero_shot_classification(
    model,
    tokenizer,
    langs: Sequence[str],
    *,
    sizes: EvalSizes = EvalSizes(),
    seed: int = 0,
    prefix: str = "",
    feature_cache: str | Path | FeatureCache | None = None,
    corpora_dir: str | Path | None = None,
    weight_decays: Sequence[float] = WEIGHT_DECAYS,
    progress: bool = True,
) -> dict[str, Any]:
    """Package-section classification, trained on English, tested zero-shot on ``langs``.

    Each description becomes its mean-pooled last hidden state (first ``sizes.cls_max_length``
    tokens: the synopsis and the opening sentence), and a softmax-regression probe
    (:func:`fit_probe`) is trained on English train features with the weight decay chosen on
    English dev. ``sizes.cls_train``/``cls_dev``/``cls_test`` cap each split (a seeded random
    subset; None = all); the data are :func:`wordot.corpora.load_sections` of ``corpora_dir``
    (default: the corpora cache). ``feature_cache`` (a directory or
    :class:`~wordot.evaluation.features.FeatureCache`) keeps features per model fingerprint and
    text set, so the frozen "before" model is encoded once across seeds and runs.

    Returns accuracies ``acc/en`` (English test) and ``acc/<lang>``, the transfer gap
    ``gap/<lang>`` = acc/en - acc/<lang> (note: over different items: the translated
    descriptions are a subset of packages), ``n/<lang>``, the majority-class accuracy
    ``majority/<lang>``, the chosen ``weight_decay``, ``dev_acc`` and ``train_n``.
    """
    if not langs:
        raise ValueError("no language given")
    for lang in langs:
        check_language(lang)
    labels = corpora.section_labels(cache=corpora_dir)
    index = {label: k for k, label in enumerate(labels)}
    fc = make_feature_cache(model, feature_cache)

    def features(rows: list[tuple[str, str]], desc: str) -> tuple[Tensor, Tensor]:
        texts = [t for t, _ in rows]
        X = cached_vectors(
            model,
            tokenizer,
            texts,
            cache=fc,
            prefix=prefix,
            max_length=sizes.cls_max_length,
            batch_size=sizes.batch_size,
            progress=progress,
            desc=desc,
        )
        return X, torch.tensor([index[label] for _, label in rows])

    def split(lang: str, name: str, n: int | None, k: int) -> list[tuple[str, str]]:
        return _subset(corpora.load_sections(lang, name, cache=corpora_dir), n, seed + k)

    train, dev = split("en", "train", sizes.cls_train, 0), split("en", "dev", sizes.cls_dev, 1)
    Xtr, ytr = features(train, "cls en train")
    Xdv, ydv = features(dev, "cls en dev")
    probe = fit_probe(Xtr, ytr, Xdv, ydv, len(labels), weight_decays=weight_decays)
    majority = int(torch.bincount(ytr, minlength=len(labels)).argmax())
    out: dict[str, Any] = {
        "train_n": len(train),
        "dev_acc": probe.dev_accuracy,
        "weight_decay": probe.weight_decay,
    }
    for lang in ["en", *langs]:
        rows = split(lang, "test", sizes.cls_test, 2)
        X, y = features(rows, f"cls {lang} test")
        out[f"acc/{lang}"] = probe.accuracy(X, y)
        out[f"n/{lang}"] = len(rows)
        out[f"majority/{lang}"] = (y == majority).double().mean().item()
        if lang != "en":
            out[f"gap/{lang}"] = out["acc/en"] - out[f"acc/{lang}"]
    return out
