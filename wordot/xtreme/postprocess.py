"""From start/end logits to answer strings: XTREME's (and BERT's) span search over windows.

In each window the ``n_best`` highest start and end logits are paired; a pair counts if both
tokens are context tokens (not question, special or padding), the start token has its maximum
context in this window, ``end >= start`` and the span has at most ``max_answer_length`` tokens.
Pairs are ranked by ``start + end`` logit over all windows of the example; the answer is the
context text between the tokens' character offsets (no mapping back through whitespace tokens,
unlike XTREME's ``get_final_text``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .features import QAFeatures

# (score, start logit, end logit, window, start token, end token)
Candidate = tuple[float, float, float, int, int, int]


def postprocess_qa(
    features: QAFeatures,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    contexts: Sequence[str],
    ids: Sequence[str],
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
    use_max_context: bool = True,
) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """The best answer span of every example over all its windows (see the module docstring).

    ``start_logits``, ``end_logits``: ``(F, L)``, one row per window of ``features``.
    ``use_max_context=False`` lets any window start a span.

    Returns ``(predictions, nbest)``: ``{id: text}`` ("" when no pair is valid) and, per id, up
    to ``n_best`` distinct candidates with their text, score and softmax probability.
    """
    if features.offsets is None or features.max_context is None:
        raise ValueError("features were prepared with keep_offsets=False")
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if start_logits.shape != features.input_ids.shape or end_logits.shape != start_logits.shape:
        raise ValueError(
            f"logits {start_logits.shape} do not match windows {features.input_ids.shape}"
        )
    candidates = _candidates(
        features, start_logits, end_logits, n_best, max_answer_length, use_max_context
    )
    predictions: dict[str, str] = {}
    nbest: dict[str, list[dict[str, Any]]] = {}
    for ex in range(len(ids)):
        entries = _ranked(features.offsets, candidates.get(ex, []), contexts[ex], n_best)
        predictions[ids[ex]] = entries[0]["text"] if entries else ""
        nbest[ids[ex]] = entries
    return predictions, nbest


def _candidates(
    features: QAFeatures,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best: int,
    max_answer_length: int,
    use_max_context: bool,
) -> dict[int, list[Candidate]]:
    """The valid (start, end) pairs among each window's top ``n_best`` logits, per example."""
    candidates: dict[int, list[Candidate]] = defaultdict(list)
    for f in range(len(features)):
        offs = features.offsets[f]
        in_ctx = offs[:, 0] >= 0
        can_start = in_ctx & features.max_context[f] if use_max_context else in_ctx
        s_top = np.argsort(-start_logits[f], kind="stable")[:n_best]
        e_top = np.argsort(-end_logits[f], kind="stable")[:n_best]
        s, e = np.meshgrid(s_top, e_top, indexing="ij")
        ok = can_start[s] & in_ctx[e] & (e >= s) & (e - s + 1 <= max_answer_length)
        for si, ei in zip(s[ok].tolist(), e[ok].tolist(), strict=True):
            sl, el = float(start_logits[f, si]), float(end_logits[f, ei])
            candidates[int(features.example_index[f])].append((sl + el, sl, el, f, si, ei))
    return candidates


def _ranked(
    offsets: np.ndarray, candidates: list[Candidate], context: str, n_best: int
) -> list[dict[str, Any]]:
    """The ``n_best`` best distinct answer texts of one example, with softmax probabilities
    over their scores."""
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for score, sl, el, f, si, ei in sorted(candidates, key=lambda c: -c[0]):
        offs = offsets[f]
        text = context[offs[si, 0] : offs[ei, 1]]
        if text in seen:
            continue
        seen.add(text)
        entries.append(
            {
                "text": text,
                "score": score,
                "start_logit": sl,
                "end_logit": el,
                "char_start": int(offs[si, 0]),
                "char_end": int(offs[ei, 1]),
            }
        )
        if len(entries) == n_best:
            break
    if entries:
        scores = np.array([c["score"] for c in entries])
        probs = np.exp(scores - scores.max())
        for c, p in zip(entries, probs / probs.sum(), strict=True):
            c["probability"] = float(p)
    return entries
