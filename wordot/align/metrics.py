"""Alignment error rate, precision, recall and F1 against gold links (Och and Ney 2003).

For predicted links A, sure links S and possible links P (S is a subset of P), summed over all
sentences of a corpus before dividing (corpus level, as every published AER):

    precision = |A & P| / |A|        recall = |A & S| / |S|
    AER       = 1 - (|A & S| + |A & P|) / (|A| + |S|)
    F1        = 2 precision recall / (precision + recall)

Och and Ney, "A Systematic Comparison of Various Statistical Alignment Models", Computational
Linguistics 29(1), 2003, Section 5. Here ``possible`` is the possible-only set and
``P = S | possible`` (a gold set without possible links has P = S, and then AER = 1 - F1).
All values are fractions in [0, 1]; an empty prediction has precision 0 (and AER 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .gold import GoldPair, Link

__all__ = ["AlignmentScores", "alignment_scores", "aer", "gold_scores"]


@dataclass(frozen=True)
class AlignmentScores:
    """Corpus-level scores (fractions) and the counts they come from."""

    precision: float
    recall: float
    f1: float
    aer: float
    n_sentences: int
    n_predicted: int  # |A|
    n_sure: int  # |S|
    n_possible: int  # |P|, sure included
    hits_sure: int  # |A & S|
    hits_possible: int  # |A & P|


def _as_links(links: Iterable[Link], what: str, k: int) -> set[Link]:
    if isinstance(links, (str, bytes)):
        raise TypeError(f"{what} of sentence {k} is a string, not a set of (i, j) links")
    out = set()
    for link in links:
        if len(link) != 2:
            raise ValueError(f"{what} of sentence {k}: {link!r} is not an (i, j) link")
        out.add((int(link[0]), int(link[1])))
    return out


def alignment_scores(
    predicted: Sequence[Iterable[Link]],
    sure: Sequence[Iterable[Link]],
    possible: Sequence[Iterable[Link]] | None = None,
) -> AlignmentScores:
    """Precision, recall, F1 and AER of ``predicted`` links, one set per sentence.

    ``sure[k]``/``possible[k]``: the gold links of sentence k (``possible`` may repeat sure
    ones; P = sure | possible). Raises ValueError when the lists differ in length or the gold
    has no sure link at all.
    """
    n = len(predicted)
    if len(sure) != n or (possible is not None and len(possible) != n):
        n_p = "no" if possible is None else len(possible)
        raise ValueError(
            f"mismatched sentence counts: {n} predicted, {len(sure)} sure, {n_p} possible"
        )
    a_total = s_total = p_total = hit_s = hit_p = 0
    for k in range(n):
        a = _as_links(predicted[k], "predicted", k)
        s = _as_links(sure[k], "sure", k)
        p = s | (_as_links(possible[k], "possible", k) if possible is not None else set())
        a_total += len(a)
        s_total += len(s)
        p_total += len(p)
        hit_s += len(a & s)
        hit_p += len(a & p)
    if s_total == 0:
        raise ValueError(f"the gold of these {n} sentences has no sure link: AER is undefined")
    precision = hit_p / a_total if a_total else 0.0
    recall = hit_s / s_total
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    aer_value = 1.0 - (hit_s + hit_p) / (a_total + s_total)
    return AlignmentScores(
        precision, recall, f1, aer_value, n, a_total, s_total, p_total, hit_s, hit_p
    )


def aer(
    predicted: Sequence[Iterable[Link]],
    sure: Sequence[Iterable[Link]],
    possible: Sequence[Iterable[Link]] | None = None,
) -> float:
    """Corpus-level alignment error rate in [0, 1] (see :func:`alignment_scores`)."""
    return alignment_scores(predicted, sure, possible).aer


def gold_scores(predicted: Sequence[Iterable[Link]], gold: Sequence[GoldPair]) -> AlignmentScores:
    """:func:`alignment_scores` of ``predicted`` against gold pairs (their sure and possible)."""
    return alignment_scores(predicted, [g.sure for g in gold], [g.possible for g in gold])
