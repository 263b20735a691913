"""Entropic optimal transport on batched, padded point clouds.

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
are ~100x slower on x86 (:func:`_exp_floor`); the squared-Euclidean cost has a hand-written
backward (:class:`_HalfSqDist`). Known limit: the alternating updates crawl when the plan is
close to a permutation with near-ties (e.g. ``y`` a slightly perturbed copy of ``x`` at small
eps) -- the marginal error is then already small, but reaching ``tol = 1e-9`` in float64 can
take more than ``max_iter`` iterations (a RuntimeWarning says so). ``S_eps(x, x)`` itself is
exactly 0.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

Cost = Literal["sqeuclidean", "euclidean", "cosine"]
COSTS: tuple[str, ...] = ("sqeuclidean", "euclidean", "cosine")
_COST_POWER = {"sqeuclidean": 2, "euclidean": 1, "cosine": 1}


# --------------------------------------------------------------------------------------------
# costs and input checks
# --------------------------------------------------------------------------------------------


def cost_matrix(x: Tensor, y: Tensor, cost: Cost = "sqeuclidean") -> Tensor:
    """Ground cost between two batched clouds: ``(B, N, D), (B, M, D) -> (B, N, M)``."""
    _check_cost(cost)
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
    _check_cost(cost)
    return _COST_POWER[cost]


def _check_cost(cost: object) -> None:
    if not (isinstance(cost, str) and cost in _COST_POWER):
        raise ValueError(f"unknown cost {cost!r}; choose one of {COSTS}")


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


def _log_weights(w: Tensor) -> Tensor:
    """log w with -inf where w == 0 (padding), differentiable where w > 0."""
    return torch.where(w > 0, w.clamp_min(torch.finfo(w.dtype).tiny).log(), -math.inf)


# --------------------------------------------------------------------------------------------
# Sinkhorn
# --------------------------------------------------------------------------------------------


@dataclass
class SinkhornResult:
    """Dual potentials of one batched OT_eps problem and how the solver got there.

    ``f: (B, N)``, ``g: (B, M)``; ``value: (B,)`` is OT_eps (balanced) in the KL(pi|a x b)
    convention; ``n_iter`` counts iterations at the target eps (``max_iter`` caps it),
    ``n_anneal`` those of the eps-scaling warm start before; ``errors`` holds the largest
    marginal error over the batch at every check.
    """

    f: Tensor
    g: Tensor
    value: Tensor
    n_iter: int
    marginal_error: float
    converged: bool
    errors: list[float] = field(default_factory=list)
    n_anneal: int = 0


# eps-scaling: at each intermediate eps, iterate until the marginal error is below
# _LEVEL_TOL (1% of the mass misplaced) or _LEVEL_MAX_ITER iterations
_LEVEL_TOL = 1e-2
_LEVEL_MAX_ITER = 100


def _exp_floor(dtype: torch.dtype) -> float:
    """Smallest argument handed to ``exp`` after subtracting the row maximum.

    On x86 CPUs torch's ``exp`` is 50-100x slower where its result is subnormal or underflows
    (arguments below -87 in float32, -708 in float64), and so are products with tiny numbers in
    the backward pass; Sinkhorn at small eps is full of both. ``exp(floor)`` is far below the
    working precision (4e-18 in float32, 8e-40 in float64) next to the row's largest term, 1,
    so clamping changes no value or gradient beyond rounding, and the clamped entries get an
    exactly zero gradient.
    """
    return 2.5 * math.log(torch.finfo(dtype).eps)


def _lse(z: Tensor) -> Tensor:
    """``log sum_j exp(z_ij)`` over the last axis: ``(P, N, M) -> (P, N)``.

    Overwrites ``z`` (a temporary) unless autograd records it.
    """
    m = z.detach().amax(-1, keepdim=True)
    floor = _exp_floor(z.dtype)
    if z.requires_grad and torch.is_grad_enabled():
        s = (z - m).clamp_min(floor).exp().sum(-1)
    else:
        s = z.sub_(m).clamp_min_(floor).exp_().sum(-1)
    return s.log() + m.squeeze(-1)


def _softmin(eps: float, C: Tensor, h: Tensor) -> Tensor:
    """``-eps * logsumexp_j(h_j - C_ij / eps)``: ``(B, N, M), (B, M) -> (B, N)``."""
    return -eps * _lse(torch.add(h.unsqueeze(-2), C, alpha=-1.0 / eps))


def _damping(eps: float, rho: float | None) -> float:
    return 1.0 if rho is None else 1.0 / (1.0 + eps / rho)


def _damped(d: float, f: Tensor) -> Tensor:
    return f if d == 1.0 else d * f


def default_tol(dtype: torch.dtype) -> float:
    """Default marginal tolerance: 1e-5 in float32, 1e-9 in float64."""
    return 1e-9 if dtype == torch.float64 else 1e-5


def _eps_schedule(c_max: float, eps: float, scaling: float | None) -> list[float]:
    """Annealing temperatures ``c_max * scaling**k`` that are still above ``eps``."""
    if scaling is None or c_max <= eps:
        return []
    n_steps = int(math.ceil(math.log(eps / c_max) / math.log(scaling)))
    return [c_max * scaling**k for k in range(n_steps)]


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
    eps = _check_eps(eps)
    _check_cost(cost)
    rho = _check_reach(reach, cost)
    args = _solver_args(
        {
            "tol": tol,
            "max_iter": max_iter,
            "scaling": scaling,
            "check_every": check_every,
            "grad": grad,
            "warn": warn,
        }
    )
    x, y, a, b, _ = _prepare(x, y, a, b)
    return _sinkhorn(x, y, a, b, eps, cost, rho, **args)


def _sinkhorn(
    x: Tensor,
    y: Tensor | None,
    a: Tensor,
    b: Tensor | None,
    eps: float,
    cost: Cost,
    rho: float | None,
    tol: float | None,
    max_iter: int,
    scaling: float | None,
    check_every: int,
    grad: str,
    warn: bool,
) -> SinkhornResult:
    """The solver on checked, batched inputs (see :func:`sinkhorn`).

    ``y=None`` solves the symmetric problem OT_eps(a, a) on ``x`` (see :func:`_solve`).
    """
    symmetric = y is None
    if symmetric:
        y, b = x, a
    C = _masked_cost(x, y, a, b, cost)
    return _solve(C, a, b, symmetric, eps, rho, tol, max_iter, scaling, check_every, grad, warn)


def _masked_cost(x: Tensor, y: Tensor, a: Tensor, b: Tensor, cost: Cost) -> Tensor:
    """``C(x, y): (B, N, M)`` set to 0 wherever a point is padding (so its coordinates and their
    gradients never matter)."""
    C = cost_matrix(x, y, cost)
    pad_a, pad_b = a == 0, b == 0
    if bool(pad_a.any()) or bool(pad_b.any()):
        C = C.masked_fill(pad_a.unsqueeze(-1) | pad_b.unsqueeze(-2), 0.0)
    return C


def _solve(
    C: Tensor,
    a: Tensor,
    b: Tensor,
    sym: bool | Tensor,
    eps: float,
    rho: float | None,
    tol: float | None,
    max_iter: int,
    scaling: float | None,
    check_every: int,
    grad: str,
    warn: bool,
) -> SinkhornResult:
    """Sinkhorn on a stack of P problems: cost ``C: (P, N, M)``, weights ``a: (P, N), b: (P, M)``.

    ``sym`` (a bool, or a ``(P,)`` bool tensor) marks symmetric problems OT_eps(a, a) (``C``
    symmetric, ``a == b``), solved with the averaged update ``f <- (f + T(f)) / 2`` (Feydy et
    al. 2019), which keeps ``f == g``: alternating updates converge very slowly there and fix
    the potentials only up to a constant shift. The others alternate ``f <- T(g)``,
    ``g <- T(f)``. Problems that have converged (at an annealing level, or at ``eps``) drop out
    of the stack, so that slow ones do not drag the others along.
    """
    unrolled = grad == "unrolled"
    track = unrolled and torch.is_grad_enabled()
    loga, logb = _log_weights(a), _log_weights(b)
    # symmetric problems: True (all), None (none) or a (P, 1) mask
    symc: bool | Tensor | None = True if sym is True else None
    if isinstance(sym, Tensor):
        symc = sym.unsqueeze(-1) if bool(sym.any()) else None
    with torch.set_grad_enabled(track):
        stack = _Stack(
            C if track else C.detach(),
            loga if track else loga.detach(),
            logb if track else logb.detach(),
            b.detach(),
            symc,
        )
        c_max = float(stack.C.detach().max())
        tol = default_tol(C.dtype) if tol is None else float(tol)
        # rounding may keep the error from ever reaching tol in float32: the updates of f are
        # resolved to ~ machine epsilon * |f| / eps relative (the error settles at ~1/8 of
        # u * (max|f| + max|g|) / eps on mBERT-like batches), and to ~ u * max(C) / eps at worst;
        # an error below the first counts as converged, and one below the second too once it
        # stops decreasing
        u = torch.finfo(C.dtype).eps
        precision = 8 * u * max(1.0, c_max / eps)

        # eps-scaling warm start: eps_k = c_max * scaling**k down to eps, iterating at each
        # level until a loose marginal error; one sweep per level is not enough at small eps,
        # where the potentials then lag behind and Sinkhorn crawls for thousands of iterations
        schedule = _eps_schedule(c_max, eps, scaling)
        e0 = schedule[0] if schedule else eps
        d0 = _damping(e0, rho)
        f = _damped(d0, _softmin(e0, stack.C, stack.lb))
        g = f if symc is True else _damped(d0, _softmin(e0, stack.Ct, stack.la))
        n_anneal = 0
        for e in schedule[1:]:
            f, g, errs = stack.sweep(e, rho, f, g)
            n_anneal += 1
            slow = errs >= _LEVEL_TOL
            if bool(slow.any()):  # more sweeps, on the problems that need them only
                sub = stack.select(slow)
                fs, gs = f[slow], g[slow]
                for _ in range(_LEVEL_MAX_ITER - 1):
                    fs, gs, errs = sub.sweep(e, rho, fs, gs)
                    n_anneal += 1
                    if float(errs.max()) < _LEVEL_TOL:
                        break
                f, g = _scatter(f, slow, fs), _scatter(g, slow, gs)

        # iterate at eps until every problem has converged; converged problems are frozen
        errors: list[float] = []
        err, n_iter, converged = math.inf, 0, False
        f_out, g_out, active = f, g, None
        while n_iter < max_iter:
            n_iter += 1
            check = n_iter % check_every == 0 or n_iter == 1
            f, g, errs = stack.sweep(eps, rho, f, g, check)
            if errs is None:
                continue
            err = float(errs.max())
            resolution = u * float(f.detach().abs().amax() + g.detach().abs().amax()) / (8 * eps)
            # stalled: no 10% progress over the last 4 checks (plateaus are shorter)
            stalled = err < precision and len(errors) >= 4 and err > 0.9 * min(errors[:-3])
            errors.append(err)
            converged = err < max(tol, resolution) or stalled
            if converged:
                break
            done = errs < tol
            if bool(done.any()):
                if active is None:
                    active = torch.arange(f.shape[0], device=f.device)
                f_out = f_out.index_copy(0, active[done], f[done])
                g_out = g_out.index_copy(0, active[done], g[done])
                keep = ~done
                active, f, g, stack = active[keep], f[keep], g[keep], stack.select(keep)
        if active is not None:
            f, g = f_out.index_copy(0, active, f), g_out.index_copy(0, active, g)
    if not converged and warn:
        warnings.warn(
            f"Sinkhorn did not converge in {max_iter} iterations at eps={eps:g} "
            f"(marginal error {err:.2e} > tol {tol:.1e}); raise max_iter or eps",
            RuntimeWarning,
            stacklevel=4,
        )
    if not unrolled:
        f, g = _extrapolate(C, loga, logb, f.detach(), g.detach(), eps, rho)
    value = _dot(a, f) + _dot(b, g)
    return SinkhornResult(f, g, value, n_iter, err, converged, errors, n_anneal)


def _scatter(full: Tensor, mask: Tensor, part: Tensor) -> Tensor:
    """``full`` with the rows selected by ``mask`` replaced by ``part`` (out of place)."""
    return full.index_copy(0, mask.nonzero().squeeze(-1), part)


@dataclass
class _Stack:
    """A stack of P problems for :func:`_solve`: ``C: (P, N, M)``, its transpose, log-weights
    ``la: (P, N)``, ``lb: (P, M)``, weights ``b`` and which problems are symmetric."""

    C: Tensor
    la: Tensor
    lb: Tensor
    b: Tensor
    sym: bool | Tensor | None
    Ct: Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.Ct = self.C if self.sym is True else self.C.transpose(-1, -2).contiguous()

    def select(self, keep: Tensor) -> _Stack:
        """The sub-stack of the problems where ``keep: (P,)`` is True."""
        sym = self.sym
        if isinstance(sym, Tensor):
            sym = sym[keep]
            sym = sym if bool(sym.any()) else None
        sub = _Stack(self.C[keep], self.la[keep], self.lb[keep], self.b[keep], sym)
        if self.sym is not True:
            sub.Ct = self.Ct[keep]
        return sub

    def sweep(
        self, eps: float, rho: float | None, f: Tensor, g: Tensor, check: bool = True
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Update f then g; with ``check``, also the column error ``(P,)`` of (new f, old g)."""
        d = _damping(eps, rho)
        f, g = _relax(_damped(d, _softmin(eps, self.C, self.lb + g / eps)), f, g, self.sym)
        g_next = _damped(d, _softmin(eps, self.Ct, self.la + f / eps))
        errs = _errors(g, g_next, self.b, eps, rho) if check else None
        g, f = _relax(g_next, g, f, self.sym)
        if rho is not None and self.sym is not True:
            f, g = self._translate(f, g, rho)
        return f, g, errs

    def _translate(self, f: Tensor, g: Tensor, rho: float) -> tuple[Tensor, Tensor]:
        """Unbalanced OT: the best ``(f + t, g - t)`` (Sejourne et al. 2022, "translation
        invariant Sinkhorn"). The dual only pins the shift through the marginal penalties,
        which plain updates correct by a factor ``1 - eps / rho`` per iteration: with a large
        ``reach`` they would take ~``rho / eps`` iterations. The optimum is in closed form,
        ``t = rho / 2 * log(<a, exp(-f / rho)> / <b, exp(-g / rho)>)``."""
        t = (
            0.5
            * rho
            * (
                torch.logsumexp(self.la - f / rho, -1, keepdim=True)
                - torch.logsumexp(self.lb - g / rho, -1, keepdim=True)
            )
        )
        if isinstance(self.sym, Tensor):  # f == g there, and t == 0 up to rounding
            t = torch.where(self.sym, 0.0, t)
        return f + t, g - t


def _relax(
    new: Tensor, cur: Tensor, other: Tensor, sym: bool | Tensor | None
) -> tuple[Tensor, Tensor]:
    """(updated, other) potentials: symmetric problems average and keep ``f == g``."""
    if sym is None:
        return new, other
    if sym is True:
        new = 0.5 * (cur + new)
        return new, new
    new = torch.where(sym, 0.5 * (cur + new), new)
    return new, torch.where(sym, new, other)


def _errors(f: Tensor, f_next: Tensor, a: Tensor, eps: float, rho: float | None) -> Tensor:
    """Marginal error ``(P,)`` of the plan for ``(f, g)`` per problem, with ``f_next = T(g)``.

    Balanced: the rows of that plan are ``a_i exp((f_i - f_next_i) / eps)``; the error is
    ``sum_i |row_i - a_i|``. Unbalanced (``f_next = T(g) / (1 + eps / rho)``): the rows are
    compared with the marginal they should have at the optimum, ``a_i exp(-f_i / rho)``, which
    gives ``sum_i a_i exp(-f_i / rho) |exp((f_i - f_next_i) (1 / eps + 1 / rho)) - 1|``.
    With ``(g, T(f), b)`` instead, the same for the columns.
    """
    with torch.no_grad():
        a = a.detach()
        if rho is None:
            return (a * torch.expm1(((f - f_next) / eps).clamp_max(50.0))).abs().sum(-1)
        k = ((f - f_next) * (1.0 / eps + 1.0 / rho)).clamp_max(50.0)
        w = a * torch.exp((-f / rho).clamp_max(50.0))
        return (w * torch.expm1(k)).abs().sum(-1)


def _extrapolate(
    C: Tensor,
    loga: Tensor,
    logb: Tensor,
    f: Tensor,
    g: Tensor,
    eps: float,
    rho: float | None,
) -> tuple[Tensor, Tensor]:
    """One last update of both potentials from fixed converged ``(f, g)``, with autograd on.

    By the envelope theorem the gradient of ``<a, f> + <b, g>`` w.r.t. ``C`` is then the
    transport plan: ``f`` and ``g`` each bring one plan (exact marginals on one side), and the
    cost enters at half weight so that the gradient is their average. geomloss instead builds
    ``C(x, y.detach())`` and ``C(x.detach(), y)``; both agree at convergence, this needs one
    cost matrix instead of two.
    """
    if C.requires_grad:
        C = 0.5 * C + 0.5 * C.detach()
    d = _damping(eps, rho)
    f_new = _damped(d, _softmin(eps, C, logb + g / eps))
    g_new = _damped(d, _softmin(eps, C.transpose(-1, -2), loga + f / eps))
    return f_new, g_new


def _dot(w: Tensor, f: Tensor) -> Tensor:
    """``sum_i w_i f_i`` over real points only: ``(B, N), (B, N) -> (B,)`` (padding ignored)."""
    return torch.where(w > 0, w * f, torch.zeros_like(f)).sum(-1)


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
    eps = _check_eps(eps)
    _check_cost(cost)
    rho = _check_reach(reach, cost)
    args = _solver_args(solver)
    x, y, a, b, unbatched = _prepare(x, y, a, b)
    res = _sinkhorn(x, y, a, b, eps, cost, rho, **args)
    C = _masked_cost(x, y, a, b, cost)
    log_pi = (
        _log_weights(a).unsqueeze(-1)
        + _log_weights(b).unsqueeze(-2)
        + (res.f.unsqueeze(-1) + res.g.unsqueeze(-2) - C) / eps
    )
    floor = _exp_floor(log_pi.dtype)
    pi = log_pi.clamp_min(floor).exp().masked_fill(log_pi < floor, 0.0)
    return pi[0] if unbatched else pi


def effective_partners(plan: Tensor, mask: Tensor | None = None) -> Tensor:
    """Effective number of partners of every row: ``exp(entropy)`` of the row normalised to
    sum 1 (1 = all mass to one column, M = spread evenly). ``plan: (..., N, M)`` ->
    ``(..., N)``, or the real rows only (1-D) when a row ``mask: (..., N)`` is given. Empty
    rows (padding) count as 1 partner."""
    rows = plan / plan.sum(-1, keepdim=True).clamp_min(torch.finfo(plan.dtype).tiny)
    k = torch.exp(-torch.special.xlogy(rows, rows).sum(-1))
    return k[mask] if mask is not None else k


def _solver_args(solver: dict) -> dict:
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
    return args


_SOLVER_DEFAULTS: dict[str, object] = {
    "tol": None,
    "max_iter": 10_000,
    "scaling": 0.5,
    "check_every": 5,
    "grad": "envelope",
    "warn": True,
}


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
    eps = _check_eps(eps)
    _check_cost(cost)
    args = _solver_args(solver)
    x, y, a, b, unbatched = _prepare(x, y, a, b)
    res = _sinkhorn(x, y, a, b, eps, cost, None, **args)
    return res.value[0] if unbatched else res.value


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
    eps = _check_eps(eps)
    _check_cost(cost)
    rho = _check_reach(reach, cost)
    if backend not in ("wordot", "geomloss"):
        raise ValueError(f"unknown backend {backend!r}; choose 'wordot' or 'geomloss'")
    args = _solver_args(solver)
    x, y, a, b, unbatched = _prepare(x, y, a, b)
    if backend == "geomloss":
        out = _geomloss_divergence(x, y, a, b, eps, cost, reach, scaling=args["scaling"])
    else:
        out = _divergence(x, y, a, b, eps, cost, rho, args)
    return out[0] if unbatched else out


def _divergence(
    x: Tensor,
    y: Tensor,
    a: Tensor,
    b: Tensor,
    eps: float,
    cost: Cost,
    rho: float | None,
    args: dict,
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
            pad(_masked_cost(x, y, a, b, cost)),
            pad(_masked_cost(x, x, a, a, cost)),
            pad(_masked_cost(y, y, b, b, cost)),
        ]
    )
    A = torch.cat([pad(a), pad(a), pad(b)])
    Bw = torch.cat([pad(b), pad(a), pad(b)])
    sym = torch.arange(3 * B, device=x.device) >= B
    res = _solve(C, A, Bw, sym, eps, rho, **args)
    if rho is None:
        v = res.value
        return v[:B] - 0.5 * (v[B : 2 * B] + v[2 * B :])
    # Proposition 12 of Sejourne et al. (2019), as in geomloss
    f, g = res.f, res.g
    f_ab, g_ab, f_aa, g_bb = f[:B, :N], g[:B, :M], f[B : 2 * B, :N], g[2 * B :, :M]
    w = rho + eps / 2
    out = w * _dot(a, torch.exp(-f_aa / rho) - torch.exp(-f_ab / rho))
    return out + w * _dot(b, torch.exp(-g_bb / rho) - torch.exp(-g_ab / rho))


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


# --------------------------------------------------------------------------------------------
# exact OT (small problems) through POT
# --------------------------------------------------------------------------------------------


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

    _check_cost(cost)
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
