"""The tasks' metrics: XNLI accuracy and the official SQuAD v1.1 F1/EM (XQuAD), and the paper's
"seen" and "all" language averages.

Only numpy: :func:`squad_metrics` is imported by :mod:`wordot.evaluation` without the
fine-tuning stack.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .tasks import SEEN, check_task, task_languages

_PUNCT = set(string.punctuation)  # ASCII only, as in the official script
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation: lowercase, drop ASCII punctuation, drop the English articles
    a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_f1(prediction: str, reference: str) -> float:
    """Token F1 (0-1) between normalised, whitespace-split answers (SQuAD v1.1)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction: str, reference: str) -> float:
    """1.0 if the normalised answers are equal, else 0.0 (SQuAD v1.1)."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def squad_scores(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, float]]:
    """Each question's SQuAD v1.1 scores, 0-100: ``{id: {"exact_match": ..., "f1": ...}}`` in
    the order of ``references`` (the per-item scores a paired comparison resamples).

    A question scores the maximum over its reference answers; a question without a prediction
    scores 0 (as in the official script); extra predictions are ignored.
    """
    if not references:
        raise ValueError("no references to score")
    out = {}
    for qid, refs in references.items():
        if isinstance(refs, str):
            refs = [refs]
        if not refs:
            raise ValueError(f"question {qid!r} has no reference answer")
        pred = predictions.get(qid)
        em = 0.0 if pred is None else max(squad_em(pred, r) for r in refs)
        f1 = 0.0 if pred is None else max(squad_f1(pred, r) for r in refs)
        out[qid] = {"exact_match": 100.0 * em, "f1": 100.0 * f1}
    return out


def squad_metrics(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """The official SQuAD v1.1 scores, 0-100: ``{"exact_match": ..., "f1": ...}``, the means
    of :func:`squad_scores` (a missing prediction scores 0; extra ones are ignored)."""
    scores = squad_scores(predictions, references).values()
    n = len(scores)
    return {
        "exact_match": sum(s["exact_match"] for s in scores) / n,
        "f1": sum(s["f1"] for s in scores) / n,
    }


def accuracy(predictions: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Percentage of ``predictions`` equal to ``labels`` (XTREME's XNLI metric)."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"need equal, non-empty shapes, got {p.shape} and {y.shape}")
    return float(100.0 * (p == y).mean())


def language_averages(scores: Mapping[str, float], task: str) -> dict[str, Any]:
    """Means over the paper's "seen" and "all" language sets, and whether each set is complete
    (an incomplete set, e.g. on the fixtures, is averaged over the languages present)."""
    check_task(task)
    out: dict[str, Any] = {}
    for name, langs in (("seen", SEEN[task]), ("all", task_languages(task))):
        present = [lg for lg in langs if lg in scores]
        out[name] = float(np.mean([scores[lg] for lg in present])) if present else float("nan")
        out[f"{name}_languages"] = present
        out[f"{name}_complete"] = len(present) == len(langs)
    return out
