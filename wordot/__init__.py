"""wordot: optimal-transport alignment of multilingual encoders (the package behind the book).

One module per idea: `ot` (Sinkhorn and the Sinkhorn divergence), `config` (run profiles),
`runner` (executes the chapters with papermill), `plots`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wordot")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
