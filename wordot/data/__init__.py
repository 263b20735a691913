"""Parallel data for WordOT (Section 5.1 and Appendix A, Table 6 of the paper).

Every language is paired with English, the fixed target. The package, one idea per module:

* :mod:`~wordot.data.corpus`: :class:`ParallelCorpus` (two aligned lists of sentences), local
  ``src<TAB>en`` files (:func:`read_tsv`, :func:`write_tsv`), and :func:`pair_problem`, the one
  rule for pairs that training could not embed, applied wherever pairs enter;
* :mod:`~wordot.data.sources`: the corpora of Table 6 (:data:`PAPER_CORPORA`) read from the
  Hugging Face Hub or OPUS (:func:`load_pairs`), or from any origin (:func:`load_corpora`); an
  unreachable, uncached corpus fails at once with :class:`DatasetNotAvailableError` saying how
  to get it (:func:`how_to_get`);
* :mod:`~wordot.data.prepare`: the paper's preparation (:func:`filter_length`,
  :func:`deduplicate`, :func:`shuffle`, :func:`take_pairs`, all in order, with what each
  removed counted: :func:`prepare_language`), :func:`train_dev_split`, one equal-sized batch
  per language per step (:func:`language_batches`), :func:`held_out_pairs`;
* :mod:`~wordot.data.smoke`: the small hand-written corpora shipped with the package
  (:func:`smoke_corpus`), their lexicon (:data:`SMOKE_LEXICON`) and a toy corpora cache
  (:func:`write_smoke_cache`), for the smoke profile and CI.

Language lists live in :mod:`wordot.languages` (``MAIN``, ``LARGE``, ``NO_SPACE``).
"""

from __future__ import annotations

from .corpus import (
    ParallelCorpus,
    corpus_from_pairs,
    is_header_row,
    normalize_space,
    pair_problem,
    read_tsv,
    reservoir_sample,
    seeded_rng,
    write_tsv,
)
from .prepare import (
    MAX_CHARS,
    MAX_WORD_CHARS,
    PAIRS_PER_LANGUAGE,
    Batch,
    SampleInfo,
    deduplicate,
    filter_length,
    held_out_pairs,
    language_batches,
    prepare_language,
    shuffle,
    steps_per_epoch,
    take_pairs,
    train_dev_split,
)
from .smoke import SMOKE_LANGUAGES, SMOKE_LEXICON, smoke_corpus, write_smoke_cache
from .sources import (
    PAPER_CORPORA,
    CorpusSource,
    DatasetNotAvailableError,
    LanguageSpec,
    default_opus_dir,
    how_to_get,
    language_spec,
    load_corpora,
    load_pairs,
)

__all__ = [
    "MAX_CHARS",
    "MAX_WORD_CHARS",
    "PAIRS_PER_LANGUAGE",
    "PAPER_CORPORA",
    "SMOKE_LANGUAGES",
    "SMOKE_LEXICON",
    "Batch",
    "CorpusSource",
    "DatasetNotAvailableError",
    "LanguageSpec",
    "ParallelCorpus",
    "SampleInfo",
    "corpus_from_pairs",
    "deduplicate",
    "default_opus_dir",
    "filter_length",
    "held_out_pairs",
    "how_to_get",
    "is_header_row",
    "language_batches",
    "language_spec",
    "load_corpora",
    "load_pairs",
    "normalize_space",
    "pair_problem",
    "prepare_language",
    "read_tsv",
    "reservoir_sample",
    "seeded_rng",
    "shuffle",
    "smoke_corpus",
    "steps_per_epoch",
    "take_pairs",
    "train_dev_split",
    "write_smoke_cache",
    "write_tsv",
]
