"""wordot.ot checked against POT and geomloss: values, plans, marginals, padding, gradients,
limits, unbalanced OT and input errors.

References are independent of wordot: POT's ``ot.bregman.sinkhorn_log`` run to a marginal
error below 1e-12 in float64 (and ``ot.emd`` for exact OT), and geomloss' ``SamplesLoss``.
Tolerances marked "measured" were measured on exactly these inputs (seeded) with torch 2.13,
POT 0.9.7 and geomloss 0.3.1; the bounds asserted leave a margin of 2-10x.

Inputs are "mBERT-like" word vectors (768-d, norms 10-15, a shared mean direction, an
anisotropic spectrum; each target sentence a noisy permutation of the source one), raw or
normalised to unit length.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import ot as pot
import pytest
import torch
from torch import Tensor

from wordot import ot as W

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------
# inputs and references
# --------------------------------------------------------------------------------------------


mbert_like = W.mbert_like  # raw mBERT-like clouds in float64


def unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def clouds(kind: str, N: int, M: int, seeds: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """One ``(N, M)`` pair per seed, stacked: ``(len(seeds), N, D)``, ``(len(seeds), M, D)``."""
    pairs = [mbert_like(1, N, M, seed=s) for s in seeds]
    x, y = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
    return (unit(x), unit(y)) if kind == "unit" else (x, y)


def pot_plan(a: np.ndarray, b: np.ndarray, C: np.ndarray, eps: float, sym: bool) -> np.ndarray:
    """Entropic plan from POT's ``sinkhorn_log``, converged to a marginal error < 1e-12.

    Plain Sinkhorn can take 1e4-1e5 iterations here, so POT is warm-started by an eps-scaling
    of its own runs (eps halved from max C), and for a symmetric problem OT(a, a) restarted
    from the symmetrised potentials (f + g) / 2: the alternating updates leave a slowly
    decaying shift f - g there. Every step is POT's solver; only the last run's error counts.
    """
    f, g = np.zeros_like(a), np.zeros_like(b)
    e = float(C.max())
    while True:
        e = max(e / 2, eps)
        last = e == eps
        for _ in range(200 if last else 1):
            with warnings.catch_warnings():  # exp overflow in its (unused) log["u"] output
                warnings.simplefilter("ignore", RuntimeWarning)
                P, log = pot.bregman.sinkhorn_log(
                    a,
                    b,
                    C,
                    e,
                    warmstart=(np.log(a) + f / e, np.log(b) + g / e),
                    stopThr=1e-12 if last else 1e-3,
                    numItermax=200,
                    log=True,
                    warn=False,
                )
            f, g = (log["log_u"] - np.log(a)) * e, (log["log_v"] - np.log(b)) * e
            if sym:
                f = g = 0.5 * (f + g)
            if last and log["err"][-1] < 1e-12:
                return P
        if last:
            raise AssertionError(f"POT did not converge (err {log['err'][-1]:.1e})")


def pot_ot_eps(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, eps: float, sym=False):
    """``(OT_eps, plan)`` with ``OT_eps = <P, C> + eps KL(P | a x b)``, ``C = |x - y|^2 / 2``."""
    C = 0.5 * pot.dist(x, y)  # squared Euclidean / 2 (geomloss' p = 2 convention)
    P = pot_plan(a, b, C, eps, sym)
    kl = np.sum(P * np.log(np.where(P > 0, P, 1.0) / np.outer(a, b)))
    return float(np.sum(P * C) + eps * kl), P


def pot_divergence(x: Tensor, y: Tensor, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """POT reference ``S_eps: (B,)`` and plans ``(B, N, M)``, uniform weights."""
    S, plans = [], []
    for u, v in zip(x.numpy(), y.numpy(), strict=True):
        a, b = np.full(len(u), 1 / len(u)), np.full(len(v), 1 / len(v))
        ab, P = pot_ot_eps(u, v, a, b, eps)
        aa, _ = pot_ot_eps(u, u, a, a, eps, sym=True)
        bb, _ = pot_ot_eps(v, v, b, b, eps, sym=True)
        S.append(ab - 0.5 * (aa + bb))
        plans.append(P)
    return np.array(S), np.stack(plans)


def max_rel(a: Tensor, b: Tensor) -> float:
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    return float(((a - b) / b).abs().max())


# --------------------------------------------------------------------------------------------
# against POT
# --------------------------------------------------------------------------------------------

# (kind, eps, (N, M), seeds): POT converges quickly on these (it does not on every problem:
# raw 8x6 clouds at eps 0.5 need ~1e5 POT iterations); raw clouds at eps 0.01 are capped at 12
POT_CASES = [
    ("raw", 0.01, (12, 10), (0, 1)),
    ("raw", 0.05, (8, 6), (0, 1, 2)),
    ("raw", 0.5, (6, 5), (0, 1, 2)),
    ("unit", 0.01, (12, 10), (0, 1)),
    ("unit", 0.05, (8, 6), (0, 1, 2)),
    ("unit", 0.5, (12, 10), (0, 1, 2)),
]


@pytest.fixture(scope="module")
def pot_refs() -> dict:
    """POT's S_eps and plans for every case of POT_CASES (computed once)."""
    refs = {}
    for kind, eps, (N, M), seeds in POT_CASES:
        x, y = clouds(kind, N, M, seeds)
        refs[kind, eps] = (x, y, *pot_divergence(x, y, eps))
    return refs


@pytest.mark.parametrize("kind,eps", [(c[0], c[1]) for c in POT_CASES])
def test_divergence_and_plan_match_pot_float64(pot_refs, kind, eps):
    x, y, S_pot, P_pot = pot_refs[kind, eps]
    S = W.sinkhorn_divergence(x, y, eps=eps)
    P = W.transport_plan(x, y, eps=eps)
    # the issue asks <= 1e-4 relative on S_eps and <= 1e-5 on plans; measured <= 3e-12 / 5e-10
    assert max_rel(S, S_pot) < 1e-9
    assert float((P - torch.from_numpy(P_pot)).abs().max()) < 1e-8
    # OT_eps(a, b) itself, from the same plan
    a, b = np.full(x.shape[1], 1 / x.shape[1]), np.full(y.shape[1], 1 / y.shape[1])
    ot_pot = [pot_ot_eps(u, v, a, b, eps)[0] for u, v in zip(x.numpy(), y.numpy(), strict=True)]
    assert max_rel(W.ot_eps(x, y, eps=eps), np.array(ot_pot)) < 1e-9


@pytest.mark.parametrize("kind,eps", [(c[0], c[1]) for c in POT_CASES])
def test_float32_close_to_pot(pot_refs, kind, eps):
    x, y, S_pot, P_pot = pot_refs[kind, eps]
    S = W.sinkhorn_divergence(x.float(), y.float(), eps=eps)
    P = W.transport_plan(x.float(), y.float(), eps=eps)
    assert S.dtype == torch.float32 and P.dtype == torch.float32
    # float32 resolves (f_i + g_j - C_ij) / eps to ~1e-7 * |C| / eps (raw clouds: C ~ 10-300);
    # measured S_eps <= 2.2e-6 relative; plans <= 6.3e-3 absolute at eps 0.01 on raw clouds
    # (C / eps ~ 1e4), <= 2e-4 at eps >= 0.05, <= 5e-5 on unit-norm clouds
    assert max_rel(S, S_pot) < 1e-5
    bound = 1.5e-2 if (kind, eps) == ("raw", 0.01) else 5e-4
    assert float((P.double() - torch.from_numpy(P_pot)).abs().max()) < bound


def test_plan_marginals_and_gibbs_form():
    x, y = clouds("unit", 9, 7, (3, 4))
    a = torch.rand(2, 9, dtype=F64, generator=torch.Generator().manual_seed(0)) + 0.5
    b = torch.rand(2, 7, dtype=F64, generator=torch.Generator().manual_seed(1)) + 0.5
    a, b = a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True)
    for eps in (0.02, 0.1, 1.0):
        P = W.transport_plan(x, y, a, b, eps=eps)
        assert (P >= 0).all()
        assert float((P.sum(-1) - a).abs().sum(-1).max()) < 1e-9  # default tol 1e-9 (float64)
        assert float((P.sum(-2) - b).abs().sum(-1).max()) < 1e-9
        P32 = W.transport_plan(x.float(), y.float(), a.float(), b.float(), eps=eps)
        assert float((P32.sum(-1) - a.float()).abs().sum(-1).max()) < 1e-4  # tol 1e-5 (float32)
        assert float((P32.sum(-2) - b.float()).abs().sum(-1).max()) < 1e-4


def test_marginal_error_reported_is_that_of_the_potentials():
    x, y = clouds("raw", 12, 10, (0,))
    res = W.sinkhorn(x, y, eps=0.05)
    assert res.converged and res.marginal_error < W.default_tol(F64)
    assert res.errors[-1] == res.marginal_error and res.n_anneal > 0
    assert res.f.shape == (1, 12) and res.g.shape == (1, 10) and res.value.shape == (1,)


# --------------------------------------------------------------------------------------------
# against geomloss
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_unit() -> tuple[Tensor, Tensor]:
    """Small unit-norm clouds (the POT-checked ``("unit", 0.05)`` inputs)."""
    return clouds("unit", 8, 6, (0, 1, 2))


# max relative deviation of geomloss from wordot (converged, = POT to 1e-12) on S_eps, float64,
# small_unit at eps = 0.05, measured: geomloss' eps-scaling does one sweep per eps and stops,
# so it lags behind. The issue quotes ~2e-2 (scaling 0.5) and 5e-4 (0.99); on other clouds we
# saw up to 1.1e-1 and 4e-3 (6 unit-norm 8x6 pairs), 1.8e-1 and 1e-3 (the same, raw)
GEOMLOSS_DEVIATION = {
    # cost: (measured at scaling 0.5, measured at 0.99)
    "sqeuclidean": (2.3e-2, 2.7e-3),
    "euclidean": (1.4e-2, 2.4e-4),
    "cosine": (2.5e-2, 7.5e-4),
}


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean", "cosine"])
def test_matches_geomloss_within_its_eps_scaling_error(small_unit, cost):
    x, y = small_unit
    S = W.sinkhorn_divergence(x, y, eps=0.05, cost=cost)
    g05 = W.sinkhorn_divergence(x, y, eps=0.05, cost=cost, backend="geomloss")
    g99 = W.sinkhorn_divergence(x, y, eps=0.05, cost=cost, backend="geomloss", scaling=0.99)
    d05, d99 = max_rel(g05, S), max_rel(g99, S)
    bound05, bound99 = GEOMLOSS_DEVIATION[cost]
    assert d05 < 2 * bound05 and d99 < 2 * bound99
    assert d99 < d05 / 5  # a finer eps-scaling closes most of the gap (measured 8.5x-58x)


def test_geomloss_agrees_tightly_where_it_converges(small_unit):
    # at eps = 0.5 on unit-norm clouds geomloss' schedule is nearly converged: measured 3e-7
    # (sqeuclidean), 1e-7 (cosine) at scaling 0.99
    x, y = small_unit
    for cost in ("sqeuclidean", "cosine"):
        S = W.sinkhorn_divergence(x, y, eps=0.5, cost=cost)
        g = W.sinkhorn_divergence(x, y, eps=0.5, cost=cost, backend="geomloss", scaling=0.99)
        assert max_rel(g, S) < 3e-6


def test_geomloss_backend_matches_geomloss_called_directly(small_unit):
    from geomloss import SamplesLoss

    x, y = small_unit
    direct = SamplesLoss("sinkhorn", p=2, blur=0.05**0.5, backend="tensorized")(x, y)
    assert torch.allclose(W.sinkhorn_divergence(x, y, eps=0.05, backend="geomloss"), direct)


# --------------------------------------------------------------------------------------------
# padding, batching, shapes
# --------------------------------------------------------------------------------------------


def _padded(x: Tensor, y: Tensor, n_pad_x: int, n_pad_y: int):
    """Append zero-weight points with arbitrary (large, finite) coordinates."""
    g = torch.Generator().manual_seed(7)
    B, N, D = x.shape
    M = y.shape[1]
    xp = torch.cat([x, 1e3 * torch.randn(B, n_pad_x, D, generator=g, dtype=x.dtype)], 1)
    yp = torch.cat([y, -50.0 + torch.randn(B, n_pad_y, D, generator=g, dtype=y.dtype)], 1)
    a = torch.cat([torch.full((B, N), 1.0 / N, dtype=x.dtype), torch.zeros(B, n_pad_x)], 1)
    b = torch.cat([torch.full((B, M), 1.0 / M, dtype=y.dtype), torch.zeros(B, n_pad_y)], 1)
    return xp, yp, a.to(x.dtype), b.to(y.dtype)


@pytest.mark.parametrize("reach", [None, 1.0])
def test_padding_is_invisible(reach):
    x, y = clouds("unit", 7, 5, (0, 1))
    xp, yp, a, b = _padded(x, y, 3, 6)
    xr, yr = x.clone().requires_grad_(), y.clone().requires_grad_()
    xpr, ypr = xp.clone().requires_grad_(), yp.clone().requires_grad_()
    S = W.sinkhorn_divergence(xr, yr, eps=0.05, reach=reach)
    Sp = W.sinkhorn_divergence(xpr, ypr, a, b, eps=0.05, reach=reach)
    (S.sum()).backward()
    (Sp.sum()).backward()
    # same problem up to the solver's tolerance (1e-9): measured <= 1e-12
    assert torch.allclose(Sp, S, rtol=1e-9, atol=0)
    assert torch.allclose(xpr.grad[:, :7], xr.grad, rtol=1e-7, atol=1e-12)
    assert torch.allclose(ypr.grad[:, :5], yr.grad, rtol=1e-7, atol=1e-12)
    assert (xpr.grad[:, 7:] == 0).all() and (ypr.grad[:, 5:] == 0).all()
    P = W.transport_plan(x, y, eps=0.05, reach=reach)
    Pp = W.transport_plan(xp, yp, a, b, eps=0.05, reach=reach)
    assert (Pp[:, 7:] == 0).all() and (Pp[:, :, 5:] == 0).all()
    assert float((Pp[:, :7, :5] - P).abs().max()) < 1e-10


def test_padding_in_float32_and_for_the_geomloss_backend():
    x, y = clouds("raw", 7, 5, (0, 1))
    xp, yp, a, b = _padded(x, y, 3, 6)
    S = W.sinkhorn_divergence(x.float(), y.float(), eps=0.05)
    Sp = W.sinkhorn_divergence(xp.float(), yp.float(), a.float(), b.float(), eps=0.05)
    assert max_rel(Sp, S) < 1e-5  # measured 0 (padding never enters a sum)
    G = W.sinkhorn_divergence(x, y, eps=0.05, backend="geomloss")
    Gp = W.sinkhorn_divergence(xp, yp, a, b, eps=0.05, backend="geomloss")
    # geomloss' schedule starts from the bounding box of all points, padding included, so its
    # unconverged answer moves a little (measured 2e-4)
    assert max_rel(Gp, G) < 1e-3


def test_batched_equals_per_item_loop():
    x, y = clouds("unit", 8, 6, (5, 6, 7, 8))
    a = torch.rand(4, 8, dtype=F64, generator=torch.Generator().manual_seed(2)) + 0.1
    a[1, 6:] = 0  # ragged batch: item 1 has 6 source words
    xr, yr = x.clone().requires_grad_(), y.clone().requires_grad_()
    S = W.sinkhorn_divergence(xr, yr, a, eps=0.05)
    S.sum().backward()
    P = W.transport_plan(x, y, a, eps=0.05)
    for k in range(4):
        xk, yk = x[k].clone().requires_grad_(), y[k].clone().requires_grad_()
        Sk = W.sinkhorn_divergence(xk, yk, a[k], eps=0.05)  # 2-D input: unbatched output
        assert Sk.shape == ()
        Sk.backward()
        assert math.isclose(float(Sk.detach()), float(S[k].detach()), rel_tol=1e-9)
        assert torch.allclose(xk.grad, xr.grad[k], rtol=1e-7, atol=1e-12)
        assert torch.allclose(yk.grad, yr.grad[k], rtol=1e-7, atol=1e-12)
        Pk = W.transport_plan(x[k], y[k], a[k], eps=0.05)
        assert Pk.shape == (8, 6) and float((Pk - P[k]).abs().max()) < 1e-10


def _direct_cost(x: Tensor, y: Tensor, cost: str) -> Tensor:
    """The costs from their definitions, on explicit differences ``(..., N, M, D)``."""
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    if cost == "sqeuclidean":
        return 0.5 * diff.pow(2).sum(-1)
    if cost == "euclidean":
        return diff.norm(dim=-1)
    return 1 - torch.cosine_similarity(x.unsqueeze(-2), y.unsqueeze(-3), dim=-1)


def test_cost_matrix_values_gradients_and_shapes():
    g = torch.Generator().manual_seed(5)
    for xs, ys in (((5, 3), (4, 3)), ((2, 5, 3), (2, 4, 3)), ((2, 5, 3), (1, 4, 3))):
        x = torch.randn(*xs, generator=g, dtype=F64).requires_grad_()
        y = torch.randn(*ys, generator=g, dtype=F64).requires_grad_()
        for cost in ("sqeuclidean", "euclidean", "cosine"):
            ref = _direct_cost(x, y, cost)
            C = W.cost_matrix(x, y, cost)
            assert C.shape == ref.shape and torch.allclose(C, ref, atol=1e-12)
            gC = torch.autograd.grad(C.sin().sum(), (x, y))
            gr = torch.autograd.grad(ref.sin().sum(), (x, y))
            assert all(torch.allclose(u, v, atol=1e-10) for u, v in zip(gC, gr, strict=True))
    x = torch.randn(2, 6, 3, generator=g, dtype=F64).requires_grad_()
    assert torch.autograd.gradcheck(lambda u: W.cost_matrix(u, u), (x,))
    assert (W.cost_matrix(x, x, "euclidean").diagonal(dim1=-2, dim2=-1) == 0).all()
    # float32 self-distances are exactly 0 (not sqrt of rounding noise, ~3e-4 for unit vectors)
    xu = unit(torch.randn(1, 50, 768, generator=g)).float()
    assert (W.cost_matrix(xu, xu, "euclidean").diagonal(dim1=-2, dim2=-1) == 0).all()


def test_shapes_and_weight_normalisation():
    x, y = clouds("unit", 5, 4, (0, 1))
    assert W.cost_matrix(x, y).shape == (2, 5, 4)
    assert W.sinkhorn_divergence(x, y, eps=0.1).shape == (2,)
    assert W.ot_eps(x[0], y[0], eps=0.1).shape == ()
    # weights are normalised per row: scaling them changes nothing
    a = torch.rand(2, 5, dtype=F64) + 0.1
    S1 = W.sinkhorn_divergence(x, y, a, eps=0.1)
    S2 = W.sinkhorn_divergence(x, y, 7.0 * a, eps=0.1)
    assert torch.allclose(S1, S2, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean", "cosine"])
def test_gradients_envelope_unrolled_and_finite_differences(cost):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 2, generator=g, dtype=F64)
    y = torch.randn(2, 3, 2, generator=g, dtype=F64) + 0.5
    a = torch.rand(2, 4, generator=g, dtype=F64) + 0.2

    def S(grad):
        return lambda u, v: W.sinkhorn_divergence(u, v, a, eps=0.3, cost=cost, tol=1e-11, grad=grad)

    grads = {}
    for mode in ("envelope", "unrolled"):
        xr, yr = x.clone().requires_grad_(), y.clone().requires_grad_()
        S(mode)(xr, yr).sum().backward()
        assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
        grads[mode] = torch.cat([xr.grad.flatten(), yr.grad.flatten()])
    # at convergence the envelope gradient is the gradient: measured agreement 1e-12
    assert torch.allclose(grads["envelope"], grads["unrolled"], rtol=1e-8, atol=1e-10)
    # central finite differences (gradcheck), measured error ~1e-9
    xr, yr = x.clone().requires_grad_(), y.clone().requires_grad_()
    assert torch.autograd.gradcheck(S("envelope"), (xr, yr), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradient_of_ot_eps_and_of_the_weights_matches_finite_differences():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 4, 2, generator=g, dtype=F64).requires_grad_()
    y = torch.randn(1, 5, 2, generator=g, dtype=F64).requires_grad_()
    a = (torch.rand(1, 4, generator=g, dtype=F64) + 0.2).requires_grad_()
    b = (torch.rand(1, 5, generator=g, dtype=F64) + 0.2).requires_grad_()

    def f(x, y, a, b):
        return W.ot_eps(x, y, a, b, eps=0.3, tol=1e-11), W.sinkhorn_divergence(
            x, y, a, b, eps=0.3, tol=1e-11
        )

    assert torch.autograd.gradcheck(f, (x, y, a, b), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradients_finite_on_mbert_like_vectors_float32():
    x, y = clouds("raw", 12, 10, (0, 1))
    ref = {}
    for dtype in (F64, torch.float32):
        for mode in ("envelope", "unrolled"):
            xr = x.to(dtype).clone().requires_grad_()
            yr = y.to(dtype).clone().requires_grad_()
            W.sinkhorn_divergence(xr, yr, eps=0.05, grad=mode).sum().backward()
            assert torch.isfinite(xr.grad).all() and torch.isfinite(yr.grad).all()
            ref[dtype, mode] = torch.cat([xr.grad.flatten(), yr.grad.flatten()]).double()
    g64 = ref[F64, "envelope"]
    assert float((ref[F64, "unrolled"] - g64).norm() / g64.norm()) < 1e-8
    # float32 envelope gradient: measured 2.5e-4 relative to float64 (C / eps ~ 1e3 here)
    assert float((ref[torch.float32, "envelope"] - g64).norm() / g64.norm()) < 1e-3


# --------------------------------------------------------------------------------------------
# limits and properties
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["raw", "unit"])
def test_divergence_of_a_cloud_with_itself_is_zero_and_else_positive(kind):
    x, y = clouds(kind, 9, 7, (0, 1, 2))
    for eps in (0.01, 0.05, 0.5):
        for cost in ("sqeuclidean", "euclidean", "cosine"):
            assert float(W.sinkhorn_divergence(x, x, eps=eps, cost=cost).abs().max()) < 1e-10
            assert (W.sinkhorn_divergence(x, y, eps=eps, cost=cost) > 0).all()
    # equal copies too, with zero gradient on both sides
    xr, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    S = W.sinkhorn_divergence(xr, xc, eps=0.05)
    S.sum().backward()
    assert (S == 0).all() and (xr.grad == 0).all() and (xc.grad == 0).all()
    assert (W.sinkhorn_divergence(x.float(), x.float(), eps=0.05) == 0).all()
    # solved for real, S_eps(x, x + t dx) > 0 vanishes like t^2 (measured 1.3e-3, 1.3e-5,
    # 1.3e-7 at eps 0.5 on unit-norm clouds; at eps 0.05 the alternating updates crawl on
    # these near-identity plans, see the module docs)
    dx = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    dx = 0.1 * dx * x.norm(dim=-1, keepdim=True) / dx.norm(dim=-1, keepdim=True)
    near = [W.sinkhorn_divergence(x, x + t * dx, eps=0.5) for t in (1.0, 0.1, 0.01)]
    assert all((n > 0).all() for n in near)
    assert all((n1 < n0 / 50).all() for n0, n1 in zip(near, near[1:], strict=False))


def test_small_eps_approaches_exact_ot():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, generator=g, dtype=F64)
    y = torch.randn(5, 2, generator=g, dtype=F64) + 0.3
    a = torch.rand(6, generator=g, dtype=F64) + 0.5
    b = torch.rand(5, generator=g, dtype=F64) + 0.5
    a, b = a / a.sum(), b / b.sum()
    w_exact, P_exact = W.exact_ot(x, y, a, b)
    # exact_ot is POT's network simplex
    C = W.cost_matrix(x[None], y[None])[0]
    P_pot = pot.emd(a.numpy(), b.numpy(), C.numpy())
    assert math.isclose(float(w_exact), float((torch.from_numpy(P_pot) * C).sum()), rel_tol=1e-12)
    gaps, dists = [], []
    for eps in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001):
        P = W.transport_plan(x, y, a, b, eps=eps, max_iter=100_000)
        gaps.append(float((P * C).sum() - w_exact))  # OT_eps minus its entropic part
        dists.append(float((P - P_exact).abs().sum()))
    assert all(gap >= -1e-12 for gap in gaps)  # the entropic plan is feasible: <P, C> >= W
    assert all(g1 < g0 for g0, g1 in zip(gaps, gaps[1:], strict=False)), gaps
    assert all(d1 < d0 for d0, d1 in zip(dists, dists[1:], strict=False)), dists
    # measured at eps = 1e-3: <P, C> - W = 6e-8 (W = 0.74), |P - P_exact|_1 = 4e-5
    assert gaps[-1] < 1e-6 and dists[-1] < 1e-3


def test_unbalanced_matches_geomloss_and_tends_to_balanced(small_unit):
    x, y = small_unit
    # eps 0.5, where geomloss' eps-scaling is close to converged: measured deviation at
    # scaling 0.99 of 5.9e-4 (reach 0.3), 2.4e-4 (reach 1), 6e-7 (reach 10) for sqeuclidean;
    # 8.3e-4, 4.7e-4, 1.4e-4 for euclidean
    for cost, bounds in (
        ("sqeuclidean", (1.5e-3, 5e-4, 2e-6)),
        ("euclidean", (2e-3, 1e-3, 3e-4)),
    ):
        for reach, bound in zip((0.3, 1.0, 10.0), bounds, strict=True):
            S = W.sinkhorn_divergence(x, y, eps=0.5, cost=cost, reach=reach)
            G = W.sinkhorn_divergence(
                x, y, eps=0.5, cost=cost, reach=reach, backend="geomloss", scaling=0.99
            )
            assert max_rel(G, S) < bound, (cost, reach, max_rel(G, S))
    balanced = W.sinkhorn_divergence(x, y, eps=0.05)
    gaps = [
        max_rel(W.sinkhorn_divergence(x, y, eps=0.05, reach=r), balanced)
        for r in (0.3, 1.0, 3.0, 10.0, 100.0)
    ]
    assert all(g1 < g0 for g0, g1 in zip(gaps, gaps[1:], strict=False)), gaps
    assert gaps[-1] < 2e-4  # rho = reach**2 = 1e4: measured 6.3e-5
    # a large reach converges like the balanced problem (the shift f + t, g - t is solved for
    # in closed form; plain damped updates would need ~rho / eps = 2e5 iterations here)
    res = W.sinkhorn(x, y, eps=0.05, reach=100.0)
    assert res.converged and res.n_iter < 1000
    # relaxed marginals cost less to match than exact ones
    assert (W.sinkhorn_divergence(x, y, eps=0.05, reach=1.0) < balanced).all()


# --------------------------------------------------------------------------------------------
# the solver iterates to a tolerance
# --------------------------------------------------------------------------------------------


def test_fifty_iterations_are_not_enough_at_small_eps_on_raw_vectors():
    x, y = clouds("raw", 12, 10, (0, 1))
    with pytest.warns(RuntimeWarning, match="did not converge in 50 iterations"):
        short = W.sinkhorn(x, y, eps=0.01, max_iter=50, scaling=None)
    # measured: marginal error 0.3 (30% of the mass misplaced)
    assert not short.converged and short.marginal_error > 1e-2
    full = W.sinkhorn(x, y, eps=0.01)
    assert full.converged and full.marginal_error < W.default_tol(F64)
    P = W.transport_plan(x, y, eps=0.01)
    assert float((P.sum(-2) - 0.1).abs().sum(-1).max()) < 1e-8
    # and the answer changes: 50 plain iterations misjudge OT_eps by > 1e-3 relative
    assert max_rel(short.value, full.value) > 1e-3


def test_float32_tolerance_is_floored_at_what_float32_resolves():
    x, y = clouds("raw", 12, 10, (0,))
    res = W.sinkhorn(x.float(), y.float(), eps=0.01, tol=1e-12)
    assert res.converged  # the tolerance is raised to ~8 * 1.2e-7 * max(C) / eps, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W.sinkhorn_divergence(x.float(), y.float(), eps=0.01)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------

_x = torch.zeros(2, 3, 4)
_y = torch.ones(2, 5, 4)

BAD_INPUTS = [
    ("batch sizes differ", dict(x=_x, y=torch.ones(3, 5, 4))),
    ("feature dimensions differ", dict(x=_x, y=torch.ones(2, 5, 6))),
    ("must both be", dict(x=_x, y=torch.ones(5, 4))),
    (r"must have shape \(B, N, D\)", dict(x=torch.zeros(2, 3, 4, 1), y=torch.ones(2, 5, 4, 1))),
    ("different dtypes", dict(x=_x, y=_y.double())),
    ("floating-point", dict(x=_x.long(), y=_y.long())),
    ("x is empty", dict(x=torch.zeros(2, 0, 4), y=_y)),
    (r"a has shape \(2, 4\) but its cloud needs \(2, 3\)", dict(a=torch.ones(2, 4))),
    (r"b has shape \(5,\) but its cloud needs \(2, 5\)", dict(b=torch.ones(5))),
    ("a has negative weights", dict(a=torch.tensor([[1.0, -1.0, 1.0]] * 2))),
    (
        r"b: row\(s\) \[1\] have zero total weight",
        dict(b=torch.ones(2, 5) * torch.tensor([[1], [0]])),
    ),
    ("a contains NaN or inf", dict(a=torch.tensor([[1.0, math.nan, 1.0]] * 2))),
    ("x contains NaN or inf", dict(x=_x.index_put((torch.tensor([1]),), torch.tensor(math.nan)))),
    ("y contains NaN or inf", dict(y=_y.index_put((torch.tensor([0]),), torch.tensor(math.inf)))),
    ("x contains NaN or inf", dict(x=torch.full((2, 3, 4), -math.inf))),
    ("eps must be a positive finite number", dict(eps=0.0)),
    ("eps must be a positive finite number", dict(eps=-0.1)),
    ("eps must be a positive finite number", dict(eps=math.nan)),
    ("eps must be a positive finite number", dict(eps=math.inf)),
    ("eps must be a positive finite number", dict(eps="0.05")),
    ("unknown cost 'manhattan'", dict(cost="manhattan")),
    ("unknown backend 'keops'", dict(backend="keops")),
    ("reach must be a positive finite number", dict(reach=-1.0)),
    ("reach must be a positive finite number", dict(reach=0.0)),
    (r"unknown solver option\(s\) \['n_iter'\]", dict(n_iter=10)),
    ("grad must be 'envelope' or 'unrolled'", dict(grad="implicit")),
    (r"scaling must be in \(0, 1\)", dict(scaling=1.5)),
    ("tol must be a positive number", dict(tol=-1.0)),
    ("max_iter must be a positive integer", dict(max_iter=0)),
]


@pytest.mark.parametrize("match,kwargs", BAD_INPUTS, ids=[b[0][:40] for b in BAD_INPUTS])
def test_bad_input_raises_value_error_naming_the_problem(match, kwargs):
    args = {"x": _x, "y": _y, "a": None, "b": None, "eps": 0.05} | kwargs
    with pytest.raises(ValueError, match=match):
        W.sinkhorn_divergence(**args)


def test_bad_input_for_the_other_entry_points():
    with pytest.raises(ValueError, match="unknown cost"):
        W.cost_matrix(_x, _y, "l1")
    with pytest.raises(ValueError, match="unknown cost"):
        W.sinkhorn(_x, _y, eps=0.1, cost="l1")
    with pytest.raises(ValueError, match="unknown cost"):
        W.exact_ot(_x, _y, cost="l1")
    with pytest.raises(ValueError, match="eps must be"):
        W.transport_plan(_x, _y, eps=-1)
    with pytest.raises(ValueError, match="batch sizes differ"):
        W.ot_eps(_x, torch.ones(1, 5, 4), eps=0.1)
    with pytest.raises(ValueError, match="unknown solver option"):
        W.transport_plan(_x, _y, eps=0.1, maxiter=3)
    with pytest.raises(ValueError, match="needs scaling"):
        W.sinkhorn_divergence(_x, _y, eps=0.1, backend="geomloss", scaling=None)
    with pytest.raises(ValueError, match="must be torch.Tensors"):
        W.sinkhorn_divergence(np.zeros((3, 4)), np.zeros((3, 4)), eps=0.1)
    # numpy and one-element tensor eps are fine
    assert torch.isfinite(W.sinkhorn_divergence(_x, _y, eps=np.float32(0.1))).all()
    assert torch.isfinite(W.sinkhorn_divergence(_x, _y, eps=torch.tensor(0.1))).all()


def test_effective_partners_one_hot_uniform_and_masked_rows():
    one_hot = torch.eye(4, 6, dtype=F64)[None] / 4  # every row's mass on one column
    assert torch.allclose(W.effective_partners(one_hot), torch.ones(1, 4, dtype=F64))
    uniform = torch.full((2, 3, 5), 1 / 15, dtype=F64)  # spread evenly over 5 columns
    assert torch.allclose(W.effective_partners(uniform), torch.full((2, 3), 5.0, dtype=F64))
    plan = torch.tensor([[0.2, 0.2, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=F64)
    assert W.effective_partners(plan)[2] == 1  # an empty (padding) row counts as 1
    mask = torch.tensor([True, True, False])
    assert torch.allclose(W.effective_partners(plan, mask), torch.tensor([2.0, 1.0], dtype=F64))
    x, y = torch.randn(2, 4, 3, dtype=F64), torch.randn(2, 5, 3, dtype=F64)
    a = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=F64)
    k = W.effective_partners(W.transport_plan(x, y, a / a.sum(-1, keepdim=True), eps=1.0), a > 0)
    assert k.shape == (5,) and ((k >= 1 - 1e-9) & (k <= 5 + 1e-9)).all()


def test_points_whose_costs_overflow_are_named():
    # issue 14, item 6: 1e20 inputs used to fail with "cannot convert float NaN to integer"
    x, y = 1e20 * torch.randn(5, 3), torch.randn(4, 3)
    for cost in ("sqeuclidean", "euclidean"):
        with pytest.raises(ValueError, match=r"cost matrix has non-finite entries .* too large"):
            W.sinkhorn_divergence(x, y, eps=0.05, cost=cost)
        with pytest.raises(ValueError, match=r"cost matrix has non-finite entries"):
            W.transport_plan(x, y, eps=0.05, cost=cost)
