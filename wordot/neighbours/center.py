"""Per-language mean-centring (Libovický et al. 2020; Zhao et al. 2021), optionally with length
normalisation.

Libovický et al. (2020, "On the language neutrality of pre-trained multilingual
representations") make contextual vectors more language-neutral by "unsupervised centering of
the representation for each language": every vector loses its language's mean vector, estimated
on text of that language alone (no parallel data). Zhao et al. (2021, "Inducing
language-agnostic multilingual representations") remove language-specific means (and
variances, see below). With ``mu_src, mu_en (d,)`` the means of the source and the English rows
``(n_src, d)``, ``(n_en, d)``, the published transform is, on both sides,

    x -> x - mu_src,      y -> y - mu_en                                (:func:`center_both`)

A :class:`FeatureMap` transforms the source side only and leaves English vectors as they are, so
:meth:`MeanCenter.map` moves the source cloud onto the English mean instead:

    map(x) = x - mu_src + mu_en.

Every difference ``map(x) - y = (x - mu_src) - (y - mu_en)``, so Euclidean (and squared
Euclidean) costs and distances are exactly those of the published two-sided centring; cosine
similarities are not (``cos(map(x), y) != cos(x - mu_src, y - mu_en)``): a cosine retrieval that
wants the published numbers must use :func:`center_both`.

``normalize=True``, in this order: centre, then scale to unit length (the two-sided
:func:`center_both`: ``(x - mu_src) / |x - mu_src|`` and ``(y - mu_en) / |y - mu_en|``; the means
are those of the raw rows, so normalised rows no longer average to zero). A source-only map
cannot make the English side unit-length, and unit-length source vectors beside raw English ones
would sit at the wrong scale, so ``map`` gives the centred, unit-length source vector the English
cloud's radius and centre::

    map(x) = mu_en + r_en * (x - mu_src) / |x - mu_src|,   r_en = mean_j |y_j - mu_en|.

Every mapped row then lies at distance ``r_en`` from ``mu_en``, in the direction of
``x - mu_src``. This is our source-side analogue, not a published method; a row equal to
``mu_src`` has no direction and raises.

Departures: Zhao et al. (2021), as Zhao & Eger summarise them, remove language-specific means
*and variances*; the per-dimension division by a standard deviation is not implemented here
(nor is length normalisation attributed to either paper: it is an option). The means are those
of the rows given to :meth:`MeanCenter.fit` (here word vectors), which need not be aligned: only
per-language means are fitted, so ``src`` and ``en`` may hold different numbers of rows.
Means are computed in float64; outputs have the input's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .procrustes import check_rows

__all__ = ["MeanCenter", "center_both"]


def _unit(x: Tensor, name: str) -> Tensor:
    """Rows of ``x`` scaled to unit length; a zero-length row raises."""
    norms = x.norm(dim=-1, keepdim=True)
    zero = int((norms == 0).sum())
    if zero:
        raise ValueError(
            f"{zero} centred {name} row(s) have zero length (equal to the mean): no direction "
            "to normalise"
        )
    return x / norms


def _check_mean(mu: Tensor, d: int, name: str) -> None:
    if mu.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},), got {tuple(mu.shape)}")


def center_both(
    src_vecs: Tensor, en_vecs: Tensor, mu_src: Tensor, mu_en: Tensor, normalize: bool = False
) -> tuple[Tensor, Tensor]:
    """The published two-sided transform: ``src_vecs - mu_src`` and ``en_vecs - mu_en``
    (``(..., d)`` each), then, with ``normalize``, each row scaled to unit length."""
    d = src_vecs.shape[-1]
    if en_vecs.shape[-1] != d:
        raise ValueError(f"dimension mismatch: src_vecs has d = {d}, en_vecs {en_vecs.shape[-1]}")
    _check_mean(mu_src, d, "mu_src")
    _check_mean(mu_en, d, "mu_en")
    xs = src_vecs - mu_src.to(src_vecs)
    ys = en_vecs - mu_en.to(en_vecs)
    if normalize:
        xs, ys = _unit(xs, "source"), _unit(ys, "English")
    return xs, ys


@dataclass
class MeanCenter:
    """Per-language mean-centring as a FeatureMap of :mod:`wordot.neighbours`. Fitted state:
    the means ``mu_src, mu_en (d,)`` and, used with ``normalize``, the English radius ``r_en``
    (the mean distance of the English rows from ``mu_en``), all float64."""

    normalize: bool = False
    mu_src: Tensor | None = field(default=None, init=False)
    mu_en: Tensor | None = field(default=None, init=False)
    r_en: float | None = field(default=None, init=False)

    def fit(self, src: Tensor, en: Tensor) -> MeanCenter:
        """Per-language means of ``src (n_src, d)`` and ``en (n_en, d)``; the rows need not be
        aligned nor equal in number. Returns ``self``."""
        src, en = check_rows(src, "src"), check_rows(en, "en")
        if src.shape[1] != en.shape[1]:
            raise ValueError(
                f"dimension mismatch: src rows have d = {src.shape[1]}, en rows {en.shape[1]}"
            )
        s, e = src.detach().to(torch.float64), en.detach().to(torch.float64)
        self.mu_src, self.mu_en = s.mean(dim=0), e.mean(dim=0)
        self.r_en = float((e - self.mu_en).norm(dim=1).mean())
        return self

    def _means(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mu_src is None or self.mu_en is None:
            raise RuntimeError("MeanCenter used before fit")
        d = self.mu_src.shape[0]
        if x.dim() == 0 or x.shape[-1] != d:
            raise ValueError(f"x must have last dimension d = {d}, got shape {tuple(x.shape)}")
        return self.mu_src.to(x), self.mu_en.to(x)

    def map(self, x: Tensor) -> Tensor:
        """Source vectors ``(..., d)`` -> ``x - mu_src + mu_en``; with ``normalize``,
        ``mu_en + r_en * (x - mu_src) / |x - mu_src|``. In ``x``'s dtype."""
        mu_s, mu_e = self._means(x)
        xs = x - mu_s
        if self.normalize:
            assert self.r_en is not None
            xs = self.r_en * _unit(xs, "source")
        return xs + mu_e

    def both(self, src_vecs: Tensor, en_vecs: Tensor) -> tuple[Tensor, Tensor]:
        """:func:`center_both` with the fitted means and this map's ``normalize``."""
        mu_s, mu_e = self._means(src_vecs)
        return center_both(src_vecs, en_vecs, mu_s, mu_e, self.normalize)
