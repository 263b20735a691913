"""Feature maps in the benchmark suite: applied to the source side of alignment and retrieval,
per language and layer, with the languages left unmapped listed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from support import needs_eval_data

from wordot.align import BenchmarkConfig, layer_name, run_benchmarks
from wordot.align.retrieval import layer_embeddings, retrieval_accuracy, tatoeba_pairs
from wordot.models import load_encoder

pytestmark = [pytest.mark.usefixtures("one_thread"), needs_eval_data]


@dataclass
class Scale:
    """x -> factor * x: 1 leaves cosine similarities alone, -1 turns them upside down."""

    factor: float

    def fit(self, src, en):
        return self

    def map(self, x):
        return self.factor * x


@dataclass
class Rotate:
    """x -> x @ R for a fixed random orthogonal R."""

    R: torch.Tensor

    def fit(self, src, en):
        return self

    def map(self, x):
        return x @ self.R.to(x.dtype)


CFG = BenchmarkConfig(
    gold_sets=("xl-wa-es",),
    split="dev",
    align_layers=(1, -1),
    tatoeba_languages=("es", "sw"),
    tatoeba_layers=(1, -1),
)
KEYS = ["task", "set", "language", "layer", "metric"]
L1 = layer_name(1)


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny")


@pytest.fixture(scope="module")
def plain(tiny):
    return run_benchmarks(*tiny, CFG, progress=False)


def test_a_map_that_keeps_cosines_keeps_every_row_and_names_the_unmapped(tiny, plain):
    maps = {"es": {1: Scale(1.0), -1: Scale(2.0)}}
    table = run_benchmarks(*tiny, CFG, progress=False, source_maps=maps)
    assert table[KEYS].equals(plain[KEYS])
    assert (table["value"] - plain["value"]).abs().max() < 1e-12
    assert table.attrs["unmapped"] == [("sw", "last"), ("sw", L1)]
    assert "unmapped" not in plain.attrs


def test_a_map_acts_on_the_source_side_only(tiny, plain):
    maps = {"es": {-1: Scale(-1.0)}}  # cosines to English turned upside down at the last layer
    table = run_benchmarks(*tiny, CFG, progress=False, source_maps=maps).set_index(KEYS)
    base = plain.set_index(KEYS)
    aer = ("alignment", "xl-wa-es", "es", "last", "aer")
    assert table.loc[aer, "value"] > base.loc[aer, "value"] + 0.2  # much worse alignment
    same = ("alignment", "xl-wa-es", "es", L1, "aer")
    assert table.loc[same, "value"] == base.loc[same, "value"]  # layer 1 had no map
    assert table.attrs["unmapped"] == [("es", L1), ("sw", "last"), ("sw", L1)]


def test_mapped_retrieval_equals_mapping_the_sentence_vectors_by_hand(tiny):
    model, tok = tiny
    R = torch.linalg.qr(torch.randn(model.config.hidden_size, model.config.hidden_size))[0]
    maps = {"es": {-1: Rotate(R)}}
    table = run_benchmarks(model, tok, CFG, progress=False, source_maps=maps)
    pairs = tatoeba_pairs("es")
    xx = layer_embeddings(model, tok, [s for s, _ in pairs], layers=(-1,))[-1] @ R
    en = layer_embeddings(model, tok, [e for _, e in pairs], layers=(-1,))[-1]
    got = table.set_index(KEYS)["value"]
    assert got[("tatoeba", "tatoeba", "es", "last", "xx_to_en")] == retrieval_accuracy(xx, en)
    assert got[("tatoeba", "tatoeba", "es", "last", "en_to_xx")] == retrieval_accuracy(en, xx)
    # the same rows from two worker processes (the maps travel to them)
    two = run_benchmarks(model, tok, CFG, progress=False, source_maps=maps, workers=2)
    assert (two["value"] - table["value"]).abs().max() < 1e-9


def test_a_map_that_makes_nan_is_an_error(tiny):
    maps = {"es": {-1: Scale(float("nan"))}}
    with pytest.raises(FloatingPointError, match="Scale produced non-finite"):
        run_benchmarks(*tiny, CFG, progress=False, source_maps=maps)
