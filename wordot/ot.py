"""Entropic optimal transport on batched, padded point clouds: the public API.

The ground costs live in :mod:`wordot.costs`, the solver engine in :mod:`wordot.sinkhorn`; this
module checks every input and holds what a chapter calls.

The conventions follow Feydy et al. (2019) and geomloss, so that every number here can be
checked against geomloss and POT:

* point clouds ``x: (B, N, D)`` and ``y: (B, M, D)`` (a 2-D ``(N, D)`` input is a batch of one
  and gives unbatched outputs), weights ``a: (B, N)`` and ``b: (B, M)``; a zero weight marks a
  padded point. Weights are normalised to sum to one per row; ``None`` means uniform over all
  points.
* ``OT_eps(a, b) = min_pi <pi, C> + eps * KL(pi | a x b)`` (Eq. 1 of the WordOT paper), solved
  in the log domain through its dual potentials ``f: (B, N)`` and ``g: (B, M)``:
  ``pi_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)`` and ``OT_eps = <a, f> + <b, g>``.
* ``S_eps(a, b) = OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2`` (debiased, >= 0).
* costs: ``"sqeuclidean"`` is ``|x - y|^2 / 2`` (geomloss ``p=2``, where ``eps = blur**2``),
  ``"euclidean"`` is ``|x - y|`` (geomloss ``p=1``, ``eps = blur``), ``"cosine"`` is
  ``1 - cos(x, y)``.

Sinkhorn iterates until the marginal error ``sum_i |(pi 1)_i - a_i|`` falls below a tolerance
(not a fixed count of iterations), after an eps-scaling warm start that also iterates each
intermediate eps to a loose tolerance. Gradients come either from one final extrapolation step
with the converged potentials held fixed (``grad="envelope"``, the envelope theorem, as geomloss
does) or by unrolling every iteration (``grad="unrolled"``).

Speed (CPU, small batched problems): the three problems of ``S_eps`` run as one stacked batch;
converged problems drop out of it; exponents are clamped before ``exp``, whose subnormal results
are ~100x slower on x86 (:func:`wordot.sinkhorn.exp_floor`); the squared-Euclidean cost has a
hand-written backward (:mod:`wordot.costs`). Known limit: the alternating updates crawl when the plan is
close to a permutation with near-ties (e.g. ``y`` a slightly perturbed copy of ``x`` at small
eps) -- the marginal error is then already small, but reaching ``tol = 1e-9`` in float64 can
take more than ``max_iter`` iterations (a RuntimeWarning says so). ``S_eps(x, x)`` itself is
exactly 0.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .costs import COSTS, Cost, check_cost, cost_matrix, cost_power
from .sinkhorn import (
    SinkhornResult,
    SolverOptions,
    default_tol,
    exp_floor,
    log_weights,
    masked_cost,
    masked_dot,
    solve,
    solve_pair,
)

__all__ = [
    "COSTS",
    "Cost",
    "SinkhornResult",
    "cost_matrix",
    "cost_power",
    "default_tol",
    "effective_partners",
    "exact_ot",
    "mbert_like",
    "ot_eps",
    "sinkhorn",
    "sinkhorn_divergence",
    "transport_plan",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _is_real(v: object) -> bool:
    """A real number (Python, numpy or a one-element tensor), not a bool."""
    if isinstance(v, Tensor):
        return v.numel() == 1 and not v.dtype.is_complex and v.dtype != torch.bool
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_cloud(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape (B, N, D) or (N, D), got {tuple(x.shape)}")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not _all_finite(x):
        raise ValueError(f"{name} contains NaN or inf (pad with zeros, not NaN)")


def _all_finite(x: Tensor) -> bool:
    """No NaN or inf in ``x``: one sum (NaN and inf propagate), elementwise only if it overflows."""
    with torch.no_grad():
        return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _check_weights(name: str, w: Tensor | None, cloud: Tensor) -> Tensor:
    """Validate weights ``(B, N)`` for a cloud ``(B, N, D)`` and normalise each row to sum 1."""
    B, N = cloud.shape[:2]
    if w is None:
        return torch.full((B, N), 1.0 / N, dtype=cloud.dtype, device=cloud.device)
    if not isinstance(w, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or None, got {type(w).__name__}")
    shape = tuple(w.shape)
    if w.dim() == 1:
        w = w.unsqueeze(0)
    if w.shape != (B, N):
        raise ValueError(f"{name} has shape {shape} but its cloud needs ({B}, {N})")
    if not torch.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or inf")
    if (w < 0).any():
        raise ValueError(f"{name} has negative weights")
    total = w.sum(-1, keepdim=True)
    empty = (total <= 0).flatten().nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"{name}: row(s) {empty} have zero total weight (every point padded)")
    return (w / total).to(cloud.dtype)


def _check_eps(eps: float) -> float:
    if not _is_real(eps) or not math.isfinite(float(eps)) or float(eps) <= 0:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    return float(eps)


def _check_reach(reach: float | None, cost: Cost) -> float | None:
    """``rho = reach**p`` for unbalanced OT, None for balanced."""
    if reach is None:
        return None
    if not _is_real(reach) or not math.isfinite(float(reach)) or float(reach) <= 0:
        raise ValueError(f"reach must be a positive finite number or None, got {reach!r}")
    return float(reach) ** cost_power(cost)


def _prepare(
    x: Tensor, y: Tensor, a: Tensor | None, b: Tensor | None
) -> tuple[Tensor, Tensor, Tensor, Tensor, bool]:
    """Batch 2-D inputs, check shapes and values, return normalised weights."""
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise ValueError("x and y must be torch.Tensors")
    if x.dim() != y.dim():
        raise ValueError(
            f"x and y must both be (N, D) or (B, N, D), got {x.dim()}-D and {y.dim()}-D"
        )
    unbatched = x.dim() == 2
    if unbatched:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
        a = a.unsqueeze(0) if isinstance(a, Tensor) and a.dim() == 1 else a
        b = b.unsqueeze(0) if isinstance(b, Tensor) and b.dim() == 1 else b
    _check_cloud("x", x)
    _check_cloud("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"batch sizes differ: x has {x.shape[0]}, y has {y.shape[0]}")
    if x.shape[2] != y.shape[2]:
        raise ValueError(f"feature dimensions differ: x has D={x.shape[2]}, y has D={y.shape[2]}")
    if x.dtype != y.dtype:
        raise ValueError(f"x and y have different dtypes: {x.dtype} and {y.dtype}")
    if x.device != y.device:
        raise ValueError(f"x and y are on different devices: {x.device} and {y.device}")
    return x, y, _check_weights("a", a, x), _check_weights("b", b, y), unbatched


@dataclass(frozen=True)
class _Problem:
    """Checked inputs of one call: batched clouds ``(B, N, D)``, ``(B, M, D)``, normalised
    weights, eps, ``rho = reach**p`` (None: balanced) and the solver options."""

    x: Tensor
    y: Tensor
    a: Tensor
    b: Tensor
    unbatched: bool
    eps: float
    rho: float | None
    opts: SolverOptions


def _problem(
    x: Tensor,
    y: Tensor,
    a: Tensor | None,
    b: Tensor | None,
    eps: float,
    cost: Cost,
    reach: float | None,
    solver: dict,
) -> _Problem:
    """Check every argument of a public solver call (in the order errors are reported)."""
    eps = _check_eps(eps)
    check_cost(cost)
    rho = _check_reach(reach, cost)
    opts = _solver_options(solver)
    x, y, a, b, unbatched = _prepare(x, y, a, b)
    return _Problem(x, y, a, b, unbatched, eps, rho, opts)


def sinkhorn(
    x: Tensor,
    y: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    eps: float,
    cost: Cost = "sqeuclidean",
    reach: float | None = None,
    tol: float | None = None,
    max_iter: int = 10_000,
    scaling: float | None = 0.5,
    check_every: int = 5,
    grad: Literal["envelope", "unrolled"] = "envelope",
    warn: bool = True,
) -> SinkhornResult:
    """Solve OT_eps between ``x: (B, N, D)`` and ``y: (B, M, D)`` in the log domain.

    ``scaling`` in (0, 1) anneals eps geometrically from the cloud's largest cost down to
    ``eps`` as a warm start (None: no annealing); iterations then continue at ``eps`` until the
    marginal error is below ``tol`` (with ``reach``, unbalanced OT with a KL marginal penalty
    ``rho = reach**p``: against the relaxed marginals ``a exp(-f / rho)``). In float32
    it also stops, converged, when the error stalls below what the precision of ``C / eps``
    allows (``8 * 1.2e-7 * max(C) / eps``).
    """
    solver = {
        "tol": tol,
        "max_iter": max_iter,
        "scaling": scaling,
        "check_every": check_every,
        "grad": grad,
        "warn": warn,
    }
    q = _problem(x, y, a, b, eps, cost, reach, solver)
    return solve_pair(q.x, q.y, q.a, q.b, q.eps, cost, q.rho, q.opts)


def transport_plan(
    x: Tensor,
    y: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    eps: float,
    cost: Cost = "sqeuclidean",
    reach: float | None = None,
    **solver: object,
) -> Tensor:
    """Entropic transport plan ``pi: (B, N, M)`` (or ``(N, M)`` for 2-D inputs).

    Computed in log space, ``pi = exp(log a_i + log b_j + (f_i + g_j - C_ij) / eps)``, so that
    small eps does not overflow (geomloss issue #80). Padded points get zero rows/columns.
    """
    q = _problem(x, y, a, b, eps, cost, reach, solver)
    res = solve_pair(q.x, q.y, q.a, q.b, q.eps, cost, q.rho, q.opts)
    C = masked_cost(q.x, q.y, q.a, q.b, cost)
    log_pi = (
        log_weights(q.a).unsqueeze(-1)
        + log_weights(q.b).unsqueeze(-2)
        + (res.f.unsqueeze(-1) + res.g.unsqueeze(-2) - C) / q.eps
    )
    floor = exp_floor(log_pi.dtype)
    pi = log_pi.clamp_min(floor).exp().masked_fill(log_pi < floor, 0.0)
    return pi[0] if q.unbatched else pi


def effective_partners(plan: Tensor, mask: Tensor | None = None) -> Tensor:
    """Effective number of partners of every row: ``exp(entropy)`` of the row normalised to
    sum 1 (1 = all mass to one column, M = spread evenly). ``plan: (..., N, M)`` ->
    ``(..., N)``, or the real rows only (1-D) when a row ``mask: (..., N)`` is given. Empty
    rows (padding) count as 1 partner."""
    rows = plan / plan.sum(-1, keepdim=True).clamp_min(torch.finfo(plan.dtype).tiny)
    k = torch.exp(-torch.special.xlogy(rows, rows).sum(-1))
    return k[mask] if mask is not None else k


def _solver_options(solver: dict) -> SolverOptions:
    """Solver options with their defaults, checked."""
    unknown = set(solver) - set(_SOLVER_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown solver option(s) {sorted(unknown)}; allowed: {sorted(_SOLVER_DEFAULTS)}"
        )
    args = dict(_SOLVER_DEFAULTS)
    args.update(solver)
    if args["grad"] not in ("envelope", "unrolled"):
        raise ValueError(f"grad must be 'envelope' or 'unrolled', got {args['grad']!r}")
    scaling = args["scaling"]
    if scaling is not None and not (_is_real(scaling) and 0.0 < scaling < 1.0):
        raise ValueError(f"scaling must be in (0, 1) or None, got {scaling!r}")
    tol = args["tol"]
    if tol is not None and not (_is_real(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number or None, got {tol!r}")
    for key in ("max_iter", "check_every"):
        if not (isinstance(args[key], numbers.Integral) and args[key] >= 1):
            raise ValueError(f"{key} must be a positive integer, got {args[key]!r}")
    return SolverOptions(**args)


_SOLVER_DEFAULTS: dict[str, object] = dataclasses.asdict(SolverOptions())


def ot_eps(
    x: Tensor,
    y: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    eps: float,
    cost: Cost = "sqeuclidean",
    **solver: object,
) -> Tensor:
    """Biased entropic OT value ``OT_eps: (B,)`` in the KL(pi | a x b) convention."""
    q = _problem(x, y, a, b, eps, cost, None, solver)
    res = solve_pair(q.x, q.y, q.a, q.b, q.eps, cost, None, q.opts)
    return res.value[0] if q.unbatched else res.value


def sinkhorn_divergence(
    x: Tensor,
    y: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    eps: float,
    cost: Cost = "sqeuclidean",
    reach: float | None = None,
    backend: Literal["wordot", "geomloss"] = "wordot",
    **solver: object,
) -> Tensor:
    """Debiased Sinkhorn divergence ``S_eps(a, b): (B,)`` of Eq. 1 (``()`` for 2-D inputs).

    ``S_eps = OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2``; the three problems are
    solved together as one stacked batch. With ``reach`` the marginal constraints are relaxed
    to a KL penalty ``rho = reach**p`` (unbalanced OT, Sejourne et al. 2019).
    ``backend="geomloss"`` calls ``geomloss.SamplesLoss`` with the matching blur
    (``blur = eps**(1/p)``); its eps-scaling (``scaling``, default 0.5) stops short of
    convergence, so it agrees with ``"wordot"`` only to ~1e-2 relative on small clouds where
    eps is not small next to the costs.
    """
    if backend not in ("wordot", "geomloss"):
        raise ValueError(f"unknown backend {backend!r}; choose 'wordot' or 'geomloss'")
    q = _problem(x, y, a, b, eps, cost, reach, solver)
    if backend == "geomloss":
        out = _geomloss_divergence(q.x, q.y, q.a, q.b, q.eps, cost, reach, scaling=q.opts.scaling)
    else:
        out = _divergence(q.x, q.y, q.a, q.b, q.eps, cost, q.rho, q.opts)
    return out[0] if q.unbatched else out


def _divergence(
    x: Tensor,
    y: Tensor,
    a: Tensor,
    b: Tensor,
    eps: float,
    cost: Cost,
    rho: float | None,
    opts: SolverOptions,
) -> Tensor:
    """S_eps: OT(a, b), OT(a, a) and OT(b, b) as one stacked ``(3B, L, L)`` batch."""
    B, N, M = x.shape[0], x.shape[1], y.shape[1]
    if x.shape == y.shape and torch.equal(a, b) and (x is y or torch.equal(x, y)):
        # S_eps(a, a) = 0 exactly, and so is its gradient; solving OT(a, a) with the alternating
        # updates of an OT(a, b) problem instead would crawl (a near-identity plan)
        zero = (x * 0.0).sum((-1, -2)) + (y * 0.0).sum((-1, -2))  # keeps the autograd graph
        return zero + (a * 0.0).sum(-1) + (b * 0.0).sum(-1)
    L = max(N, M)

    def pad(t: Tensor) -> Tensor:  # zero cost / zero weight (= padding) up to L
        if t.dim() == 2:
            return F.pad(t, (0, L - t.shape[-1]))
        return F.pad(t, (0, L - t.shape[-1], 0, L - t.shape[-2]))

    C = torch.cat(
        [
            pad(masked_cost(x, y, a, b, cost)),
            pad(masked_cost(x, x, a, a, cost)),
            pad(masked_cost(y, y, b, b, cost)),
        ]
    )
    A = torch.cat([pad(a), pad(a), pad(b)])
    Bw = torch.cat([pad(b), pad(a), pad(b)])
    sym = torch.arange(3 * B, device=x.device) >= B
    res = solve(C, A, Bw, sym, eps, rho, opts)
    if rho is None:
        v = res.value
        return v[:B] - 0.5 * (v[B : 2 * B] + v[2 * B :])
    # Proposition 12 of Sejourne et al. (2019), as in geomloss
    f, g = res.f, res.g
    f_ab, g_ab, f_aa, g_bb = f[:B, :N], g[:B, :M], f[B : 2 * B, :N], g[2 * B :, :M]
    w = rho + eps / 2
    out = w * masked_dot(a, torch.exp(-f_aa / rho) - torch.exp(-f_ab / rho))
    return out + w * masked_dot(b, torch.exp(-g_bb / rho) - torch.exp(-g_ab / rho))


def _geomloss_divergence(
    x: Tensor,
    y: Tensor,
    a: Tensor,
    b: Tensor,
    eps: float,
    cost: Cost,
    reach: float | None,
    scaling: float | None = 0.5,
    **_: object,
) -> Tensor:
    """S_eps through ``geomloss.SamplesLoss`` (tensorized backend), same conventions."""
    from geomloss import SamplesLoss

    if scaling is None:
        raise ValueError("backend='geomloss' needs scaling in (0, 1), got None")
    p = cost_power(cost)
    kwargs: dict = {"p": p, "blur": eps ** (1.0 / p), "reach": reach, "scaling": scaling}
    if cost == "cosine":
        kwargs["cost"] = lambda u, v: cost_matrix(u, v, "cosine")
    loss = SamplesLoss("sinkhorn", debias=True, backend="tensorized", **kwargs)
    return loss(a, x, b, y)


def mbert_like(
    B: int, N: int, M: int, D: int = 768, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """Synthetic clouds shaped like raw mBERT last-layer word vectors, ``x: (B, N, D)`` and
    ``y: (B, M, D)``, for tests and benchmarks (not a model of any language).

    A shared mean direction (norm 8), per-dimension scales with a power-law spectrum (a few
    dominant directions), a small per-language offset; each target sentence holds a noisy copy
    of a random permutation of the source words' meanings. Norms come out ~10-15 and the mean
    cosine between words ~0.5, as for mBERT's last layers.
    """
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(D, generator=g, dtype=dtype)
    mean = 8.0 * mean / mean.norm()
    scales = torch.arange(1, D + 1, dtype=dtype) ** -0.6
    scales = scales[torch.randperm(D, generator=g)]
    scales = 0.27 * scales / scales.pow(2).mean().sqrt()
    lang = 0.08 * torch.randn(2, D, generator=g, dtype=dtype)
    L = max(N, M)
    z = scales * torch.randn(B, L, D, generator=g, dtype=dtype)
    perm = torch.stack([torch.randperm(L, generator=g) for _ in range(B)])
    zy = torch.gather(z, 1, perm[..., None].expand(-1, -1, D))
    x = mean + lang[0] + z[:, :N] + 0.5 * scales * torch.randn(B, N, D, generator=g, dtype=dtype)
    y = mean + lang[1] + zy[:, :M] + 0.5 * scales * torch.randn(B, M, D, generator=g, dtype=dtype)
    return x, y


def exact_ot(
    x: Tensor,
    y: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    cost: Cost = "sqeuclidean",
) -> tuple[Tensor, Tensor]:
    """Unregularised OT with POT's network simplex (``ot.emd``), in float64.

    Returns ``(value: (B,), plan: (B, N, M))`` (unbatched for 2-D inputs). No gradient.
    """
    import ot as pot

    check_cost(cost)
    x, y, a, b, unbatched = _prepare(x, y, a, b)
    C = cost_matrix(x.detach().double(), y.detach().double(), cost).cpu().numpy()
    an, bn = a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy()
    plans = np.zeros_like(C)
    for k in range(C.shape[0]):
        rows, cols = an[k] > 0, bn[k] > 0
        sub = pot.emd(an[k][rows], bn[k][cols], np.ascontiguousarray(C[k][np.ix_(rows, cols)]))
        plans[k][np.ix_(rows, cols)] = sub
    values = (plans * C).sum((1, 2))
    value_t = torch.from_numpy(values).to(x.device)
    plan_t = torch.from_numpy(plans).to(x.device)
    return (value_t[0], plan_t[0]) if unbatched else (value_t, plan_t)
