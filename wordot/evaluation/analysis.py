"""Reading transport plans as word alignments: the paper's Section 7 (chapter 8).

The paper looks at the plans ``pi`` of Eq. 1 between a source sentence and its English
translation and reports three things: compounds whose mass goes to a multi-word English phrase
("Rahmengesetzgebung" -> "framework legislation"), several source words sent to one English word
(or one word to two occurrences of the same English word), and pairs that are not translations
(its Table 11), which balanced OT with uniform weights must align all the same. This module
turns each observation into a count over many held-out pairs:

* clouds and plans (from :mod:`~wordot.evaluation.clouds`, re-exported):
  :func:`pair_clouds` / :func:`embed_clouds` embed sentence pairs (or pre-split word lists)
  into one :class:`PairCloud` per pair with an :class:`~wordot.embed.EmbedConfig`,
  :func:`transport_plans` solves one entropic OT problem per pair (batched) with a
  :class:`~wordot.loss.LossConfig`'s cost, eps, reach and tol;
* patterns of one plan ``(N, M)``: :func:`row_shares`, :func:`spread_rows` (a source word
  whose mass goes substantively to two or more English words), :func:`many_to_one` (an English
  word that is the argmax of two or more source words), :func:`is_contiguous`,
  :func:`compound_candidate`; over many plans: :func:`scan_plans` (one record per source word
  and per many-to-one group);
* links against a lexicon: :func:`lexicon_hits`, :func:`classify_links`;
* noisy pairs: :func:`add_noise` appends the words of an unrelated sentence to one side
  (:func:`noisy_clouds` re-encodes it), :func:`kept_mass` says how much mass the genuine and the unmatched words send or receive,
  :func:`genuine_links` scores the genuine source words' links, :func:`noise_records` runs
  balanced and unbalanced OT over clean and noisy pairs, and :func:`bootstrap_difference` puts
  an interval on a change of precision over pairs.

Conventions: a plan is one pair's ``(N, M)`` matrix without padding, rows are the N source words,
columns the M English words; the clouds carry uniform weights ``a_i = 1/N``, ``b_j = 1/M``. A
noisy pair's genuine words are the *leading* ``src_genuine`` / ``en_genuine`` words of its sides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import corpora
from ..data import SMOKE_LEXICON
from ..loss import LossConfig
from .clouds import (
    PairCloud,
    Side,
    add_noise,
    embed_clouds,
    noisy_clouds,
    pair_clouds,
    transport_plans,
)
from .links import (
    AlignmentCounts,
    Lexicon,
    argmax_links,
    classify_links,
    lexicon_match,
    same_word,
    score_links,
)

__all__ = [
    "GROUP_COLUMNS",
    "NOISE_SETS",
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
    "is_compound",
    "is_contiguous",
    "kept_mass",
    "lexicon_hits",
    "many_to_one",
    "noise_records",
    "noisy_clouds",
    "pair_clouds",
    "row_shares",
    "scan_plans",
    "spread_rows",
    "transport_plans",
]


def analysis_lexicon(
    lang: str, corpus: str, corpora_dir: str | Path | None = None
) -> dict[str, set[str]]:
    """The lexicon links of ``lang`` are scored against: FreeDict
    (:func:`wordot.corpora.load_lexicon`, from ``corpora_dir``, default the corpora cache) for
    the ``offline`` and ``hub`` corpora, the toy word lists :data:`wordot.data.SMOKE_LEXICON`
    for the ``smoke`` corpus (whose CI machines have no built corpora)."""
    if corpus == "smoke":
        if lang not in SMOKE_LEXICON:
            have = sorted(SMOKE_LEXICON)
            raise ValueError(f"no smoke lexicon for {lang!r}; have {have}")
        return {k: set(v) for k, v in SMOKE_LEXICON[lang].items()}
    return corpora.load_lexicon(lang, cache=corpora_dir)


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

    ``links`` are ``(i, j)`` pairs, e.g. :func:`wordot.evaluation.argmax_links` of one plan. Returns
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
    lexicon: Lexicon,
    lang: str,
) -> list[tuple[int, int]]:
    """Every ``(i, j)`` where English word j is a lexicon translation of source word i
    (:func:`wordot.evaluation.lexicon_match`), whatever the plan says; identical strings excluded."""
    return [
        (i, j)
        for i, s in enumerate(src_words)
        for j, e in enumerate(en_words)
        if not same_word(s, e, lang) and lexicon_match(s, e, lexicon, lang)
    ]


def is_compound(word: str, lexicon: Lexicon, lang: str) -> bool:
    """A compound candidate (:func:`compound_candidate`) that is no headword of ``lexicon``:
    the dictionary lists simple words, so a long word it does not know is most often a
    productive compound such as *Konfigurationsdateien*."""
    return compound_candidate(word) and corpora.lower(word, lang) not in lexicon


#: the keys of the many-to-one records of :func:`scan_plans` (for an empty table)
GROUP_COLUMNS: tuple[str, ...] = (
    "pair",
    "English word",
    "source words",
    "sources",
    "lexicon verdicts",
)


#: one pair's many-to-one groups: English word j -> the source rows linked to it
Groups = dict[int, list[int]]


def _word_records(
    k: int, cloud: PairCloud, spreads: list[Spread], many: Groups, lexicon: Lexicon, lang: str
) -> list[dict[str, Any]]:
    by_row = {s.row: s for s in spreads}
    in_group = {i for rows in many.values() for i in rows}
    out = []
    for i, w in enumerate(cloud.src_words):
        s = by_row.get(i)
        targets = [cloud.en_words[j] for j in s.targets] if s else []
        out.append(
            {
                "pair": k,
                "word": w,
                "alphabetic": w.replace("-", "").isalpha(),
                "compound": is_compound(w, lexicon, lang),
                "spread": s is not None,
                "phrase": s is not None and is_contiguous(s.targets),
                "repeated": s is not None and len({t.lower() for t in targets}) < len(targets),
                "targets": " ".join(targets),
                "min share": min(s.shares) if s else 0.0,
                "in many-to-one": i in in_group,
            }
        )
    return out


def _group_records(
    k: int, cloud: PairCloud, many: Groups, lexicon: Lexicon, lang: str
) -> list[dict[str, Any]]:
    out = []
    for j, rows in many.items():
        links = [(i, j) for i in rows]
        verdicts = classify_links(links, cloud.src_words, cloud.en_words, lexicon, lang)
        values = (
            k,
            cloud.en_words[j],
            " + ".join(cloud.src_words[i] for i in rows),
            len(rows),
            " ".join(verdicts),
        )
        out.append(dict(zip(GROUP_COLUMNS, values, strict=True)))
    return out


def scan_plans(
    clouds: Sequence[PairCloud],
    plans: Sequence[Tensor],
    lexicon: Lexicon,
    lang: str,
    *,
    min_share: float = 0.25,
    min_targets: int = 2,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The patterns of every plan ``(N_k, M_k)`` of ``clouds``: one record per source word and
    one per many-to-one group (keys :data:`GROUP_COLUMNS`).

    A word record has ``pair`` (the index k), ``word``, ``alphabetic`` (letters and hyphens
    only), ``compound`` (:func:`is_compound`), ``spread`` (:func:`spread_rows` with
    ``min_share``/``min_targets``), ``phrase`` (spread over adjacent English words,
    :func:`is_contiguous`), ``repeated`` (spread over two occurrences of one English word),
    ``targets`` (those English words, space-separated), ``min share`` (the smallest of their
    shares; 0 without a spread) and ``in many-to-one``. A group record names the ``English
    word`` that is the argmax of two or more ``source words`` (joined by " + "), their number
    (``sources``) and the ``lexicon verdicts`` of their links (:func:`classify_links`).
    """
    if len(clouds) != len(plans):
        raise ValueError(f"{len(clouds)} clouds but {len(plans)} plans")
    words: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for k, (c, p) in enumerate(zip(clouds, plans, strict=True)):
        many = many_to_one(argmax_links(p))
        words += _word_records(k, c, spread_rows(p, min_share, min_targets), many, lexicon, lang)
        groups += _group_records(k, c, many, lexicon, lang)
    return words, groups


# --------------------------------------------------------------------------------------------
# noisy pairs
# --------------------------------------------------------------------------------------------


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
    lexicon: Lexicon,
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


#: the pair sets of :func:`noise_records`: name -> the side that has appended words (None: clean)
NOISE_SETS: dict[str, Side | None] = {
    "clean": None,
    "source-side noise": "src",
    "English-side noise": "en",
}


def _noise_row(
    clouds: Sequence[PairCloud],
    plans: Sequence[Tensor],
    side: Side | None,
    lexicon: Lexicon,
    lang: str,
) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Mass and link statistics of one set of plans, and the per-pair correct/scored counts."""
    pairs = list(zip(clouds, plans, strict=True))
    masses = [kept_mass(p, c.src_genuine, c.en_genuine) for c, p in pairs]
    scored = [genuine_links(p, c, lexicon, lang) for c, p in pairs]
    counts = sum((s for s, _ in scored), AlignmentCounts())
    per_pair = (np.array([s.correct for s, _ in scored]), np.array([s.scored for s, _ in scored]))
    genuine = "src_genuine" if side != "en" else "en_genuine"
    appended = "src_noise" if side == "src" else "en_noise"
    row = {
        "genuine words keep": np.mean([getattr(m, genuine) for m in masses]),
        "appended words keep": np.nan
        if side is None
        else np.nanmean([getattr(m, appended) for m in masses]),
        "mass on appended words": np.nan
        if side is None
        else np.mean([m.noise_share for m in masses]),
        "transported mass": np.mean([m.total for m in masses]),
        "precision (genuine words)": counts.precision,
        "judged links": counts.scored,
        "links into appended words": sum(n for _, n in scored) / counts.links,
    }
    return row, per_pair


def noise_records(
    clean: Sequence[PairCloud],
    noisy: Mapping[Side, Sequence[PairCloud]],
    plan: LossConfig,
    reaches: Sequence[float],
    lexicon: Lexicon,
    lang: str,
    *,
    clean_plans: Sequence[Tensor] | None = None,
) -> tuple[list[dict[str, Any]], dict[tuple[float | None, str], tuple[np.ndarray, np.ndarray]]]:
    """Balanced and unbalanced OT on clean and noisy pairs: one record per reach and pair set.

    For balanced OT (``reach`` None) and then each of ``reaches``, for each set of
    :data:`NOISE_SETS` (``clean``, and ``noisy["src"]``/``noisy["en"]`` from
    :func:`noisy_clouds`), the plans are solved with ``plan``'s cost, eps and tol at that reach
    (``clean_plans``: the balanced plans of ``clean``, if already solved). A record has
    ``reach`` (0 for balanced), ``OT`` ("balanced"/"unbalanced"), ``pairs`` (the set's name),
    the mean mass ``genuine words keep`` and ``appended words keep`` (:func:`kept_mass`, as a
    multiple of the words' weights; NaN on clean pairs), ``mass on appended words``,
    ``transported mass``, the ``precision (genuine words)`` of the genuine source words' argmax
    links (:func:`genuine_links`), its ``judged links`` and the share of ``links into appended
    words``. Also returned, per ``(reach, set name)``: arrays ``(correct, scored)`` per pair,
    for :func:`bootstrap_difference`.
    """
    records: list[dict[str, Any]] = []
    per_pair: dict[tuple[float | None, str], tuple[np.ndarray, np.ndarray]] = {}
    for reach in [None, *reaches]:
        at_reach = dataclasses.replace(plan, reach=reach)
        for name, side in NOISE_SETS.items():
            clouds = clean if side is None else noisy[side]
            if side is None and reach is None and clean_plans is not None:
                plans = list(clean_plans)
            else:
                plans = transport_plans(clouds, at_reach)
            row, per_pair[reach, name] = _noise_row(clouds, plans, side, lexicon, lang)
            records.append(
                {
                    "reach": 0.0 if reach is None else reach,
                    "OT": "balanced" if reach is None else "unbalanced",
                    "pairs": name,
                }
                | row
            )
    return records, per_pair


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
