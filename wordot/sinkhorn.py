"""The Sinkhorn solver on checked, batched inputs: the engine behind :mod:`wordot.ot`.

Everything here takes tensors that :mod:`wordot.ot` has already checked and batched: costs
``C: (P, N, M)``, weights ``a: (P, N)`` and ``b: (P, M)`` that sum to one with zeros at padding,
``eps > 0`` and ``rho = reach**p`` (None: balanced). The conventions (log domain, dual
potentials, the KL(pi | a x b) value) are those of :mod:`wordot.ot`'s docstring; read that
first. Call the public functions of :mod:`wordot.ot`, not these.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .costs import Cost, cost_matrix

__all__ = [
    "SinkhornResult",
    "SolverOptions",
    "default_tol",
    "exp_floor",
    "log_weights",
    "masked_cost",
    "masked_dot",
    "solve",
    "solve_pair",
]


def log_weights(w: Tensor) -> Tensor:
    """log w with -inf where w == 0 (padding), differentiable where w > 0."""
    return torch.where(w > 0, w.clamp_min(torch.finfo(w.dtype).tiny).log(), -math.inf)


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


def exp_floor(dtype: torch.dtype) -> float:
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
    floor = exp_floor(z.dtype)
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


@dataclass(frozen=True)
class SolverOptions:
    """How far and how Sinkhorn iterates (see :func:`wordot.ot.sinkhorn` for each option)."""

    tol: float | None = None  # marginal tolerance (None: default_tol of the dtype)
    max_iter: int = 10_000
    scaling: float | None = 0.5  # eps-scaling factor of the warm start (None: no annealing)
    check_every: int = 5  # iterations between marginal-error checks
    grad: str = "envelope"  # "envelope" | "unrolled"
    warn: bool = True  # RuntimeWarning when max_iter is reached


def solve_pair(
    x: Tensor,
    y: Tensor | None,
    a: Tensor,
    b: Tensor | None,
    eps: float,
    cost: Cost,
    rho: float | None,
    opts: SolverOptions,
) -> SinkhornResult:
    """The solver on checked, batched inputs (see :func:`sinkhorn`).

    ``y=None`` solves the symmetric problem OT_eps(a, a) on ``x`` (see :func:`solve`).
    """
    symmetric = y is None
    if symmetric:
        y, b = x, a
    C = masked_cost(x, y, a, b, cost)
    return solve(C, a, b, symmetric, eps, rho, opts)


def masked_cost(x: Tensor, y: Tensor, a: Tensor, b: Tensor, cost: Cost) -> Tensor:
    """``C(x, y): (B, N, M)`` set to 0 wherever a point is padding (so its coordinates and their
    gradients never matter)."""
    C = cost_matrix(x, y, cost)
    pad_a, pad_b = a == 0, b == 0
    if bool(pad_a.any()) or bool(pad_b.any()):
        C = C.masked_fill(pad_a.unsqueeze(-1) | pad_b.unsqueeze(-2), 0.0)
    return C


def solve(
    C: Tensor,
    a: Tensor,
    b: Tensor,
    sym: bool | Tensor,
    eps: float,
    rho: float | None,
    opts: SolverOptions,
) -> SinkhornResult:
    """Sinkhorn on a stack of P problems: cost ``C: (P, N, M)``, weights ``a: (P, N), b: (P, M)``.

    ``sym`` (a bool, or a ``(P,)`` bool tensor) marks symmetric problems OT_eps(a, a) (``C``
    symmetric, ``a == b``), solved with the averaged update ``f <- (f + T(f)) / 2`` (Feydy et
    al. 2019), which keeps ``f == g``: alternating updates converge very slowly there and fix
    the potentials only up to a constant shift. The others alternate ``f <- T(g)``,
    ``g <- T(f)``. Problems that have converged (at an annealing level, or at ``eps``) drop out
    of the stack, so that slow ones do not drag the others along.
    """
    tol, max_iter, scaling = opts.tol, opts.max_iter, opts.scaling
    unrolled = opts.grad == "unrolled"
    track = unrolled and torch.is_grad_enabled()
    loga, logb = log_weights(a), log_weights(b)
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
        if not math.isfinite(c_max):
            raise ValueError(
                f"the cost matrix has non-finite entries (largest {c_max}): the points are too "
                f"large for {C.dtype} (their costs overflow); rescale them or use float64"
            )
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
            check = n_iter % opts.check_every == 0 or n_iter == 1
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
    if not converged and opts.warn:
        warnings.warn(
            f"Sinkhorn did not converge in {max_iter} iterations at eps={eps:g} "
            f"(marginal error {err:.2e} > tol {tol:.1e}); raise max_iter or eps",
            RuntimeWarning,
            stacklevel=4,
        )
    if not unrolled:
        f, g = _extrapolate(C, loga, logb, f.detach(), g.detach(), eps, rho)
    value = masked_dot(a, f) + masked_dot(b, g)
    return SinkhornResult(f, g, value, n_iter, err, converged, errors, n_anneal)


def _scatter(full: Tensor, mask: Tensor, part: Tensor) -> Tensor:
    """``full`` with the rows selected by ``mask`` replaced by ``part`` (out of place)."""
    return full.index_copy(0, mask.nonzero().squeeze(-1), part)


@dataclass
class _Stack:
    """A stack of P problems for :func:`solve`: ``C: (P, N, M)``, its transpose, log-weights
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


def masked_dot(w: Tensor, f: Tensor) -> Tensor:
    """``sum_i w_i f_i`` over real points only: ``(B, N), (B, N) -> (B,)`` (padding ignored)."""
    return torch.where(w > 0, w * f, torch.zeros_like(f)).sum(-1)
