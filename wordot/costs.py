"""Ground costs between point clouds: ``C(x, y): (B, N, M)`` for ``x: (B, N, D)``, ``y: (B, M, D)``.

``"sqeuclidean"`` is ``|x - y|^2 / 2`` (geomloss ``p=2``), ``"euclidean"`` is ``|x - y|``
(geomloss ``p=1``), ``"cosine"`` is ``1 - cos(x, y)``; :func:`cost_power` gives the ``p`` that
links eps to geomloss' ``blur`` (``eps = blur**p``). The squared-Euclidean cost has a
hand-written backward (:class:`_HalfSqDist`), measured faster than autograd through ``cdist``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["Cost", "COSTS", "cost_matrix", "cost_power", "check_cost"]

Cost = Literal["sqeuclidean", "euclidean", "cosine"]


COSTS: tuple[str, ...] = ("sqeuclidean", "euclidean", "cosine")


_COST_POWER = {"sqeuclidean": 2, "euclidean": 1, "cosine": 1}


def cost_matrix(x: Tensor, y: Tensor, cost: Cost = "sqeuclidean") -> Tensor:
    """Ground cost between two batched clouds: ``(B, N, D), (B, M, D) -> (B, N, M)``."""
    check_cost(cost)
    if cost == "cosine":
        xn = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        yn = y / y.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return 1.0 - xn @ yn.transpose(-1, -2)
    half_sq = _HalfSqDist.apply(x, None if y is x else y)
    if cost == "sqeuclidean":
        return half_sq
    # euclidean: exactly 0 where two points coincide, with a zero (not NaN) gradient there
    sq = 2.0 * half_sq
    return torch.where(sq > 0, sq.clamp_min(1e-30).sqrt(), 0.0)


class _HalfSqDist(torch.autograd.Function):
    """``|x_i - y_j|^2 / 2: (B, N, D), (B, M, D) -> (B, N, M)``; ``y=None`` means ``y = x``.

    Expanded as ``(|x|^2 + |y|^2) / 2 - x.y`` (one batched matmul, clamped at 0, with an exact
    zero diagonal for ``y = x``), with the gradient written out: ``dx = x * rowsum(G) - G y``
    and ``dy = y * colsum(G) - G^T x``, or ``dx = x * (rowsum + colsum)(G) - (G + G^T) x`` for
    ``y = x``. Autograd through the expansion would spend twice the passes over the
    ``(B, N, D)`` inputs (and one more matmul for ``y = x``), which dominate a forward+backward
    at D = 768.
    """

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor | None) -> Tensor:
        yy = x if y is None else y
        xx2 = 0.5 * (x * x).sum(-1)
        yy2 = xx2 if y is None else 0.5 * (yy * yy).sum(-1)
        norms = xx2.unsqueeze(-1) + yy2.unsqueeze(-2)
        if x.dim() == 3 and yy.dim() == 3 and norms.shape[0] == x.shape[0] == yy.shape[0]:
            C = torch.baddbmm(norms, x, yy.transpose(-1, -2), alpha=-1)
        else:  # 2-D or broadcast batch dimensions
            C = norms - x @ yy.transpose(-1, -2)
        if y is None:  # exact zeros, not rounding noise (which sqrt would blow up to ~1e-4)
            C.diagonal(dim1=-2, dim2=-1).zero_()
        ctx.save_for_backward(x, y)
        return C.clamp_min_(0.0)

    @staticmethod
    def backward(ctx, G: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, y = ctx.saved_tensors
        if y is None:
            Gs = G + G.transpose(-1, -2)
            dx = x * Gs.sum(-1, keepdim=True) - Gs @ x
            return dx.sum_to_size(x.shape), None
        dx = dy = None
        if ctx.needs_input_grad[0]:
            dx = (x * G.sum(-1, keepdim=True) - G @ y).sum_to_size(x.shape)
        if ctx.needs_input_grad[1]:
            dy = (y * G.sum(-2).unsqueeze(-1) - G.transpose(-1, -2) @ x).sum_to_size(y.shape)
        return dx, dy


def cost_power(cost: Cost) -> int:
    """The exponent p of a cost in geomloss' convention (eps = blur**p, rho = reach**p)."""
    check_cost(cost)
    return _COST_POWER[cost]


def check_cost(cost: object) -> None:
    if not (isinstance(cost, str) and cost in _COST_POWER):
        raise ValueError(f"unknown cost {cost!r}; choose one of {COSTS}")
