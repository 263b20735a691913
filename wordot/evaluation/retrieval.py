"""Tatoeba-style sentence retrieval, as in Zhao et al.'s Section 4.4.

Each of N held-out source sentences must find its translation among all N English ones (and
back) by the cosine of mean-pooled last hidden states (:func:`~wordot.evaluation.features.
sentence_vectors`). Chance is 1/N; a model-free character-trigram matcher
(:func:`ngram_vectors`) is reported beside it, because package names and numbers shared by both
sides make part of this task string matching.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..embed import check_parallel
from .common import check_language
from .features import FeatureCache, cached_vectors, make_feature_cache

__all__ = ["ngram_vectors", "retrieval", "retrieval_p1"]


def ngram_vectors(sentences: Sequence[str], n: int = 3, dim: int = 4096) -> Tensor:
    """Model-free baseline vectors: counts of lower-cased character n-grams, hashed (CRC32,
    stable across processes) into ``dim`` buckets: ``(N, dim)``."""
    if not sentences:
        raise ValueError("no sentences given")
    out = torch.zeros(len(sentences), dim)
    for k, s in enumerate(sentences):
        s = f" {' '.join(s.lower().split())} "
        for i in range(max(len(s) - n + 1, 1)):
            out[k, zlib.crc32(s[i : i + n].encode()) % dim] += 1.0
    return out


def retrieval_p1(src: Tensor, en: Tensor) -> dict[str, float]:
    """Tatoeba P@1 from sentence vectors ``(N, D)`` whose row i are translations of each other:
    ``xx_en`` = share of source rows whose most cosine-similar English row is their own,
    ``en_xx`` the same the other way (ties go to the lower index)."""
    if src.dim() != 2 or en.dim() != 2:
        raise ValueError(f"vectors must be (N, D), got {tuple(src.shape)} and {tuple(en.shape)}")
    if src.shape[0] != en.shape[0]:
        raise ValueError(
            f"mismatched counts: {src.shape[0]} source vs {en.shape[0]} English sentences"
        )
    if src.shape[0] == 0:
        raise ValueError("no sentences to retrieve")
    S = F.normalize(src.double(), dim=1) @ F.normalize(en.double(), dim=1).T
    gold = torch.arange(S.shape[0])
    return {
        "xx_en": (S.argmax(1) == gold).double().mean().item(),
        "en_xx": (S.argmax(0) == gold).double().mean().item(),
    }


def retrieval(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    *,
    prefix: str = "",
    max_length: int = 128,
    batch_size: int = 32,
    feature_cache: str | Path | FeatureCache | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Tatoeba-style P@1 over ``pairs`` in both directions (the pool is all N sentences of the
    other side; pass deduplicated pairs, e.g. from :func:`~wordot.evaluation.sample_pairs`).

    Sentences are cut to ``max_length`` tokens after ``prefix``. Returns ``p1_xx_en``,
    ``p1_en_xx``, ``n``, ``random`` (= 1/N) and ``ngram_xx_en`` / ``ngram_en_xx``
    (character-trigram cosine, no model). ``feature_cache``: a directory (or
    :class:`~wordot.evaluation.features.FeatureCache`) that keeps the features per weights.
    """
    check_language(lang)
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    src = [p[0] for p in pairs]
    en = [p[1] for p in pairs]
    check_parallel(src, en)
    kw = {
        "prefix": prefix,
        "max_length": max_length,
        "batch_size": batch_size,
        "progress": progress,
        "cache": make_feature_cache(model, feature_cache),
    }
    vs = cached_vectors(model, tokenizer, src, desc=f"retrieval {lang}", **kw)
    ve = cached_vectors(model, tokenizer, en, desc="retrieval en", **kw)
    p = retrieval_p1(vs, ve)
    g = retrieval_p1(ngram_vectors(src), ngram_vectors(en))
    return {
        "p1_xx_en": p["xx_en"],
        "p1_en_xx": p["en_xx"],
        "n": len(pairs),
        "random": 1.0 / len(pairs),
        "ngram_xx_en": g["xx_en"],
        "ngram_en_xx": g["en_xx"],
    }
