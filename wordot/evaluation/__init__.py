"""Evaluation of an encoder's cross-lingual alignment: before vs after OT fine-tuning.

Three measurements, each a plain function, and :func:`evaluate_all` that runs them into one
flat, JSON-serialisable record:

* **word-alignment precision** (:mod:`~wordot.evaluation.links`): the argmax links of the OT
  plans judged against a FreeDict lexicon (:func:`alignment_precision`);
* **sentence retrieval P@1** (:mod:`~wordot.evaluation.retrieval`), Tatoeba-style
  (:func:`retrieval`), over frozen sentence features (:mod:`~wordot.evaluation.features`);
* **zero-shot classification** (:mod:`~wordot.evaluation.classification`), the offline stand-in
  for XNLI (:func:`zero_shot_classification`).

:mod:`~wordot.evaluation.suite` runs them all (:func:`evaluate_all`) and compares records over
seeds (:func:`summarise`, :func:`compare`). Options are objects: the plans take a
:class:`~wordot.loss.LossConfig` (cost, eps, reach, tol), word vectors an
:class:`~wordot.embed.EmbedConfig`, the sizes of the evaluation sets an :class:`EvalSizes`.

Two submodules are not re-exported here: :mod:`wordot.evaluation.analysis` (reading transport
plans, chapter 8) and :mod:`wordot.evaluation.experiments` (many fine-tuning runs and their
records, chapter 7). Also re-exported: :func:`squad_metrics` (XQuAD F1/EM, from
:mod:`wordot.xtreme`).
"""

from __future__ import annotations

from ..xtreme import squad_metrics
from .classification import WEIGHT_DECAYS, Probe, fit_probe, zero_shot_classification
from .common import EvalSizes, check_language, frozen, sample_pairs
from .features import (
    FeatureCache,
    cached_vectors,
    make_feature_cache,
    model_fingerprint,
    sentence_vectors,
)
from .links import (
    AlignmentCounts,
    alignment_precision,
    argmax_links,
    classify_links,
    lexicon_match,
    same_word,
    score_links,
    word_links,
)
from .retrieval import ngram_vectors, retrieval, retrieval_p1
from .suite import CORPUS_TASKS, TASKS, compare, evaluate_all, summarise, supported

__all__ = [
    "CORPUS_TASKS",
    "TASKS",
    "WEIGHT_DECAYS",
    "AlignmentCounts",
    "EvalSizes",
    "FeatureCache",
    "Probe",
    "alignment_precision",
    "argmax_links",
    "cached_vectors",
    "check_language",
    "classify_links",
    "compare",
    "evaluate_all",
    "fit_probe",
    "frozen",
    "lexicon_match",
    "make_feature_cache",
    "model_fingerprint",
    "ngram_vectors",
    "retrieval",
    "retrieval_p1",
    "same_word",
    "sample_pairs",
    "score_links",
    "sentence_vectors",
    "squad_metrics",
    "summarise",
    "supported",
    "word_links",
    "zero_shot_classification",
]
