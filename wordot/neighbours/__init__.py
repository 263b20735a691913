"""WordOT's neighbours: the alignment methods of the seed papers, beside WordOT.

Feature-level maps (no encoder fine-tuning) are fitted on the contextual vectors of aligned word
pairs and applied to the source-language vectors before alignment or retrieval:

* :mod:`.procrustes`: an orthogonal map per language (and layer), Wang et al. 2020;
* :mod:`.center`: per-language mean-centering (optionally length normalisation), Libovický et
  al. 2020 and Zhao et al. 2021;
* :mod:`.realnvp`: Real-NVP density matching, Zhao & Eger (supervised).

Each follows the :class:`FeatureMap` protocol: ``fit(src, en)`` on ``(n, d)`` rows of aligned
pairs (row ``i`` of ``src`` is a translation of row ``i`` of ``en``), then ``map(x)`` sends
source-language vectors ``(m, d)`` into the English space ``(m, d)``.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor


class FeatureMap(Protocol):
    """A map of source-language vectors into the English space, fitted on aligned word pairs."""

    def fit(self, src: Tensor, en: Tensor) -> FeatureMap:
        """Fit on aligned rows ``src`` ``(n, d)`` and ``en`` ``(n, d)``; returns ``self``."""
        ...

    def map(self, x: Tensor) -> Tensor:
        """Source-language vectors ``(m, d)`` -> vectors in the English space ``(m, d)``."""
        ...
