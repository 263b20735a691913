"""The feature-level neighbours under one protocol: maps fitted per language and layer on the
word pairs of the training sentences, then applied by the benchmark suite."""

import pytest
import torch

from wordot import data
from wordot.models import load_encoder
from wordot.neighbours import fit as F
from wordot.neighbours.pairs import align_corpus, pair_vectors
from wordot.neighbours.realnvp import RealNVPConfig

pytest.importorskip("thot", reason="sil-thot (the statistical aligners) is not installed")
pytestmark = pytest.mark.usefixtures("one_thread")

FAST = F.MapOptions(
    aligner="fast_align",
    realnvp=RealNVPConfig(hidden=(16,), epochs=3, lr=3e-3, batch_size=64),
)


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny")


@pytest.fixture(scope="module")
def corpora():
    return {k: data.smoke_corpus(k) for k in ("de", "fr")}


@pytest.mark.parametrize("method", F.FEATURE_METHODS)
def test_every_feature_method_fits_a_map_per_language_and_layer(
    method, tiny, corpora, tmp_path, monkeypatch
):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    model, tok = tiny
    maps = F.fit_source_maps(
        method, model, tok, corpora, layers=(1, -1), options=FAST, progress=False
    )
    assert set(maps) == {"de", "fr"} and all(set(m) == {1, -1} for m in maps.values())
    assert F.describe_maps(maps) == "de: 1, last; fr: 1, last"
    # the map of a language brings its aligned source words closer to their English partners
    # than they are unmapped (Procrustes and centering: by construction on the fitted pairs)
    pairs = list(zip(corpora["de"].src, corpora["de"].en, strict=True))
    src, en = pair_vectors(model, tok, align_corpus(pairs, "de", method="fast_align"), (-1,))[-1]
    mapped = maps["de"][-1].map(src)
    assert mapped.shape == src.shape and torch.isfinite(mapped).all()
    before = (src - en).pow(2).sum(-1).mean()
    after = (mapped - en).pow(2).sum(-1).mean()
    if method != "realnvp":  # a 3-epoch flow on 300 pairs is a pipeline check only
        assert after < before, (method, before, after)


def test_procrustes_is_the_rotation_of_the_pairs(tiny, corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    model, tok = tiny
    maps = F.fit_source_maps(
        "procrustes", model, tok, corpora, layers=(-1,), options=FAST, progress=False
    )
    W = maps["fr"][-1].W
    assert torch.allclose(W.T @ W, torch.eye(W.shape[0]), atol=1e-5)


def test_methods_and_errors_are_named(tiny, corpora):
    assert F.METHODS == ("wordot", "l2", "procrustes", "realnvp", "center", "none")
    with pytest.raises(ValueError, match="'l2' is not a feature-level method"):
        F.fit_source_maps("l2", *tiny, corpora)
    with pytest.raises(ValueError, match="'none' is not a feature-level method"):
        F.new_map("none")


def test_a_map_that_cannot_be_fitted_names_language_and_layer(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    model, tok = tiny
    few = data.ParallelCorpus("de", ["Das Haus ist rot."], ["The house is red."])
    with pytest.raises(ValueError, match=r"procrustes for de, layer -1: .*rank"):
        F.fit_source_maps(
            "procrustes", model, tok, {"de": few}, layers=(-1,), options=FAST, progress=False
        )


def test_a_map_is_fitted_on_the_first_sentences_only(tiny, corpora, tmp_path, monkeypatch):
    """The budget of a training run: the aligner reads every pair, the map the first n."""
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path))
    model, tok = tiny
    one = {"de": corpora["de"]}
    kw = {"layers": (-1,), "options": FAST, "progress": False}
    every = F.fit_source_maps("procrustes", model, tok, one, **kw)["de"][-1]
    pairs = list(dict.fromkeys(zip(corpora["de"].src, corpora["de"].en, strict=True)))
    links = align_corpus(pairs, "de", method="fast_align").links
    n = next(k for k in range(len(links)) if sum(map(len, links[:k])) >= 100)
    first = F.fit_source_maps("procrustes", model, tok, one, sentences=n, **kw)["de"][-1]
    assert first.n_pairs == sum(map(len, links[:n])) < every.n_pairs
    with pytest.raises(ValueError, match="sentences must be at least 1"):
        F.fit_source_maps("center", model, tok, one, sentences=0, **kw)
