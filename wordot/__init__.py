"""wordot: optimal-transport alignment of multilingual encoders (the package behind the book).

The folders show the architecture; lower layers never import higher ones:

* foundation: :mod:`~wordot.paths` (caches, atomic files), :mod:`~wordot.hub` (offline mode,
  missing downloads), :mod:`~wordot.languages`;
* the OT core: :mod:`~wordot.ot` (its API), :mod:`~wordot.costs`, :mod:`~wordot.sinkhorn`;
  :mod:`~wordot.embed` (word vectors) and :mod:`~wordot.loss` (the WordOT objective);
* inputs: :mod:`~wordot.models`, :mod:`~wordot.corpora` (offline text), :mod:`~wordot.data`
  (parallel corpora and batches), :mod:`~wordot.datasets` (external evaluation sets);
* training: :mod:`~wordot.train`;
* measuring: :mod:`~wordot.align` (gold word alignment, AER, Tatoeba),
  :mod:`~wordot.evaluation` (the offline suite, analysis, experiments), :mod:`~wordot.xtreme`
  (zero-shot XNLI/XQuAD);
* the book: :mod:`~wordot.config` (run profiles), :mod:`~wordot.plots`, :mod:`~wordot.book`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wordot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
