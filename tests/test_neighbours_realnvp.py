"""wordot.neighbours.realnvp: the flows (exact inverse, log-det against autograd), training (the
loss falls, the map aligns a known transform, the best epoch is kept), determinism, and errors.

Oracles are independent of zuko's own log-det: the Jacobian from
``torch.autograd.functional.jacobian`` and its ``slogdet``, the standard normal density written
out, cosines and singular values from numpy. Problems are tiny (d = 4..6, a few hundred pairs,
hidden widths 8-32) so that each test runs in about a second on one CPU thread; the configs are
not the paper's (20 epochs at lr 1e-4 are far too few steps for a few hundred pairs). Numbers
marked "measured" were measured on exactly these seeded inputs with torch 2.13 and zuko 1.6.0.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
import torch
from torch import Tensor

from wordot.neighbours import FeatureMap
from wordot.neighbours.realnvp import (
    DensityMatching,
    RealNVPConfig,
    TrainingDiverged,
    build_flow,
    encode,
    semantic_criterion,
    structural_criterion,
)

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


def affine_problem(n: int, d: int, seed: int, dtype=torch.float32) -> tuple[Tensor, Tensor]:
    """English: a 3-component Gaussian mixture in R^d; source: a known invertible affine map of
    it, ``src = en A^T + b`` with ``A`` a rotation times scales in [0.5, 2] (row i of src is the
    translation of row i of en)."""
    g = torch.Generator().manual_seed(seed)
    centers = 3 * torch.randn(3, d, generator=g, dtype=F64)
    en = centers[torch.randint(0, 3, (n,), generator=g)] + torch.randn(n, d, generator=g, dtype=F64)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=F64))
    A = q @ torch.diag(torch.linspace(0.5, 2.0, d, dtype=F64))
    b = 2 * torch.randn(d, generator=g, dtype=F64)
    return (en @ A.T + b).to(dtype), en.to(dtype)


# the synthetic problem the training tests share: 400 pairs to fit, 100 held out for the ratio
AFFINE_CFG = RealNVPConfig(hidden=(32, 32), lr=3e-3, epochs=20, batch_size=64, seed=0)
TINY_CFG = RealNVPConfig(hidden=(8,), lr=1e-3, epochs=2, batch_size=32, seed=3)


@pytest.fixture(scope="module")
def affine_fit() -> tuple[DensityMatching, Tensor, Tensor]:
    src, en = affine_problem(500, 6, seed=0)
    model = DensityMatching(AFFINE_CFG).fit(src[:400], en[:400])
    return model, src, en


# --------------------------------------------------------------------------------------------
# the flow: exact inverse, log-det against autograd
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_flow_is_invertible(dtype):
    torch.manual_seed(0)
    flow = build_flow(6, RealNVPConfig(couplings=3, hidden=(16, 16))).to(dtype)
    x = 2 * torch.randn(50, 6, dtype=dtype)
    t = flow().transform
    with torch.no_grad():
        z = t(x)
        back = t.inv(z)
    assert (z - x).abs().max() > 0.1  # not the identity at initialisation: the test bites
    assert (back - x).abs().max() < 1e-5
    assert (t(t.inv(x)) - x).abs().max() < 1e-5


def test_log_density_matches_autograd_jacobian():
    """``encode``'s log p(x) = log N(T(x)) + log|det dT/dx|, with the Jacobian from autograd."""
    torch.manual_seed(1)
    d = 5
    flow = build_flow(d, RealNVPConfig(couplings=4, hidden=(16,))).to(F64)
    x = torch.randn(6, d, dtype=F64)
    z, logp = (v.detach() for v in encode(flow, x))
    t = flow().transform
    for i in range(len(x)):
        J = torch.autograd.functional.jacobian(lambda v: t(v[None])[0], x[i])
        sign, logabsdet = torch.linalg.slogdet(J)
        assert sign != 0
        assert abs(logabsdet) > 0.05  # volume is not preserved: the log-det term is exercised
        normal = -0.5 * float(z[i] @ z[i]) - 0.5 * d * math.log(2 * math.pi)
        assert abs(float(logp[i]) - (normal + float(logabsdet))) < 1e-4


def test_fitted_map_and_map_back_are_inverse(affine_fit):
    model, src, en = affine_fit
    x = src[400:]
    assert (model.map_back(model.map(x)) - x).abs().max() < 1e-5 * x.abs().max()
    assert (model.map(model.map_back(en[400:])) - en[400:]).abs().max() < 1e-5 * en.abs().max()


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


def test_follows_the_feature_map_protocol(affine_fit):
    model, src, _ = affine_fit
    for name in ("fit", "map"):
        wanted = inspect.signature(getattr(FeatureMap, name)).parameters
        assert set(wanted) <= set(inspect.signature(getattr(DensityMatching, name)).parameters)
    out = model.map(src[400:])
    assert out.shape == (100, 6) and out.dtype == torch.float32
    assert model.map(src[:0]).shape == (0, 6)


def test_loss_falls(affine_fit):
    fit = affine_fit[0].fitted
    assert len(fit.step_loss) == AFFINE_CFG.epochs * math.ceil(fit.n_train / 64)
    assert len(fit.epoch_loss) == AFFINE_CFG.epochs and len(fit.val) == AFFINE_CFG.epochs + 1
    # measured: mean loss 22.0 in epoch 1, 1.30 in epoch 20 (ratio 0.06); match 8.0 -> 0.62
    assert fit.epoch_loss[-1] < 0.2 * fit.epoch_loss[0]
    assert fit.epoch_terms[-1]["match"] < 0.2 * fit.epoch_terms[0]["match"]


def test_map_aligns_a_known_affine_transform(affine_fit):
    """Held-out pairs: mean |map(src_i) - en_i| against mean |src_i - en_i|."""
    model, src, en = affine_fit
    before = (src[400:] - en[400:]).norm(dim=-1).mean()
    after = (model.map(src[400:]) - en[400:]).norm(dim=-1).mean()
    # measured: 12.6 -> 2.36 (ratio 0.187); seeds 1 and 2 give 0.14 and 0.25. ~2x margin.
    assert after / before < 0.35
    # the criterion (mean cosine on the held-out rows) rose from ~0 at initialisation to > 0.9
    assert model.fitted.val[0] < 0.2 < 0.9 < model.fitted.best_val


def test_best_epoch_is_kept(affine_fit):
    """The returned flows are the best epoch's by the criterion, recomputed on the held-out
    rows, not the last epoch's."""
    model, src, en = affine_fit
    fit = model.fitted
    assert fit.criterion == "semantic" and fit.higher_is_better
    assert fit.best_val == max(fit.val[1:]) and fit.val[fit.best_epoch] == fit.best_val
    assert fit.best_epoch < AFFINE_CFG.epochs  # measured: 18 of 20, so selection matters here
    rows = torch.tensor(fit.val_rows)
    assert len(rows) == fit.n_val == 40 and int(rows.max()) < 400
    again = semantic_criterion(model.map(src[rows]), en[rows])
    assert again == pytest.approx(fit.best_val, abs=1e-6)
    assert abs(again - fit.val[-1]) > 1e-4


def test_structural_criterion_selects_the_minimum():
    src, en = affine_problem(160, 4, seed=2)
    cfg = RealNVPConfig(hidden=(8,), lr=3e-3, epochs=4, batch_size=32, criterion="structural")
    fit = DensityMatching(cfg).fit(src, en).fitted
    assert not fit.higher_is_better
    # measured: 1.08 at initialisation, then 0.38, 0.52, 0.90, 0.68: epoch 1 is kept
    assert fit.best_val == min(fit.val[1:]) < fit.val[0]
    assert fit.best_epoch == 1


def test_criteria_against_numpy():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(30, 5, generator=g, dtype=F64), torch.randn(30, 5, generator=g, dtype=F64)
    na, nb = a.numpy(), b.numpy()
    cos = (na * nb).sum(1) / np.linalg.norm(na, axis=1) / np.linalg.norm(nb, axis=1)
    assert semantic_criterion(a, b) == pytest.approx(cos.mean(), abs=1e-12)
    sa, sb = np.linalg.svd(na, compute_uv=False), np.linalg.svd(nb, compute_uv=False)
    gap = ((np.log(sa) - np.log(sb)) ** 2).sum()
    assert structural_criterion(a, b) == pytest.approx(gap, rel=1e-10)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=F64))
    assert structural_criterion(a @ q, a) == pytest.approx(0, abs=1e-20)  # rotation: no gap
    assert structural_criterion(2 * a, a) == pytest.approx(5 * math.log(2) ** 2, rel=1e-12)


def test_deterministic_for_a_seed():
    src, en = affine_problem(120, 4, seed=1)
    one = DensityMatching(TINY_CFG).fit(src, en)
    two = DensityMatching().fit(src, en, TINY_CFG)
    other = DensityMatching(dataclasses.replace(TINY_CFG, seed=4)).fit(src, en)
    assert one.fitted.step_loss == two.fitted.step_loss
    assert one.fitted.val_rows == two.fitted.val_rows
    assert torch.equal(one.map(src), two.map(src))
    assert one.fitted.step_loss != other.fitted.step_loss
    assert not torch.equal(one.map(src), other.map(src))


def test_fit_leaves_the_global_rng_alone():
    src, en = affine_problem(120, 4, seed=1)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DensityMatching(TINY_CFG).fit(src, en)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def test_divergence_names_the_step():
    """An absurd learning rate blows the flows up at the second step: a clear error, and no
    half-trained map left behind."""
    src, en = affine_problem(120, 4, seed=1)
    model = DensityMatching(RealNVPConfig(hidden=(8,), lr=1e30, epochs=2, seed=0))
    with pytest.raises(TrainingDiverged, match=r"diverged at step 1 \(epoch 1\).*lr") as info:
        model.fit(src, en)
    assert isinstance(info.value, FloatingPointError)
    assert (info.value.epoch, info.value.step) == (1, 1)
    assert model.flows is None and model.fitted is None
    with pytest.raises(ValueError, match="not fitted"):
        model.map(src)


def test_poisoned_input_diverges_at_the_first_step():
    """Finite but absurd inputs (1e30) without standardisation overflow the loss at once."""
    src, en = affine_problem(120, 4, seed=1)
    cfg = RealNVPConfig(hidden=(8,), epochs=1, standardize=False)
    with pytest.raises(TrainingDiverged, match=r"step 0 \(epoch 1\).*match=inf"):
        DensityMatching(cfg).fit(src * 1e30, en)


@pytest.mark.parametrize(
    ("src", "en", "match"),
    [
        (torch.full((100, 4), math.nan), torch.zeros(100, 4), r"src contains NaN or inf \(rows"),
        (
            torch.randn(100, 4),
            torch.randn(100, 4).index_fill_(0, torch.tensor([7]), math.inf),
            r"en contains NaN or inf \(rows \[7\]\)",
        ),
        (torch.randn(100, 4), torch.randn(90, 4), "must have the same shape"),
        (torch.randn(100, 4), torch.randn(100, 5), "must have the same shape"),
        (torch.randn(100), torch.randn(100), r"must have shape \(n, d\)"),
        (torch.randn(15, 4), torch.randn(15, 4), "too few pairs for the validation split: n=15"),
        (torch.randn(100, 1), torch.randn(100, 1), "need d >= 2"),
        (torch.ones(100, 4), torch.ones(100, 4), "cannot standardise"),
        (np.zeros((100, 4)), torch.zeros(100, 4), "src must be a torch.Tensor"),
        (torch.zeros(100, 4, dtype=torch.long), torch.zeros(100, 4), "floating-point"),
    ],
)
def test_bad_fit_input(src, en, match):
    with pytest.raises(ValueError, match=match):
        DensityMatching(TINY_CFG).fit(src, en)


def test_bad_map_input(affine_fit):
    model = affine_fit[0]
    with pytest.raises(ValueError, match="fitted on d=6"):
        model.map(torch.randn(3, 5))
    with pytest.raises(ValueError, match="x contains NaN"):
        model.map(torch.tensor([[math.nan] * 6]))
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        model.map_back(torch.tensor([[math.inf] * 6]))
    with pytest.raises(ValueError, match="not fitted"):
        DensityMatching().map(torch.randn(3, 6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, r"lr must be a finite number > 0"),
        ({"lr": math.nan}, r"lr must be a finite number > 0"),
        ({"val_fraction": 1.0}, r"val_fraction must be < 1"),
        ({"val_fraction": 0}, r"val_fraction must be a finite number > 0"),
        ({"couplings": 0}, r"couplings must be an integer >= 1"),
        ({"hidden": [32]}, r"hidden must be a non-empty tuple"),
        ({"w_mle": -1.0}, r"w_mle must be a finite number >= 0"),
        ({"criterion": "cbli"}, r"unknown criterion 'cbli'"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RealNVPConfig(**kwargs)
