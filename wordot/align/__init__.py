"""Word alignment and sentence retrieval as measured tasks, on standard gold sets.

* :mod:`~wordot.align.gold`: readers of the gold formats (awesome-align, XL-WA, Biçici) into
  :class:`GoldPair` (source words, English words, sure and possible 0-indexed links);
* :mod:`~wordot.align.metrics`: corpus-level AER, precision, recall, F1 (Och and Ney 2003);
* :mod:`~wordot.align.methods`: :func:`word_alignments` from an encoder's hidden states
  (SimAlign's argmax and itermax; links read from OT plans);
* :mod:`~wordot.align.retrieval`: Tatoeba retrieval accuracy as XTREME computes it;
* :mod:`~wordot.align.statistical`: eflomal and fast_align, the statistical peers;
* :mod:`~wordot.align.benchmark`: all of the gold sets and Tatoeba languages for one encoder.

The data come through :mod:`wordot.datasets` (``$WORDOT_DATA``, the cache, or a download).
"""

from .benchmark import (
    COLUMNS,
    PUBLISHED_AER,
    TATOEBA_LANGUAGES,
    BenchmarkConfig,
    StatisticalGold,
    averages,
    compare_readings,
    layer_curve,
    layer_name,
    run_benchmarks,
    statistical_gold,
)
from .gold import (
    ERRATA,
    GOLD_SETS,
    SPLITS,
    GoldFormatError,
    GoldPair,
    Link,
    load_gold,
    read_awesome,
    read_pharaoh,
    read_xl_wa,
    source_language,
)
from .methods import (
    METHODS,
    OT_METHODS,
    AlignOptions,
    Method,
    alignments_by_layer,
    itermax,
    mutual_argmax,
    plan_links,
    similarity,
    word_alignments,
    word_similarity,
)
from .metrics import AlignmentScores, aer, alignment_scores, gold_scores
from .retrieval import (
    TATOEBA_CODES,
    RetrievalOptions,
    TatoebaResult,
    layer_embeddings,
    retrieval_accuracy,
    sentence_embeddings,
    tatoeba_accuracy,
    tatoeba_code,
    tatoeba_layers,
    tatoeba_pairs,
)
from .statistical import (
    AlignerNotInstalledError,
    StatisticalOptions,
    StatisticalRun,
    align_statistical,
    statistical_alignments,
    tokenize_pairs,
)

__all__ = [
    "COLUMNS",
    "PUBLISHED_AER",
    "TATOEBA_LANGUAGES",
    "BenchmarkConfig",
    "averages",
    "compare_readings",
    "layer_curve",
    "layer_name",
    "run_benchmarks",
    "StatisticalGold",
    "statistical_gold",
    "ERRATA",
    "GOLD_SETS",
    "SPLITS",
    "GoldFormatError",
    "GoldPair",
    "Link",
    "load_gold",
    "read_awesome",
    "read_pharaoh",
    "read_xl_wa",
    "source_language",
    "METHODS",
    "OT_METHODS",
    "AlignOptions",
    "Method",
    "alignments_by_layer",
    "itermax",
    "mutual_argmax",
    "plan_links",
    "similarity",
    "word_alignments",
    "word_similarity",
    "AlignmentScores",
    "aer",
    "alignment_scores",
    "gold_scores",
    "TATOEBA_CODES",
    "RetrievalOptions",
    "TatoebaResult",
    "layer_embeddings",
    "retrieval_accuracy",
    "sentence_embeddings",
    "tatoeba_accuracy",
    "tatoeba_code",
    "tatoeba_layers",
    "tatoeba_pairs",
    "AlignerNotInstalledError",
    "StatisticalOptions",
    "StatisticalRun",
    "align_statistical",
    "statistical_alignments",
    "tokenize_pairs",
]
