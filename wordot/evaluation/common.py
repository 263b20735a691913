"""What every evaluation shares: the languages a record may name, held-out pairs, the sizes of
the evaluation sets, and a frozen encoder.

English is always the other side of a pair; a record names its source languages, which must be
languages the offline corpora can build (:data:`wordot.languages.OFFLINE`).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .. import corpora
from ..embed import words_of
from ..languages import OFFLINE

__all__ = ["EvalSizes", "check_language", "frozen", "sample_pairs"]


@dataclass(frozen=True)
class EvalSizes:
    """How much of each evaluation set is used (None = all), and batch and truncation sizes.

    ``align_pairs`` held-out pairs are aligned against the lexicon, out of a retrieval pool of
    ``retrieval_pairs``; the classifier sees ``cls_train``/``cls_dev`` English descriptions and
    ``cls_test`` per language, each cut to its first ``cls_max_length`` tokens; the encoder
    runs ``batch_size`` sentences at a time. Defaults are sized for time (about 3 CPU-minutes
    for one record of de fr es ru zh with multilingual-e5-small, see
    :func:`~wordot.evaluation.evaluate_all`).
    """

    align_pairs: int | None = 150
    retrieval_pairs: int | None = 300
    cls_train: int | None = 1000
    cls_dev: int | None = 300
    cls_test: int | None = 300
    cls_max_length: int = 48
    batch_size: int = 32

    def __post_init__(self) -> None:
        for name in ("align_pairs", "retrieval_pairs", "cls_train", "cls_dev", "cls_test"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"EvalSizes.{name} must be a whole number or None, got {value!r}")
            if value is not None and value < 1:
                raise ValueError(f"EvalSizes.{name} must be at least 1 (None = all), got {value}")
        for name in ("cls_max_length", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EvalSizes.{name} must be a positive whole number, got {value!r}")


def check_language(lang: str) -> None:
    """A source language a record may name (:data:`wordot.languages.OFFLINE`), else ValueError."""
    if lang not in OFFLINE:
        raise ValueError(f"unknown language {lang!r}; known: {' '.join(OFFLINE)}")


@contextlib.contextmanager
def frozen(model) -> Iterator[None]:
    """Dropout off and no autograd inside; the model's train/eval mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def sample_pairs(
    pairs: Sequence[tuple[str, str]], n: int | None, seed: int = 0, lang: str | None = None
) -> list[tuple[str, str]]:
    """Up to ``n`` pairs (all if None), shuffled by ``seed``, without duplicates.

    A pair is dropped when its English or its source sentence (under
    :func:`wordot.corpora.norm`) was already taken, since a retrieval pool with two copies of
    one sentence has no single right answer; with ``lang``, also when either side has no word
    (:func:`wordot.embed.words_of` would fail).
    """
    if not pairs:
        raise ValueError("no pairs given")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    seen_src: set[str] = set()
    seen_en: set[str] = set()
    out: list[tuple[str, str]] = []
    for i in order:
        src, en = pairs[i]
        ks, ke = corpora.norm(src), corpora.norm(en)
        if not ks or not ke or ks in seen_src or ke in seen_en:
            continue
        if lang is not None:
            try:
                words_of([src], lang)
                words_of([en], "en")
            except ValueError:
                continue
        seen_src.add(ks)
        seen_en.add(ke)
        out.append((src, en))
        if n is not None and len(out) >= n:
            break
    return out
