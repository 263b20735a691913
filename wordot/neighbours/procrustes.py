"""Procrustes rotation of contextual word vectors, as in Wang et al. (2020).

Wang et al. (2020, "Cross-lingual alignment vs joint training", Sections 2.1 and 3.2, Appendix
A) align a multilingual encoder's fixed outputs by an orthogonal map fitted on the contextual
vectors of word pairs that a statistical aligner ("such as fastalign") found in 30k parallel
Europarl sentences per language pair, a word's vector being the average of its subwords'
vectors. Written for rows, with ``src`` and ``en`` the ``(n, d)`` vectors of the n aligned
pairs (row i of one aligned to row i of the other):

    W* = argmin_{W^T W = I} || src @ W - en ||_F = U V^T,   U S V^T = SVD(src^T en),

the paper's Eq. 2-3 (``W* = U V^T`` with ``U S V^T = SVD(X_L2 X_L1^T)``, vectors as columns)
transposed. ``map(x) = x @ W`` sends source vectors ``(m, d)`` into the English space. One map
per language and per layer: the paper's features are the sum of M-BERT's last 4 layers, with
"alignment matrices, one for each layer" (here one :class:`Procrustes` per language and layer;
the caller loops).

Section 3.2 says to "solve Eq. (1) as described in Section 2.1": Eq. 1 is least squares over all
W, and Section 2.1 goes on to restrict W to be orthogonal (Xing et al. 2015), giving Eq. 2-3; we
read it as the orthogonal solution, as is the rotation of the cited Aldarmaki & Diab (2019). The
paper fits on the raw vectors: it mentions no centring and no length normalisation for the
contextual case. W may be a reflection (``det W = -1``): the paper's closed form, like scipy's
``orthogonal_procrustes``, ranges over all orthogonal matrices.

Departures and options:

* ``ProcrustesOptions.center`` (off by default, not in the paper): subtract each side's mean
  before fitting and ``map(x) = (x - mu_src) @ W + mu_en``, a rotation plus a translation.
  Raw contextual vectors share a large mean direction that an uncentred rotation must also
  carry; centring fits the rotation to the spread around it.
* The paper does not say what happens when the problem is degenerate. Here fewer pairs than
  d (d + 1 with ``center``: centred rows sum to zero) raise a ``ValueError`` naming the rank
  and the number of pairs, and so does a cross-covariance ``src^T en`` of lower rank than the
  source rows themselves: a direction the source vectors occupy would then be mapped
  arbitrarily. A cross-covariance of rank ``r < d`` whose deficiency is the source rows' own
  (they span only ``r`` directions at float32 precision, from at least d pairs) is accepted:
  W is unique on that
  span, and :attr:`Procrustes.rank` records ``r``. That is the case of a post-LayerNorm
  encoder whose LayerNorm has no bias along some direction (the tiny random encoder of the
  tests; measured rank 63 of 64 from 251 pairs): every hidden state satisfies
  ``sum_j (x_j - beta_j) / gamma_j = 0``, so all of them, and all averages of them, lie in one
  hyperplane, through the origin when ``beta = 0``, and the completion outside it never acts.
  The cross-covariance's rank counts the singular values above ``s_max * max(n, d) *
  eps(float64)``, the source rows' rank those above the same with ``eps(float32)`` (their
  own precision), so exact deficiency is caught and a merely ill-conditioned problem is not;
  :attr:`Procrustes.singular_values` holds the spectrum for a caller who wants the condition.

The SVD runs in float64 on the float32 inputs (exactly converted); W is returned as float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

__all__ = ["Procrustes", "ProcrustesOptions", "check_rows", "orthogonal_map"]


def check_rows(x: Tensor, name: str) -> Tensor:
    """``x`` as a 2-D ``(n, d)`` tensor with ``n >= 1`` finite rows, else a ``ValueError``
    naming ``name`` and the problem."""
    x = torch.as_tensor(x)
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} has no rows or no dimensions: shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {x.dtype}")
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf)")
    return x


def _check_pairs(src: Tensor, en: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Aligned rows as float64 numpy arrays, checked."""
    src, en = check_rows(src, "src"), check_rows(en, "en")
    if src.shape != en.shape:
        raise ValueError(
            f"src and en must have the same shape (n, d), row i aligned to row i; got "
            f"{tuple(src.shape)} and {tuple(en.shape)}"
        )
    return _float64(src), _float64(en)


def _float64(x: Tensor) -> np.ndarray:
    return x.detach().cpu().to(torch.float64).numpy()


def _rank(m: np.ndarray, eps: float, sv: np.ndarray | None = None) -> int:
    """Numerical rank: singular values above ``s_max * max(shape) * eps``."""
    sv = np.linalg.svd(m, compute_uv=False) if sv is None else sv
    return int((sv > sv[0] * max(m.shape) * eps).sum()) if sv[0] > 0 else 0


def _solve(s: np.ndarray, e: np.ndarray, centred: bool = False) -> tuple[Tensor, Tensor, int]:
    """W (d, d) float32, the singular values of ``s^T e`` (float64, descending) and its rank."""
    n, d = s.shape
    sv = np.linalg.svd(s.T @ e, compute_uv=False)
    rank = _rank(s.T @ e, np.finfo(np.float64).eps, sv)
    # the directions the source rows span, at the precision they came in (float32)
    spanned = _rank(s, np.finfo(np.float32).eps)
    need = d + 1 if centred else d
    if n < need or rank == 0 or rank < min(d, spanned):
        raise ValueError(
            f"rank-deficient Procrustes problem: the cross-covariance src^T en has rank {rank} "
            f"< d = {d} from {n} pairs{' (centred)' if centred else ''}, so the rotation is not "
            f"unique; fit on at least {need} pairs that span all d directions"
        )
    W, _ = scipy.linalg.orthogonal_procrustes(s, e, check_finite=False)
    return torch.from_numpy(W).to(torch.float32), torch.from_numpy(sv), rank


def orthogonal_map(src: Tensor, en: Tensor) -> Tensor:
    """The orthogonal ``W (d, d)`` minimising ``||src @ W - en||_F`` over aligned rows
    ``src, en: (n, d)``; float64 SVD, float32 result. Raises on bad or rank-deficient input."""
    return _solve(*_check_pairs(src, en))[0]


@dataclass(frozen=True)
class ProcrustesOptions:
    """``center``: subtract each language's mean before fitting and add the English mean back
    after rotating (a departure from Wang et al. 2020, who rotate the raw vectors)."""

    center: bool = False


@dataclass
class Procrustes:
    """Wang et al. (2020)'s orthogonal map for one language (and layer): the FeatureMap
    protocol of :mod:`wordot.neighbours`. Fitted state: ``W (d, d)`` float32, the means
    ``mu_src, mu_en (d,)`` (float64, only with ``center``), the ``singular_values (d,)`` of the
    (centred) cross-covariance and ``n_pairs``."""

    options: ProcrustesOptions = field(default_factory=ProcrustesOptions)
    W: Tensor | None = field(default=None, init=False)
    mu_src: Tensor | None = field(default=None, init=False)
    mu_en: Tensor | None = field(default=None, init=False)
    singular_values: Tensor | None = field(default=None, init=False)
    rank: int = field(default=0, init=False)
    n_pairs: int = field(default=0, init=False)

    def fit(self, src: Tensor, en: Tensor) -> Procrustes:
        """Fit on aligned rows ``src, en: (n, d)``; returns ``self``."""
        s, e = _check_pairs(src, en)
        mu_s = mu_e = None
        if self.options.center:
            mu_s, mu_e = s.mean(axis=0), e.mean(axis=0)
            s, e = s - mu_s, e - mu_e
        self.W, self.singular_values, self.rank = _solve(s, e, centred=self.options.center)
        self.mu_src = None if mu_s is None else torch.from_numpy(mu_s)
        self.mu_en = None if mu_e is None else torch.from_numpy(mu_e)
        self.n_pairs = s.shape[0]
        return self

    def map(self, x: Tensor) -> Tensor:
        """Source vectors ``(..., d)`` -> ``x @ W`` (with ``center``: ``(x - mu_src) @ W +
        mu_en``), in ``x``'s dtype."""
        if self.W is None:
            raise RuntimeError("Procrustes.map called before fit")
        d = self.W.shape[0]
        if x.dim() == 0 or x.shape[-1] != d:
            raise ValueError(f"x must have last dimension d = {d}, got shape {tuple(x.shape)}")
        W = self.W.to(dtype=x.dtype, device=x.device)
        if self.mu_src is None or self.mu_en is None:
            return x @ W
        mu_s, mu_e = (m.to(dtype=x.dtype, device=x.device) for m in (self.mu_src, self.mu_en))
        return (x - mu_s) @ W + mu_e
