"""wordot.neighbours.procrustes and .center: the feature-level baselines against independent
references.

Procrustes is checked against a known rotation (``scipy.stats.ortho_group``) and against a direct
numpy float64 SVD oracle, ``U V^T`` of ``SVD(src^T en)``; centring against means, norms and
distances computed here in float64. Inputs are mBERT-like word vectors (``wordot.ot.mbert_like``
at d = 64: a shared mean direction, an anisotropic spectrum), rounded to float32 as an encoder
would give them. Tolerances marked "measured" were measured on exactly these seeded inputs
(numpy/scipy float64 SVD, torch 2.13); the bounds asserted leave a margin of 4-100x (float32
rounding of W is ~6e-8 per entry).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from torch import Tensor

from wordot.neighbours.center import MeanCenter, center_both
from wordot.neighbours.procrustes import Procrustes, ProcrustesOptions, orthogonal_map
from wordot.ot import mbert_like

pytestmark = pytest.mark.usefixtures("one_thread")

D, N = 64, 400
F64 = torch.float64


def word_vectors(n: int = N, d: int = D, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two unpaired mBERT-like clouds ``(n, d)`` in float64 (exactly float32 values)."""
    x, y = mbert_like(1, n, n, D=d, seed=seed)
    return x[0].float().double(), y[0].float().double()


def rotation(d: int = D, seed: int = 1) -> Tensor:
    return torch.from_numpy(ortho_group.rvs(d, random_state=seed))


def svd_oracle(src: Tensor, en: Tensor) -> np.ndarray:
    """``U V^T`` with ``U S V^T = SVD(src^T en)``, numpy float64: the closed form, independently."""
    U, _, Vt = np.linalg.svd(src.double().numpy().T @ en.double().numpy())
    return U @ Vt


# --------------------------------------------------------------------------------------------
# Procrustes
# --------------------------------------------------------------------------------------------


def test_recovers_a_known_rotation_from_noiseless_pairs():
    src, _ = word_vectors()
    Q = rotation()
    W = orthogonal_map(src.float(), (src @ Q).float())
    assert W.dtype == torch.float32 and W.shape == (D, D)
    assert (W.double() - Q).abs().max() < 1e-6  # measured 4.1e-8


def test_recovers_a_rotation_from_exactly_d_pairs():
    """n = d pairs in general position: full rank, so the rank check does not over-trigger."""
    g = torch.Generator().manual_seed(3)
    src = torch.randn(16, 16, generator=g)
    Q = rotation(16, seed=4).float()
    assert (orthogonal_map(src, src @ Q) - Q).abs().max() < 1e-6  # measured 6.0e-8


@pytest.mark.parametrize("sigma, bound", [(0.01, 0.01), (0.05, 0.05), (0.1, 0.1)])
def test_recovers_a_rotation_approximately_with_noise(sigma, bound):
    """Noise of ``sigma`` times the spread of the source rows on every English coordinate."""
    src, _ = word_vectors()
    Q = rotation()
    g = torch.Generator().manual_seed(2)
    spread = (src - src.mean(0)).std()
    en = src @ Q + sigma * spread * torch.randn(N, D, generator=g, dtype=F64)
    W = orthogonal_map(src.float(), en.float()).double()
    # measured max |W - Q|: 2.4e-3, 1.2e-2, 2.5e-2 (linear in sigma)
    assert (W - Q).abs().max() < bound
    assert np.abs(W.numpy() - svd_oracle(src, en.float())).max() < 1e-6  # measured 1.5e-8


def test_agrees_with_the_svd_oracle_on_unrelated_pairs():
    """Two unrelated clouds (singular values of the cross-covariance span 5.6 decades): still U V^T to float32."""
    src, en = word_vectors()
    W = orthogonal_map(src.float(), en.float())
    assert np.abs(W.double().numpy() - svd_oracle(src, en)).max() < 1e-6  # measured 1.6e-8


def test_the_map_is_orthogonal_and_preserves_norms():
    src, en = word_vectors()
    fitted = Procrustes().fit(src.float(), en.float())
    W = fitted.W
    assert (W.T @ W - torch.eye(D)).abs().max() < 1e-5  # measured 2.4e-7
    x = word_vectors(seed=5)[0].float()
    mapped = fitted.map(x)
    assert mapped.dtype == torch.float32 and mapped.shape == x.shape
    assert torch.allclose(mapped.norm(dim=1), x.norm(dim=1), rtol=1e-5)  # measured 2.4e-7
    assert torch.equal(mapped, x @ W)
    assert fitted.n_pairs == N and fitted.singular_values.shape == (D,)


def test_centred_procrustes_recovers_a_rotation_plus_translation():
    src, _ = word_vectors()
    Q = rotation()
    t = 3.0 * torch.randn(D, generator=torch.Generator().manual_seed(6), dtype=F64)
    en = src @ Q + t
    centred = Procrustes(ProcrustesOptions(center=True)).fit(src.float(), en.float())
    assert (centred.W.double() - Q).abs().max() < 1e-6  # measured 1.2e-7
    assert (centred.map(src.float()).double() - en).abs().max() < 1e-4  # measured 1.1e-6
    # the paper's uncentred rotation cannot carry the translation
    raw = Procrustes().fit(src.float(), en.float())
    assert (raw.map(src.float()).double() - en).abs().max() > 1.0  # measured 7.0


def test_rank_deficient_problems_raise():
    g = torch.Generator().manual_seed(7)
    with pytest.raises(ValueError, match=r"rank 5 < d = 16 from 5 pairs.*not unique"):
        orthogonal_map(torch.randn(5, 16, generator=g), torch.randn(5, 16, generator=g))
    src = torch.randn(100, 16, generator=g)
    en = torch.randn(100, 16, generator=g)
    en[:, 5] = 0.0  # a direction the English rows never visit, the source rows do
    with pytest.raises(ValueError, match=r"rank 15 < d = 16 from 100 pairs"):
        orthogonal_map(src, en)
    # centred rows sum to zero: d pairs are one too few
    square = torch.randn(16, 16, generator=g)
    with pytest.raises(ValueError, match=r"rank 15 < d = 16 from 16 pairs \(centred\)"):
        Procrustes(ProcrustesOptions(center=True)).fit(square, square @ rotation(16).float())
    with pytest.raises(ValueError, match=r"rank 0 < d = 16"):
        orthogonal_map(torch.zeros(20, 16), torch.randn(20, 16, generator=g))


def test_a_deficiency_of_the_source_rows_themselves_is_accepted():
    """All source rows in one hyperplane through the origin (a LayerNorm without bias): the
    rotation is unique on that hyperplane, which is where every vector to be mapped lies."""
    g = torch.Generator().manual_seed(8)
    Q = rotation(16)
    src = torch.randn(200, 16, generator=g, dtype=F64)
    src -= src.mean(1, keepdim=True)  # every row sums to zero: rank 15
    fitted = Procrustes().fit(src.float(), (src @ Q).float())
    assert fitted.rank == 15
    new = torch.randn(7, 16, generator=g, dtype=F64)
    new -= new.mean(1, keepdim=True)  # other vectors of the same hyperplane
    assert (fitted.map(new.float()).double() - new @ Q).abs().max() < 1e-5


def test_bad_procrustes_input_raises():
    x = torch.randn(30, 8)
    with pytest.raises(ValueError, match=r"same shape.*\(30, 8\) and \(30, 9\)"):
        orthogonal_map(x, torch.randn(30, 9))
    with pytest.raises(ValueError, match=r"same shape.*\(30, 8\) and \(29, 8\)"):
        orthogonal_map(x, torch.randn(29, 8))
    nan = x.clone()
    nan[2, 3] = float("nan")
    with pytest.raises(ValueError, match=r"en has 1 non-finite"):
        orthogonal_map(x, nan)
    inf = x.clone()
    inf[0] = float("inf")
    with pytest.raises(ValueError, match=r"src has 8 non-finite"):
        Procrustes().fit(inf, x)
    with pytest.raises(ValueError, match=r"src has no rows"):
        orthogonal_map(torch.empty(0, 8), torch.empty(0, 8))
    with pytest.raises(ValueError, match=r"src must be 2-D"):
        orthogonal_map(x[0], x[0])
    with pytest.raises(RuntimeError, match=r"before fit"):
        Procrustes().map(x)
    fitted = Procrustes().fit(x, x)
    with pytest.raises(ValueError, match=r"last dimension d = 8"):
        fitted.map(torch.randn(4, 9))


# --------------------------------------------------------------------------------------------
# mean-centring
# --------------------------------------------------------------------------------------------


def test_centring_moves_the_source_mean_onto_the_english_mean():
    src, en = word_vectors()
    en = en[:300]  # unpaired rows, a different number of them
    fitted = MeanCenter().fit(src.float(), en.float())
    assert torch.allclose(fitted.mu_src, src.mean(0)) and torch.allclose(fitted.mu_en, en.mean(0))
    mapped = fitted.map(src.float())
    assert mapped.dtype == torch.float32
    assert (mapped.double().mean(0) - en.mean(0)).abs().max() < 1e-6  # measured 1.1e-7
    shift = mapped.double() - src  # the same shift for every row, up to float32 rounding
    assert (shift - (en.mean(0) - src.mean(0))).abs().max() < 2e-6  # measured 3.8e-7


def test_one_sided_centring_gives_the_euclidean_distances_of_two_sided_centring():
    src, en = word_vectors()
    fitted = MeanCenter().fit(src, en)
    xs, ys = fitted.both(src, en)
    assert xs.mean(0).abs().max() < 1e-12 and ys.mean(0).abs().max() < 1e-12
    reference = torch.cdist(src - src.mean(0), en - en.mean(0))
    assert torch.allclose(torch.cdist(fitted.map(src), en), reference, rtol=1e-12, atol=1e-12)
    assert torch.allclose(torch.cdist(xs, ys), reference, rtol=1e-12, atol=1e-12)


def test_normalised_centring_invariants():
    src, en = word_vectors()
    fitted = MeanCenter(normalize=True).fit(src.float(), en.float())
    r_en = (en - en.mean(0)).norm(dim=1).mean()
    assert abs(fitted.r_en - r_en) < 1e-9
    x = word_vectors(seed=5)[0]
    mapped = fitted.map(x.float()).double()
    offset = mapped - en.mean(0)
    # every mapped row at the English radius from the English mean ...
    assert torch.allclose(offset.norm(dim=1), r_en.expand(N), rtol=1e-6)  # measured 1.2e-7
    # ... in the direction of the centred source vector
    cos = torch.cosine_similarity(offset, x - src.mean(0), dim=1)
    assert (cos - 1).abs().max() < 1e-12  # measured 1.4e-14 (1 - cos is quadratic in angle)
    # the two-sided version: centre, then unit length
    xs, ys = fitted.both(src, en)
    assert torch.allclose(xs.norm(dim=1), torch.ones(N, dtype=F64))
    assert torch.allclose(ys.norm(dim=1), torch.ones(N, dtype=F64))
    centred = en - en.mean(0)
    assert torch.allclose(ys, centred / centred.norm(dim=1, keepdim=True))


def test_center_both_as_a_function():
    src, en = word_vectors()
    mu_s, mu_e = src.mean(0), en.mean(0)
    xs, ys = center_both(src, en, mu_s, mu_e)
    assert torch.equal(xs, src - mu_s) and torch.equal(ys, en - mu_e)
    with pytest.raises(ValueError, match=r"mu_en must have shape \(64,\)"):
        center_both(src, en, mu_s, mu_e[:10])
    with pytest.raises(ValueError, match=r"dimension mismatch"):
        center_both(src, en[:, :10], mu_s, mu_e)


def test_bad_centring_input_raises():
    x = torch.randn(20, 8)
    with pytest.raises(ValueError, match=r"src has no rows"):
        MeanCenter().fit(torch.empty(0, 8), x)
    with pytest.raises(ValueError, match=r"en has no rows"):
        MeanCenter().fit(x, torch.empty(0, 8))
    with pytest.raises(ValueError, match=r"dimension mismatch: src rows have d = 8, en rows 9"):
        MeanCenter().fit(x, torch.randn(20, 9))
    nan = x.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"src has 1 non-finite"):
        MeanCenter().fit(nan, x)
    with pytest.raises(RuntimeError, match=r"before fit"):
        MeanCenter().map(x)
    fitted = MeanCenter(normalize=True).fit(x, x)
    with pytest.raises(ValueError, match=r"last dimension d = 8"):
        fitted.map(torch.randn(3, 9))
    with pytest.raises(ValueError, match=r"1 centred source row\(s\) have zero length"):
        fitted.map(torch.cat([x[:2], fitted.mu_src[None].float()]))  # a row at the mean
