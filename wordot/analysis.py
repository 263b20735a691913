"""Reading transport plans as word alignments: the paper's Section 7 (chapter 9).

The paper looks at the plans ``pi`` of Eq. 1 between a source sentence and its English
translation and reports three things: compounds whose mass goes to a multi-word English phrase
("Rahmengesetzgebung" -> "framework legislation"), several source words sent to one English word
(or one word to two occurrences of the same English word), and pairs that are not translations
(its Table 11), which balanced OT with uniform weights must align all the same. This module
turns each observation into a count over many held-out pairs:

* clouds and plans: :func:`pair_clouds` / :func:`embed_clouds` embed sentence pairs (or
  pre-split word lists) into one :class:`PairCloud` per pair, :func:`transport_plans` solves
  one entropic OT problem per pair (batched, any ``eps``/``cost``/``reach``);
* patterns of one plan ``(N, M)``: :func:`row_shares`, :func:`spread_rows` (a source word
  whose mass goes substantively to two or more English words), :func:`many_to_one` (an English
  word that is the argmax of two or more source words), :func:`is_contiguous`,
  :func:`compound_candidate`;
* links against a lexicon: :func:`lexicon_hits`, :func:`classify_links`;
* noisy pairs: :func:`add_noise` appends the words of an unrelated sentence to one side,
  :func:`kept_mass` says how much mass the genuine and the unmatched words send or receive,
  :func:`genuine_links` scores the genuine source words' links, and
  :func:`bootstrap_difference` puts an interval on a change of precision over pairs.

Conventions: a plan is one pair's ``(N, M)`` matrix without padding, rows are the N source words,
columns the M English words; the clouds carry uniform weights ``a_i = 1/N``, ``b_j = 1/M``. A
noisy pair's genuine words are the *leading* ``src_genuine`` / ``en_genuine`` words of its sides.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from . import corpora
from .embed import POOLINGS, hidden_states, selection_matrix, word_spans, words_of
from .eval import (
    AlignmentCounts,
    argmax_links,
    classify_links,
    lexicon_match,
    score_links,
)
from .eval import same_word as _same
from .ot import transport_plan

__all__ = [
    "MassSplit",
    "PairCloud",
    "Spread",
    "add_noise",
    "analysis_lexicon",
    "bootstrap_difference",
    "classify_links",
    "compound_candidate",
    "embed_clouds",
    "genuine_links",
    "is_contiguous",
    "kept_mass",
    "lexicon_hits",
    "many_to_one",
    "noisy_clouds",
    "pair_clouds",
    "row_shares",
    "spread_rows",
    "transport_plans",
]

Side = Literal["src", "en"]


def analysis_lexicon(lang: str, corpus: str) -> dict[str, set[str]]:
    """The lexicon links of ``lang`` are scored against: FreeDict (:func:`corpora.load_lexicon`)
    for the ``offline`` and ``hub`` corpora, the toy word lists :data:`wordot.corpora.SMOKE_LEXICON` for the
    ``smoke`` corpus (whose CI machines have no built corpora)."""
    if corpus == "smoke":
        if lang not in corpora.SMOKE_LEXICON:
            have = sorted(corpora.SMOKE_LEXICON)
            raise ValueError(f"no smoke lexicon for {lang!r}; have {have}")
        return {k: set(v) for k, v in corpora.SMOKE_LEXICON[lang].items()}
    return corpora.load_lexicon(lang)


# --------------------------------------------------------------------------------------------
# clouds and plans
# --------------------------------------------------------------------------------------------


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
    model, tokenizer, words: list[list[str]], pooling: str, layer: int, max_length: int
):
    sp = word_spans(tokenizer, words, max_length)
    H = hidden_states(model, sp.encoding, layer)
    P, mask, _ = selection_matrix(sp.spans, H.shape[1], pooling)  # type: ignore[arg-type]
    V = P.to(H.device, H.dtype) @ H
    return [V[b, : int(mask[b].sum())].detach().cpu() for b in range(len(words))], sp.words


def embed_clouds(
    model,
    tokenizer,
    src_words: Sequence[Sequence[str]],
    en_words: Sequence[Sequence[str]],
    *,
    src_genuine: Sequence[int] | None = None,
    en_genuine: Sequence[int] | None = None,
    pooling: str = "last",
    layer: int = -1,
    max_length: int = 128,
    batch_size: int = 32,
) -> list[PairCloud]:
    """One :class:`PairCloud` per pair of pre-split word lists (no gradient, eval mode).

    Each side's words go through the encoder as one sequence (so appended noise words are
    context for the genuine ones, as in a real mistranslated pair). ``*_genuine`` count the
    leading words of each side that belong to the real pair (default: all). Words the tokenizer
    maps to no subword are dropped before encoding; truncation at ``max_length`` drops trailing
    words, so the genuine words stay a prefix. ``pooling`` is ``last``, ``first`` or ``mean``
    (one point per word; ``subword`` has no word-level rows and is refused).
    """
    if pooling not in POOLINGS or pooling == "subword":
        raise ValueError(f"pooling must be one of last, first, mean; got {pooling!r}")
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
    sw = [list(w) for w in src_words]
    ew = [list(w) for w in en_words]
    ok_s, ok_e = _representable(tokenizer, sw), _representable(tokenizer, ew)
    out: list[PairCloud | None] = [None] * n
    order = sorted(range(n), key=lambda k: len(sw[k]) + len(ew[k]))  # less padding
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                ks = [_keep(sw[k], ok_s[k], sg[k]) for k in idx]
                ke = [_keep(ew[k], ok_e[k], eg[k]) for k in idx]
                if any(not w for w, _ in ks + ke):
                    raise ValueError("a side has no word the tokenizer can represent")
                xs, s_kept = _embed_side(
                    model, tokenizer, [w for w, _ in ks], pooling, layer, max_length
                )
                ys, e_kept = _embed_side(
                    model, tokenizer, [w for w, _ in ke], pooling, layer, max_length
                )
                for b, k in enumerate(idx):
                    out[k] = PairCloud(
                        s_kept[b],
                        e_kept[b],
                        xs[b],
                        ys[b],
                        min(ks[b][1], len(s_kept[b])),
                        min(ke[b][1], len(e_kept[b])),
                    )
    finally:
        model.train(was_training)
    return [c for c in out if c is not None]


def pair_clouds(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    lang: str,
    **kw,
) -> list[PairCloud]:
    """:func:`embed_clouds` of ``(source, English)`` sentence pairs, split into Moses words as
    :func:`wordot.embed.embed_words` does (so the points are the same as in training)."""
    if not pairs:
        raise ValueError(f"no pairs given for {lang}")
    src = words_of([s for s, _ in pairs], lang)
    en = words_of([e for _, e in pairs], "en")
    return embed_clouds(model, tokenizer, src, en, **kw)


def transport_plans(
    clouds: Sequence[PairCloud],
    *,
    eps: float,
    cost: str,
    reach: float | None = None,
    tol: float | None = None,
    batch_size: int = 64,
) -> list[Tensor]:
    """The entropic plan ``(N_k, M_k)`` of every pair (uniform weights; ``reach`` None or 0:
    balanced OT, else unbalanced with the KL penalty ``reach**p`` of :mod:`wordot.ot`).

    Pairs are padded into batches of ``batch_size`` (sorted by size); padding gets no mass.
    A balanced plan sums to 1, its rows to ``1/N`` and its columns to ``1/M``.
    """
    if not clouds:
        raise ValueError("no clouds given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    solver = {} if tol is None else {"tol": tol}
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
        plans = transport_plan(X, Y, A, B, eps=eps, cost=cost, reach=reach or None, **solver)
        for b, k in enumerate(idx):
            out[k] = plans[b, : clouds[k].x.shape[0], : clouds[k].y.shape[0]].clone()
    return [p for p in out if p is not None]


# --------------------------------------------------------------------------------------------
# patterns of one plan
# --------------------------------------------------------------------------------------------


def _check_plan(plan: Tensor) -> None:
    if not isinstance(plan, Tensor) or plan.dim() != 2 or plan.numel() == 0:
        shape = tuple(plan.shape) if isinstance(plan, Tensor) else type(plan).__name__
        raise ValueError(f"plan must be a non-empty (N, M) tensor, got {shape}")
    if not torch.isfinite(plan).all() or (plan < 0).any():
        raise ValueError("plan must be finite and non-negative")


def row_shares(plan: Tensor) -> Tensor:
    """Each row divided by its sum: ``(N, M) -> (N, M)``, the share of source word i's mass
    that goes to English word j (a row without mass stays zero)."""
    _check_plan(plan)
    return plan / plan.sum(1, keepdim=True).clamp_min(torch.finfo(plan.dtype).tiny)


@dataclass(frozen=True)
class Spread:
    """A source word ``row`` whose mass goes to the English words ``targets`` (in sentence
    order), each receiving at least the threshold share; ``shares`` are those shares."""

    row: int
    targets: tuple[int, ...]
    shares: tuple[float, ...]


def spread_rows(plan: Tensor, min_share: float = 0.25, min_targets: int = 2) -> list[Spread]:
    """Source words whose mass spreads *substantively* over several English words.

    Row i of ``plan: (N, M)`` is reported when at least ``min_targets`` English words each
    receive at least ``min_share`` of the row's mass (:func:`row_shares`). With the defaults
    (2 words, 25% each) at least half of the word's mass is split over two or more English
    words; at most ``floor(1 / min_share)`` words can pass.
    """
    _check_plan(plan)
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    if min_targets < 1:
        raise ValueError(f"min_targets must be at least 1, got {min_targets}")
    shares = row_shares(plan)
    out = []
    for i in range(shares.shape[0]):
        js = torch.nonzero(shares[i] >= min_share).flatten().tolist()
        if len(js) >= min_targets:
            out.append(Spread(i, tuple(js), tuple(float(shares[i, j]) for j in js)))
    return out


def is_contiguous(targets: Sequence[int]) -> bool:
    """Do the English positions form one run without gaps (``[3, 4]`` yes, ``[3, 5]`` no)?"""
    if not targets:
        raise ValueError("no targets given")
    t = sorted(set(targets))
    return t[-1] - t[0] == len(t) - 1


def many_to_one(links: Sequence[tuple[int, int]], min_sources: int = 2) -> dict[int, list[int]]:
    """English words that receive the links of ``min_sources`` or more source words.

    ``links`` are ``(i, j)`` pairs, e.g. :func:`wordot.eval.argmax_links` of one plan. Returns
    ``{j: [i, ...]}`` (source rows in order) for every such English word j, ordered by j.
    """
    if min_sources < 2:
        raise ValueError(f"min_sources must be at least 2, got {min_sources}")
    by: dict[int, list[int]] = {}
    for i, j in links:
        by.setdefault(int(j), []).append(int(i))
    return {j: sorted(rows) for j, rows in sorted(by.items()) if len(rows) >= min_sources}


def compound_candidate(word: str, min_length: int = 10) -> bool:
    """A long single word of letters (hyphens allowed inside): where German writes a compound
    that English splits into a phrase (``Rahmengesetzgebung``, ``Ping-Hilfswerkzeug``).

    A surface test only: it also accepts long simple words and knows nothing about morphology.
    """
    if min_length < 1:
        raise ValueError(f"min_length must be at least 1, got {min_length}")
    parts = word.split("-")
    return len(word) >= min_length and all(p and p.isalpha() for p in parts)


# --------------------------------------------------------------------------------------------
# links and the lexicon
# --------------------------------------------------------------------------------------------


def lexicon_hits(
    src_words: Sequence[str],
    en_words: Sequence[str],
    lexicon: Mapping[str, set[str]],
    lang: str,
) -> list[tuple[int, int]]:
    """Every ``(i, j)`` where English word j is a lexicon translation of source word i
    (:func:`wordot.eval.lexicon_match`), whatever the plan says; identical strings excluded."""
    return [
        (i, j)
        for i, s in enumerate(src_words)
        for j, e in enumerate(en_words)
        if not _same(s, e, lang) and lexicon_match(s, e, lexicon, lang)
    ]


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
    *,
    seed: int = 0,
    pooling: str = "last",
    layer: int = -1,
    max_length: int = 128,
    batch_size: int = 32,
) -> list[PairCloud]:
    """The clean pairs made partly non-parallel by :func:`add_noise` on ``side``, re-encoded.

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
        src_genuine=genuine,
        en_genuine=[1] * len(clean),
        pooling=pooling,
        layer=layer,
        max_length=max_length,
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


@dataclass(frozen=True)
class MassSplit:
    """Where the mass of one plan goes, as multiples of the words' own weights.

    ``src_genuine``/``src_noise``: mean of ``(pi 1)_i / a_i`` over genuine / appended source
    words (1 = the word sends all its mass; balanced OT always gives 1); ``en_genuine``/
    ``en_noise`` the same for what English words receive, ``(pi^T 1)_j / b_j``; NaN where a
    side has no such word. ``total`` is ``sum pi`` and ``noise_share`` the part of it that
    leaves or reaches an appended word.
    """

    src_genuine: float
    src_noise: float
    en_genuine: float
    en_noise: float
    total: float
    noise_share: float


def kept_mass(plan: Tensor, src_genuine: int, en_genuine: int) -> MassSplit:
    """:class:`MassSplit` of ``plan: (N, M)`` with uniform weights ``1/N``, ``1/M``, the leading
    ``src_genuine`` rows and ``en_genuine`` columns genuine and the rest appended noise."""
    _check_plan(plan)
    N, M = plan.shape
    if not 0 <= src_genuine <= N or not 0 <= en_genuine <= M:
        raise ValueError(f"genuine counts ({src_genuine}, {en_genuine}) for a {N} x {M} plan")
    p = plan.double()
    rows, cols = p.sum(1) * N, p.sum(0) * M

    def mean(v: Tensor) -> float:
        return float(v.mean()) if v.numel() else math.nan

    total = float(p.sum())
    genuine = float(p[:src_genuine, :en_genuine].sum())
    return MassSplit(
        mean(rows[:src_genuine]),
        mean(rows[src_genuine:]),
        mean(cols[:en_genuine]),
        mean(cols[en_genuine:]),
        total,
        (total - genuine) / total if total > 0 else math.nan,
    )


def genuine_links(
    plan: Tensor,
    cloud: PairCloud,
    lexicon: Mapping[str, set[str]],
    lang: str,
) -> tuple[AlignmentCounts, int]:
    """Lexicon counts of the argmax links of the *genuine* source words of ``cloud`` under
    ``plan: (N, M)``, and how many of those links land on an appended English word.

    The argmax runs over all English words, noise included, so a link into the noise counts
    (as wrong, unless the lexicon happens to accept it) just as it would in a real noisy pair.
    """
    _check_plan(plan)
    if tuple(plan.shape) != (len(cloud.src_words), len(cloud.en_words)):
        raise ValueError(
            f"plan {tuple(plan.shape)} does not fit the cloud's "
            f"{len(cloud.src_words)} x {len(cloud.en_words)} words"
        )
    links = [(i, j) for i, j in argmax_links(plan) if i < cloud.src_genuine]
    into_noise = sum(j >= cloud.en_genuine for _, j in links)
    return score_links(links, cloud.src_words, cloud.en_words, lexicon, lang), into_noise


def bootstrap_difference(
    num_a: Sequence[float],
    den_a: Sequence[float],
    num_b: Sequence[float],
    den_b: Sequence[float],
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap of a difference of two pooled ratios over items (e.g. sentence pairs).

    Item k contributes ``num_a[k] / den_a[k]`` to ratio a (e.g. correct and scored links under
    unbalanced OT) and ``num_b[k] / den_b[k]`` to ratio b (the same pair under balanced OT);
    the statistic is ``sum(num_a) / sum(den_a) - sum(num_b) / sum(den_b)``. Items are resampled
    with replacement, both ratios together. Returns ``(difference, low, high)``, the percentile
    interval at ``level``; NaN where a resample has no denominator.
    """
    arrays = [np.asarray(v, dtype=float) for v in (num_a, den_a, num_b, den_b)]
    n = arrays[0].shape[0]
    if n == 0 or any(a.shape != (n,) for a in arrays):
        raise ValueError("num_a, den_a, num_b, den_b must be 1-D of one non-zero length")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {n_boot}, {level}")
    na, da, nb, db = arrays

    def stat(idx: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return na[idx].sum(-1) / da[idx].sum(-1) - nb[idx].sum(-1) / db[idx].sum(-1)

    point = float(stat(np.arange(n)))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boots = stat(idx)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return point, math.nan, math.nan
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)
