"""The WordOT loss (Eq. 2, sign corrected): values, gradients, options, errors."""

import pytest
import torch

from wordot import ot
from wordot.embed import WordEmbeddings
from wordot.loss import (
    LossConfig,
    LossParts,
    concat_batches,
    drift,
    flatten,
    l2_pair_loss,
    language_loss,
    wordot_loss,
)


def _emb(vectors, lengths):
    B, N, _ = vectors.shape
    mask = torch.arange(N)[None, :] < torch.tensor(lengths)[:, None]
    vectors = vectors * mask[..., None]
    return WordEmbeddings(vectors, mask, [["w"] * n for n in lengths])


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    src = _emb(torch.randn(3, 6, 8, generator=g, dtype=torch.float64), [6, 4, 5])
    en = _emb(torch.randn(3, 7, 8, generator=g, dtype=torch.float64), [5, 7, 3])
    return src, en


def test_defaults_are_the_books_loss():
    from wordot import config

    cfg, book = LossConfig(), config.resolve(config.BOOK_PROFILE)
    assert (cfg.cost, cfg.eps) == ("euclidean", 0.05) == (book.loss.cost, book.loss.eps)
    assert (cfg.lam, cfg.scope, cfg.reduction, cfg.reach) == (1.0, "sentence", "mean", None)


def test_sqeuclidean_cost_is_used_when_asked(batch):
    src, en = batch
    parts = wordot_loss(
        {"de": src}, {"de": en}, None, LossConfig(eps=0.1, lam=0, cost="sqeuclidean")
    )
    expected = ot.sinkhorn_divergence(
        src.vectors, en.vectors, src.weights, en.weights, eps=0.1, cost="sqeuclidean"
    ).mean()
    assert torch.allclose(parts.total, expected)
    default = wordot_loss({"de": src}, {"de": en}, None, LossConfig(eps=0.1, lam=0))  # euclidean
    assert not torch.allclose(parts.total, default.total)


def test_loss_is_mean_sinkhorn_divergence_per_language_summed(batch):
    src, en = batch
    cfg = LossConfig(eps=0.1, lam=0.0)
    parts = wordot_loss({"de": src, "fr": src}, {"de": en, "fr": en}, None, cfg)
    expected = ot.sinkhorn_divergence(
        src.vectors, en.vectors, src.weights, en.weights, eps=0.1, cost="euclidean"
    ).mean()
    assert torch.allclose(parts.ot["de"], expected)
    assert torch.allclose(parts.total, 2 * expected)
    assert parts.reg == {}
    assert parts.total > 0  # S_eps >= 0: the sign of Eq. 2 is +, not -


@pytest.mark.parametrize(
    ("cost", "steps", "ratio"),
    # the Euclidean cost's gradient has bounded norm: SGD walks at a constant pace, more steps
    [("euclidean", 40, 0.3), ("sqeuclidean", 30, 0.2)],
)
def test_identical_clouds_have_zero_loss_and_minimising_pulls_together(batch, cost, steps, ratio):
    src, en = batch
    cfg = LossConfig(eps=0.1, lam=0.0, cost=cost)
    same = wordot_loss({"de": src}, {"de": src}, None, cfg)
    assert abs(float(same.total)) < 1e-8
    x = src.vectors.clone().requires_grad_(True)
    opt = torch.optim.SGD([x], lr=2.0)
    losses = []
    for _ in range(steps):
        e = WordEmbeddings(x, src.mask, src.words)
        loss = wordot_loss({"de": e}, {"de": en}, None, cfg).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < ratio * losses[0], losses


def test_regulariser_is_lambda_times_squared_drift(batch):
    src, en = batch
    moved = WordEmbeddings(en.vectors + 0.5 * en.mask[..., None], en.mask, en.words)
    # each real English word moved by 0.5 in each of 8 dims: |d|^2 = 8 * 0.25 = 2
    assert torch.allclose(drift(moved, en, "mean"), torch.tensor(2.0, dtype=torch.float64))
    assert torch.allclose(drift(moved, en, "sum"), torch.tensor(2.0 * 15, dtype=torch.float64))
    cfg = LossConfig(eps=0.1, lam=3.0)
    parts = wordot_loss({"de": src}, {"de": moved}, {"de": en}, cfg)
    assert torch.allclose(parts.reg["de"], torch.tensor(2.0, dtype=torch.float64))
    assert torch.allclose(parts.total, parts.ot["de"] + 3.0 * parts.reg["de"])


def test_gradients_reach_both_sides_and_not_the_frozen_reference(batch):
    src, en = batch
    x = src.vectors.clone().requires_grad_(True)
    y = en.vectors.clone().requires_grad_(True)
    y0 = en.vectors.clone().requires_grad_(True)
    parts = wordot_loss(
        {"de": WordEmbeddings(x, src.mask, src.words)},
        {"de": WordEmbeddings(y, en.mask, en.words)},
        {"de": WordEmbeddings(y0, en.mask, en.words)},
        LossConfig(eps=0.1, lam=1.0),
    )
    parts.total.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    assert y0.grad is None  # the initial model is a constant
    assert (x.grad[~src.mask] == 0).all()  # padding gets no gradient


def test_batch_scope_and_pooled_and_unbalanced_options(batch):
    src, en = batch
    sentence = wordot_loss({"de": src}, {"de": en}, None, LossConfig(eps=0.1, lam=0))
    tol = {"tol": 1e-4}  # one 15 x 15 problem at eps 0.1: Sinkhorn crawls below ~1e-5
    whole = wordot_loss(
        {"de": src}, {"de": en}, None, LossConfig(eps=0.1, lam=0, scope="batch", solver=tol)
    )
    assert float(whole.total) != pytest.approx(float(sentence.total))
    flat_x = src.vectors[src.mask][None]
    flat_y = en.vectors[en.mask][None]
    expected = ot.sinkhorn_divergence(flat_x, flat_y, eps=0.1, cost="euclidean", **tol)[0]
    assert torch.allclose(whole.total, expected)
    pooled = wordot_loss(
        {"de": src, "fr": en}, {"de": en, "fr": src}, None, LossConfig(eps=0.1, lam=0, pooled=True)
    )
    assert set(pooled.ot) == {"pooled"}
    indep = wordot_loss(
        {"de": src, "fr": en}, {"de": en, "fr": src}, None, LossConfig(eps=0.1, lam=0)
    )
    # per-sentence problems: pooling only changes the averaging (mean over 6 pairs vs sum of means)
    assert torch.allclose(pooled.total, indep.total / 2)
    unbalanced = wordot_loss({"de": src}, {"de": en}, None, LossConfig(eps=0.1, lam=0, reach=1.0))
    assert 0 < float(unbalanced.total) < float(sentence.total)


def test_bad_inputs_are_named(batch):
    src, en = batch
    with pytest.raises(ValueError, match="languages differ"):
        wordot_loss({"de": src}, {"fr": en}, None)
    with pytest.raises(ValueError, match="no language"):
        wordot_loss({}, {}, None)
    short = WordEmbeddings(en.vectors[:2], en.mask[:2], en.words[:2])
    with pytest.raises(ValueError, match="mismatched pair counts: 3 source vs 2 English"):
        wordot_loss({"de": src}, {"de": short}, None, LossConfig(lam=0))
    with pytest.raises(ValueError, match=r"no initial-model English embeddings for \['de'\]"):
        wordot_loss({"de": src}, {"de": en}, {"fr": en})
    with pytest.raises(ValueError, match="unknown scope"):
        wordot_loss({"de": src}, {"de": en}, None, LossConfig(lam=0, scope="corpus"))
    with pytest.raises(ValueError, match="word pairs differ in shape"):
        l2_pair_loss(torch.zeros(3, 4), torch.zeros(2, 4))


def test_wordot_loss_sums_the_per_language_terms(batch):
    src, en = batch
    moved = WordEmbeddings(en.vectors + 0.25 * en.mask[..., None], en.mask, en.words)
    cfg = LossConfig(eps=0.1, lam=2.0)
    de = language_loss(src, moved, en, cfg, lang="de")
    fr = language_loss(moved, src, src, cfg, lang="fr")
    assert set(de.ot) == set(de.reg) == {"de"} and set(fr.reg) == {"fr"}
    assert torch.equal(de.total, de.ot["de"] + 2.0 * de.reg["de"])  # l(c; P^k) of Eq. 2
    assert language_loss(src, moved, None, cfg, lang="de").reg == {}  # no initial model
    en_init = {"de": en, "fr": src}
    whole = wordot_loss({"de": src, "fr": moved}, {"de": moved, "fr": src}, en_init, cfg)
    for k, term in (("de", de), ("fr", fr)):
        assert torch.equal(whole.ot[k], term.ot[k]) and torch.equal(whole.reg[k], term.reg[k])
    assert torch.allclose(whole.total, de.total + fr.total)
    # one language: wordot_loss is the per-language term, to the bit
    one = wordot_loss({"de": src}, {"de": moved}, {"de": en}, cfg)
    assert torch.equal(one.total, de.total)


def test_the_total_has_one_formula_and_reweighting_uses_it():
    ot_ = {"de": torch.tensor(1.5), "fr": torch.tensor(0.5)}
    reg = {"de": torch.tensor(2.0), "fr": torch.tensor(4.0)}
    parts = LossParts.from_terms(ot_, reg, 0.5)
    assert float(parts.total) == 1.5 + 0.5 + 0.5 * (2.0 + 4.0)
    assert float(LossParts.from_terms(ot_, {}, 0.5).total) == 2.0
    half = parts.reweighted({"de": 0.5, "fr": 0.25}, 0.5)
    assert half.ot is parts.ot and float(half.reg["fr"]) == 1.0
    assert float(half.total) == 2.0 + 0.5 * (1.0 + 1.0)
    assert parts.as_floats() == {
        "loss": 5.0,
        "ot/de": 1.5,
        "ot/fr": 0.5,
        "reg/de": 2.0,
        "reg/fr": 4.0,
    }


def test_concat_and_flatten_keep_every_real_point_in_order(batch):
    src, en = batch
    both = concat_batches([src, en])
    assert both.vectors.shape == (6, 7, 8) and both.words == src.words + en.words
    assert torch.equal(both.mask[:3, :6], src.mask) and not both.mask[:3, 6:].any()
    assert torch.allclose(both.weights[3:], en.weights)
    pts, w = flatten(both)
    n = int(src.mask.sum() + en.mask.sum())
    assert pts.shape == (1, n, 8) and torch.allclose(w, torch.full((1, n), 1.0 / n, dtype=w.dtype))
    assert torch.equal(pts[0], torch.cat([src.vectors[src.mask], en.vectors[en.mask]]))
    with pytest.raises(ValueError, match="no batch to concatenate"):
        concat_batches([])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lam": float("nan")}, r"LossConfig.lam must be a finite number >= 0, got nan"),
        ({"lam": -1.0}, r"LossConfig.lam must be a finite number >= 0, got -1.0"),
        ({"eps": 0.0}, r"LossConfig.eps must be a finite number > 0"),
        ({"reach": float("inf")}, r"LossConfig.reach must be a finite number > 0"),
        ({"tol": -1e-3}, r"LossConfig.tol must be a finite number > 0"),
    ],
)
def test_loss_config_refuses_values_the_loss_cannot_use(kwargs, message):
    # issue 14, item 6: lam=nan and lam<0 used to be accepted
    with pytest.raises(ValueError, match=message):
        LossConfig(**kwargs)
