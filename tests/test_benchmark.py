"""The standard-set suite (wordot.align.benchmark) and its place in evaluate_all.

Oracles: every value of the suite recomputed one layer and one set at a time through the
single-layer functions (word_alignments + gold_scores, tatoeba_accuracy), and hidden states of
a truncated encoder compared with those of a full pass.
"""

from __future__ import annotations

import pytest
import torch
from support import needs_eval_data

from wordot import config
from wordot.align import (
    COLUMNS,
    BenchmarkConfig,
    alignments_by_layer,
    averages,
    gold_scores,
    layer_name,
    load_gold,
    run_benchmarks,
    tatoeba_accuracy,
    word_alignments,
)
from wordot.align.benchmark import shards
from wordot.embed import hidden_layers, hidden_states
from wordot.evaluation import TASKS, evaluate_all
from wordot.loss import LossConfig
from wordot.models import load_encoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def tiny():
    # a fresh model per test: the truncation test depends on the model's first forward pass
    return load_encoder("tiny")


def _encoding(tokenizer) -> dict:
    return dict(
        tokenizer(["a small test", "zwei Wörter und mehr"], return_tensors="pt", padding=True)
    )


def test_hidden_layers_of_a_truncated_pass_equal_the_full_pass(tiny):
    model, tokenizer = tiny
    enc = _encoding(tokenizer)
    n = model.config.num_hidden_layers
    assert n >= 2 and len(model.encoder.layer) == n
    calls = []
    model.encoder.layer[-1].register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        # first call below the top: transformers' hidden-state hooks must still cover every layer
        low = hidden_layers(model, enc, (1,))[0]
        full = model(**enc, output_hidden_states=True).hidden_states
        assert len(full) == n + 1  # later full passes still return every layer
        before = len(calls)
        again = hidden_layers(model, enc, (1, 0))  # now run on the first layer only
        assert len(calls) == before, "the top layer was not run"
    assert len(model.encoder.layer) == n  # the layer list is restored
    for got, k in ((low, 1), (again[0], 1), (again[1], 0)):
        torch.testing.assert_close(got, full[k], rtol=0, atol=0)
    with_grad = hidden_layers(model, enc, (1,))[0]  # with gradients: every layer runs
    assert len(calls) == before + 1 and with_grad.requires_grad
    torch.testing.assert_close(with_grad.detach(), full[1], rtol=0, atol=0)
    torch.testing.assert_close(hidden_states(model, enc, -1), full[-1], rtol=0, atol=0)
    with pytest.raises(ValueError, match="out of range"):
        hidden_layers(model, enc, (n + 1,))
    with pytest.raises(ValueError, match="no layer"):
        hidden_layers(model, enc, ())


def test_alignments_by_layer_equal_one_layer_at_a_time(tiny):
    model, tokenizer = tiny
    pairs = [
        (("das", "ist", "ein", "Haus"), ("this", "is", "a", "house")),
        (("Katze",), ("the", "cat", "sleeps")),
        (("ein", "langer", "Satz", "mit", "Wörtern"), ("a", "long", "sentence")),
    ]
    both = alignments_by_layer(model, tokenizer, pairs, method="itermax", layers=(1, -1))
    assert set(both) == {1, -1}
    for layer in (1, -1):
        one = word_alignments(model, tokenizer, pairs, method="itermax", layer=layer)
        assert both[layer] == one


def test_benchmark_config_errors():
    with pytest.raises(ValueError, match="unknown gold set"):
        BenchmarkConfig(gold_sets=("xl-wa-xx",))
    with pytest.raises(ValueError, match="split"):
        BenchmarkConfig(split="train")
    with pytest.raises(ValueError, match="unknown alignment method"):
        BenchmarkConfig(method="best")
    with pytest.raises(ValueError, match="no Tatoeba set"):
        BenchmarkConfig(tatoeba_languages=("qq",))
    with pytest.raises(ValueError, match="nothing to measure"):
        BenchmarkConfig(gold_sets=(), tatoeba_languages=())
    with pytest.raises(ValueError, match="at least one layer"):
        BenchmarkConfig(align_layers=())
    assert layer_name(-1) == "last" and layer_name(8) == "layer 8"


def test_config_names_every_evaluation_task():
    assert config.EVAL_TASKS == TASKS


def _values(table, name: str, layer: int) -> dict[str, float]:
    """``{metric: value}`` of one set (or "tatoeba") and layer of a benchmark table."""
    got = table[(table["set"] == name) & (table["layer"] == layer_name(layer))]
    return dict(zip(got["metric"], got["value"], strict=True))


@needs_eval_data
def test_suite_values_equal_the_single_measures(tiny):
    model, tokenizer = tiny
    cfg = BenchmarkConfig(
        gold_sets=("xl-wa-es", "bicici-deen"),
        split="dev",
        align_layers=(1, -1),
        tatoeba_languages=("sw",),
        tatoeba_layers=(1, -1),
    )
    table = run_benchmarks(model, tokenizer, cfg, progress=False)
    assert tuple(table.columns) == COLUMNS
    assert set(table.attrs["seconds"]) == {"alignment", "tatoeba"}
    # 2 sets x 2 layers x (aer, precision, recall) + 1 language x 2 layers x 2 directions
    assert len(table) == 2 * 2 * 3 + 2 * 2
    assert table["value"].between(0, 1).all()
    sizes = table.groupby("set")["n"].first().to_dict()
    assert sizes == {"xl-wa-es": 105, "bicici-deen": 100, "tatoeba": 390}  # XL-WA dev; sw: 390
    assert set(table.loc[table["set"] == "xl-wa-es", "split"]) == {"dev"}
    assert set(table.loc[table["set"] == "bicici-deen", "split"]) == {"test"}  # no dev split
    for name, split in (("xl-wa-es", "dev"), ("bicici-deen", None)):
        gold = load_gold(name, split)
        for layer in (1, -1):
            links = word_alignments(
                model, tokenizer, [(g.src, g.en) for g in gold], method="argmax", layer=layer
            )
            want = gold_scores(links, gold)
            assert _values(table, name, layer) == pytest.approx(
                {"aer": want.aer, "precision": want.precision, "recall": want.recall}, abs=1e-12
            )
    for layer in (1, -1):
        r = tatoeba_accuracy(model, tokenizer, "sw", layer=layer)
        assert _values(table, "tatoeba", layer) == pytest.approx(
            {"xx_to_en": r.xx_to_en, "en_to_xx": r.en_to_xx}, abs=1e-12
        )
    avg = averages(table).set_index(["task", "layer", "metric"])
    aer_last = table[(table["metric"] == "aer") & (table["layer"] == "last")]["value"].mean()
    assert avg.loc[("alignment", "last", "aer"), "value"] == pytest.approx(aer_last)
    assert avg.loc[("alignment", "last", "aer"), "sets"] == 2


@needs_eval_data
def test_evaluate_all_reports_the_standard_sets_with_averages(tiny):
    model, tokenizer = tiny
    bench = BenchmarkConfig(
        gold_sets=("xl-wa-bg", "enfr"),
        split="dev",
        align_layers=(2,),
        tatoeba_languages=("th",),
        tatoeba_layers=(2,),
    )
    rec = evaluate_all(
        model,
        tokenizer,
        ["de"],  # the held-out corpora are not read for these two tasks
        plan=LossConfig(),
        tasks=("gold", "tatoeba"),
        benchmarks=bench,
        progress=False,
    )
    table = run_benchmarks(model, tokenizer, bench, progress=False)
    for r in table.itertuples():
        where = r.set if r.task == "alignment" else r.language
        task = "gold" if r.task == "alignment" else "tatoeba"
        assert rec[f"{task}/{where}/{r.metric}@2"] == pytest.approx(r.value, abs=1e-12)
        assert rec[f"{task}/{where}/n"] == r.n
    assert rec["gold/avg/aer@2"] == pytest.approx(
        (rec["gold/xl-wa-bg/aer@2"] + rec["gold/enfr/aer@2"]) / 2
    )
    assert rec["tatoeba/avg/en_to_xx@2"] == rec["tatoeba/th/en_to_xx@2"]
    assert rec["gold_split"] == "dev"
    assert not any(k.startswith(("align/", "retrieval/", "cls/")) for k in rec)
    assert rec["time/gold"] > 0 and rec["time/tatoeba"] > 0


@needs_eval_data
def test_the_suite_in_two_processes_gives_the_same_rows(tiny):
    model, tokenizer = tiny
    cfg = BenchmarkConfig(
        gold_sets=("xl-wa-es",),
        split="dev",
        align_layers=(1, -1),
        tatoeba_languages=("de", "es", "fr"),
        tatoeba_layers=(1, -1),
    )
    one = run_benchmarks(model, tokenizer, cfg, progress=False)
    two = run_benchmarks(model, tokenizer, cfg, progress=False, workers=2)
    assert list(one.columns) == list(two.columns) and len(one) == len(two)
    keys = ["task", "set", "language", "layer", "metric", "n"]
    assert one[keys].equals(two[keys])  # the same rows in the same order
    assert (one["value"] - two["value"]).abs().max() < 1e-9
    cut = shards(cfg, 2)
    assert cut[0].gold_sets == ("xl-wa-es",) and not cut[1].gold_sets
    assert cut[0].tatoeba_languages + cut[1].tatoeba_languages == cfg.tatoeba_languages
    assert shards(cfg, 1) == [cfg]
