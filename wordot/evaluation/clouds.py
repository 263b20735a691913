"""Word clouds of sentence pairs and their transport plans, for reading plans (chapter 8).

A :class:`PairCloud` holds the word vectors of one sentence pair: the source words ``x: (N, D)``
and the English words ``y: (M, D)``, from :func:`pair_clouds` (sentences, split into Moses
words as in training) or :func:`embed_clouds` (pre-split word lists), with an
:class:`~wordot.embed.EmbedConfig`. :func:`transport_plans` solves one entropic OT problem per
pair (batched) with a :class:`~wordot.loss.LossConfig`'s cost, eps, reach and tol.

Noisy pairs, the paper's Table 11 made on purpose: :func:`add_noise` appends the words of
another pair's sentence to one side, :func:`noisy_clouds` re-encodes that side. A cloud's
genuine words are the *leading* ``src_genuine`` / ``en_genuine`` words of its sides.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..embed import EmbedConfig, hidden_states, selection_matrix, word_spans, words_of
from ..loss import LossConfig
from ..ot import transport_plan
from .common import frozen

__all__ = [
    "PairCloud",
    "Side",
    "add_noise",
    "embed_clouds",
    "noisy_clouds",
    "pair_clouds",
    "transport_plans",
]

#: the side of a pair that gets appended words
Side = Literal["src", "en"]


@dataclass
class PairCloud:
    """The word vectors of one sentence pair: ``x: (N, D)`` source, ``y: (M, D)`` English.

    ``src_words``/``en_words`` are the N and M words the vectors belong to (words the tokenizer
    cannot represent, and words past ``max_length``, are left out). The leading ``src_genuine``
    source words and ``en_genuine`` English words belong to the real pair; the rest, if any,
    were appended by :func:`add_noise`.
    """

    src_words: list[str]
    en_words: list[str]
    x: Tensor
    y: Tensor
    src_genuine: int
    en_genuine: int

    def __post_init__(self) -> None:
        if self.x.dim() != 2 or self.y.dim() != 2:
            raise ValueError(
                f"x and y must be (N, D) and (M, D), got {self.x.shape}, {self.y.shape}"
            )
        if self.x.shape[0] != len(self.src_words) or self.y.shape[0] != len(self.en_words):
            raise ValueError(
                f"{len(self.src_words)} source / {len(self.en_words)} English words for vectors "
                f"{tuple(self.x.shape)} / {tuple(self.y.shape)}"
            )
        if not 0 <= self.src_genuine <= len(self.src_words):
            raise ValueError(f"src_genuine={self.src_genuine} for {len(self.src_words)} words")
        if not 0 <= self.en_genuine <= len(self.en_words):
            raise ValueError(f"en_genuine={self.en_genuine} for {len(self.en_words)} words")


def _representable(tokenizer, words: list[list[str]]) -> list[list[bool]]:
    """Per word: does the tokenizer give it at least one subword?"""
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False, truncation=False)
    out = []
    for b, sentence in enumerate(words):
        seen = {w for w in enc.word_ids(b) if w is not None}
        out.append([w in seen for w in range(len(sentence))])
    return out


def _keep(words: list[str], ok: list[bool], genuine: int) -> tuple[list[str], int]:
    kept = [w for w, k in zip(words, ok, strict=True) if k]
    return kept, sum(ok[:genuine])


def _embed_side(
    model, tokenizer, words: list[list[str]], embed: EmbedConfig
) -> tuple[list[Tensor], list[list[str]]]:
    """Word vectors ``(N_b, D)`` (on the CPU) and kept words of pre-split sentences: the steps
    of :func:`wordot.embed.embed_words` after Moses splitting, for one point per word."""
    sp = word_spans(tokenizer, words, embed.max_length)
    H = hidden_states(model, sp.encoding, embed.layer)
    P, mask, _ = selection_matrix(sp.spans, H.shape[1], embed.pooling)
    V = P.to(H.device, H.dtype) @ H
    return [V[b, : int(mask[b].sum())].detach().cpu() for b in range(len(words))], sp.words


def _genuine_counts(
    src_words: Sequence[Sequence[str]],
    en_words: Sequence[Sequence[str]],
    src_genuine: Sequence[int] | None,
    en_genuine: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """The genuine counts of each pair (default: all words), checked against the word lists."""
    if len(src_words) != len(en_words):
        raise ValueError(f"{len(src_words)} source word lists but {len(en_words)} English ones")
    if not src_words:
        raise ValueError("no pairs given")
    n = len(src_words)
    sg = [len(w) for w in src_words] if src_genuine is None else list(src_genuine)
    eg = [len(w) for w in en_words] if en_genuine is None else list(en_genuine)
    if len(sg) != n or len(eg) != n:
        raise ValueError(f"genuine counts for {len(sg)}/{len(eg)} pairs, but {n} pairs given")
    for k in range(n):
        if not src_words[k] or not en_words[k]:
            raise ValueError(f"pair {k} has an empty side")
        if not 0 <= sg[k] <= len(src_words[k]) or not 0 <= eg[k] <= len(en_words[k]):
            raise ValueError(f"pair {k}: genuine counts ({sg[k]}, {eg[k]}) out of range")
    return sg, eg


def embed_clouds(
    model,
    tokenizer,
    src_words: Sequence[Sequence[str]],
    en_words: Sequence[Sequence[str]],
    embed: EmbedConfig = EmbedConfig(),
    *,
    src_genuine: Sequence[int] | None = None,
    en_genuine: Sequence[int] | None = None,
    batch_size: int = 32,
) -> list[PairCloud]:
    """One :class:`PairCloud` per pair of pre-split word lists (no gradient, eval mode).

    Each side's words go through the encoder as one sequence (so appended noise words are
    context for the genuine ones, as in a real mistranslated pair). ``*_genuine`` count the
    leading words of each side that belong to the real pair (default: all). Words the tokenizer
    maps to no subword are dropped before encoding; truncation at ``embed.max_length`` drops
    trailing words, so the genuine words stay a prefix. ``embed.pooling`` is ``last``,
    ``first`` or ``mean`` (one point per word; ``subword`` has no word-level rows and is
    refused).
    """
    if embed.pooling == "subword":
        raise ValueError(f"pooling must be one of last, first, mean; got {embed.pooling!r}")
    sg, eg = _genuine_counts(src_words, en_words, src_genuine, en_genuine)
    n = len(src_words)
    sw = [list(w) for w in src_words]
    ew = [list(w) for w in en_words]
    ok_s, ok_e = _representable(tokenizer, sw), _representable(tokenizer, ew)
    out: list[PairCloud | None] = [None] * n
    order = sorted(range(n), key=lambda k: len(sw[k]) + len(ew[k]))  # less padding
    with frozen(model):
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            ks = [_keep(sw[k], ok_s[k], sg[k]) for k in idx]
            ke = [_keep(ew[k], ok_e[k], eg[k]) for k in idx]
            if any(not w for w, _ in ks + ke):
                raise ValueError("a side has no word the tokenizer can represent")
            xs, s_kept = _embed_side(model, tokenizer, [w for w, _ in ks], embed)
            ys, e_kept = _embed_side(model, tokenizer, [w for w, _ in ke], embed)
            for b, k in enumerate(idx):
                out[k] = PairCloud(
                    s_kept[b],
                    e_kept[b],
                    xs[b],
                    ys[b],
                    min(ks[b][1], len(s_kept[b])),
                    min(ke[b][1], len(e_kept[b])),
                )
    return [c for c in out if c is not None]


def pair_clouds(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    embed: EmbedConfig = EmbedConfig(),
    *,
    batch_size: int = 32,
) -> list[PairCloud]:
    """:func:`embed_clouds` of ``(source, English)`` sentence pairs, split into Moses words as
    :func:`wordot.embed.embed_words` does (so the points are the same as in training)."""
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    src = words_of([s for s, _ in pairs], lang)
    en = words_of([e for _, e in pairs], "en")
    return embed_clouds(model, tokenizer, src, en, embed, batch_size=batch_size)


def transport_plans(
    clouds: Sequence[PairCloud], plan: LossConfig, *, batch_size: int = 64
) -> list[Tensor]:
    """The entropic plan ``(N_k, M_k)`` of every pair with ``plan``'s cost, eps, reach and tol
    (uniform weights; ``reach`` None: balanced OT, else unbalanced with the KL penalty
    ``reach**p`` of :mod:`wordot.ot`).

    Pairs are padded into batches of ``batch_size`` (sorted by size); padding gets no mass.
    A balanced plan sums to 1, its rows to ``1/N`` and its columns to ``1/M``.
    """
    if not clouds:
        raise ValueError("no clouds given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    out: list[Tensor | None] = [None] * len(clouds)
    order = sorted(range(len(clouds)), key=lambda k: clouds[k].x.shape[0] * clouds[k].y.shape[0])
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        N = max(clouds[k].x.shape[0] for k in idx)
        M = max(clouds[k].y.shape[0] for k in idx)
        D = clouds[idx[0]].x.shape[1]
        like = clouds[idx[0]].x
        X = torch.zeros(len(idx), N, D, dtype=like.dtype)
        Y = torch.zeros(len(idx), M, D, dtype=like.dtype)
        A = torch.zeros(len(idx), N, dtype=like.dtype)
        B = torch.zeros(len(idx), M, dtype=like.dtype)
        for b, k in enumerate(idx):
            n, m = clouds[k].x.shape[0], clouds[k].y.shape[0]
            X[b, :n], Y[b, :m] = clouds[k].x, clouds[k].y
            A[b, :n], B[b, :m] = 1.0 / n, 1.0 / m
        plans = transport_plan(
            X, Y, A, B, eps=plan.eps, cost=plan.cost, reach=plan.reach, tol=plan.tol
        )
        for b, k in enumerate(idx):
            out[k] = plans[b, : clouds[k].x.shape[0], : clouds[k].y.shape[0]].clone()
    return [p for p in out if p is not None]


# --------------------------------------------------------------------------------------------
# noisy pairs
# --------------------------------------------------------------------------------------------


def add_noise(
    src_words: Sequence[Sequence[str]],
    en_words: Sequence[Sequence[str]],
    side: Side,
    seed: int = 0,
) -> tuple[list[list[str]], list[list[str]], list[int], list[int]]:
    """Make every pair partly non-parallel: append the words of *another* pair's sentence on
    one side, as in the paper's Table 11 where one side says more than the other.

    ``side="src"`` appends another pair's source sentence to the source side (those words have
    no English counterpart), ``side="en"`` another pair's English sentence to the English side.
    The filler of pair k is pair ``perm[k]`` of a seeded random permutation without fixed
    points, so no pair gets its own sentence twice. Returns the new source and English word
    lists and the genuine counts ``(src_genuine, en_genuine)`` (the original lengths, since the
    genuine words come first), ready for :func:`embed_clouds`.
    """
    if side not in ("src", "en"):
        raise ValueError(f"side must be 'src' or 'en', got {side!r}")
    n = len(src_words)
    if n != len(en_words):
        raise ValueError(f"{n} source word lists but {len(en_words)} English ones")
    if n < 2:
        raise ValueError("add_noise needs at least 2 pairs (the filler comes from another pair)")
    if any(not w for w in src_words) or any(not w for w in en_words):
        raise ValueError("every side needs at least one word")
    rng = random.Random(seed)
    perm = list(range(n))
    while any(p == k for k, p in enumerate(perm)):  # a derangement (about e tries)
        rng.shuffle(perm)
    new_src = [list(w) for w in src_words]
    new_en = [list(w) for w in en_words]
    for k in range(n):
        if side == "src":
            new_src[k] += list(src_words[perm[k]])
        else:
            new_en[k] += list(en_words[perm[k]])
    return new_src, new_en, [len(w) for w in src_words], [len(w) for w in en_words]


def noisy_clouds(
    model,
    tokenizer,
    clean: Sequence[PairCloud],
    side: Side,
    embed: EmbedConfig = EmbedConfig(),
    *,
    seed: int = 0,
    batch_size: int = 32,
) -> list[PairCloud]:
    """The clean pairs made partly non-parallel by :func:`add_noise` on ``side``, re-encoded
    with ``embed`` (the clean clouds' settings).

    Only the noisy side goes through the encoder again (its genuine words now have the filler
    as context); the other side keeps the clean cloud's vectors, which are the same
    computation. Fillers are the other clean pairs' (kept) words. Returns one
    :class:`PairCloud` per clean pair, its genuine words leading, in the order of ``clean``.
    """
    if not clean or any(c.src_genuine != len(c.src_words) for c in clean):
        raise ValueError("clean must be a non-empty list of clouds without appended words")
    if any(c.en_genuine != len(c.en_words) for c in clean):
        raise ValueError("clean must be a non-empty list of clouds without appended words")
    src, en, sg, eg = add_noise(
        [c.src_words for c in clean], [c.en_words for c in clean], side, seed
    )
    words, genuine = (src, sg) if side == "src" else (en, eg)
    # the noisy side as the "source" of embed_clouds; a one-word stand-in on the other side
    stub = [["."]] * len(clean)
    enc = embed_clouds(
        model,
        tokenizer,
        words,
        stub,
        embed,
        src_genuine=genuine,
        en_genuine=[1] * len(clean),
        batch_size=batch_size,
    )
    out = []
    for c, e in zip(clean, enc, strict=True):
        if e.src_genuine != len(c.src_words if side == "src" else c.en_words):
            raise ValueError("a genuine word was lost in re-encoding (max_length too small?)")
        if side == "src":
            out.append(PairCloud(e.src_words, c.en_words, e.x, c.y, e.src_genuine, len(c.en_words)))
        else:
            out.append(
                PairCloud(c.src_words, e.src_words, c.x, e.x, len(c.src_words), e.src_genuine)
            )
    return out
