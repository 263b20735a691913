"""wordot.xtreme.book: the runs of a profile and the downsized comparison of chapters 10-11.

Oracles: the runs' own records (the comparison equals paired_differences on them), the
profile's settings as recorded in results.json, and the thread count restored.
"""

from __future__ import annotations

import matplotlib
import pytest
import torch
from support import EVAL_DATA, needs_eval_data

from wordot import config, xtreme
from wordot.models import load_encoder
from wordot.xtreme.book import (
    downsized_comparison,
    encoder_changes,
    plot_paired_change,
    run_profile,
    split_of,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if EVAL_DATA is None:
        pytest.skip("real evaluation data absent")
    root = tmp_path_factory.mktemp("book")
    copy = root / "tiny-copy"  # a second encoder: the same weights under another name
    model, tok = load_encoder("tiny")
    model.save_pretrained(copy)
    tok.save_pretrained(copy)
    cfg = config.resolve(
        "smoke",
        task_protocol="downsized",
        task_data=str(EVAL_DATA),
        task_encoders=f"tiny,{copy}",
        task_seeds="0",
        xnli_languages="en,de",
        xnli_test_items=12,
        task_train_limit=16,
        task_threads=1,
    )
    threads = torch.get_num_threads()
    records = run_profile("xnli", cfg, root / "results")
    assert torch.get_num_threads() == threads  # restored
    return cfg, records, str(copy)


@needs_eval_data
def test_run_profile_runs_every_encoder_with_the_profile_split(runs):
    cfg, records, copy = runs
    assert [r["encoder"] for r in records] == ["tiny", copy]
    for r in records:
        assert r["data"]["protocol"] == "downsized"
        assert r["data"]["split"] == split_of(cfg.tasks, "xnli").to_dict("xnli")
        assert list(r["metrics"]) == ["en", "de"] and r["metrics"]["de"]["examples"] == 12


def test_each_task_gets_its_own_test_items():
    cfg = config.resolve("cpu", xnli_test_items=150, xquad_test_items=60)
    assert split_of(cfg.tasks, "xnli").test_items == 150
    assert split_of(cfg.tasks, "xquad").test_items == 60
    assert split_of(cfg.tasks, "xquad").test_articles == cfg.tasks.xquad_test_articles


@needs_eval_data
def test_comparison_is_the_paired_difference_of_the_two_runs(runs):
    _, records, copy = runs
    change = downsized_comparison(records, "tiny", copy)
    want = xtreme.paired_differences(records[0], records[1])
    assert list(change["seed"].unique()) == [0]
    assert change.drop(columns="seed").equals(want)
    with pytest.raises(ValueError, match="no seed has downsized runs"):
        downsized_comparison(records, "tiny", "other")
    fig = plot_paired_change(change, "xnli", ["en", "de"])
    scores, diff = fig.axes
    assert [b.get_height() for b in scores.patches[:2]] == list(change.loc[["en", "de"], "base"])
    assert list(diff.lines[0].get_ydata()) == list(change.loc[["en", "de"], "difference"])


@needs_eval_data
def test_encoder_changes_stack_each_method_against_the_base(runs):
    _, records, copy = runs
    table = encoder_changes(records, "tiny", {"A": copy, "B": copy}, rows=("avg_all",))
    change = downsized_comparison(records, "tiny", copy)
    assert list(table.index) == [("A", "avg_all"), ("B", "avg_all")]
    for label in ("A", "B"):
        got = table.loc[(label, "avg_all"), ["difference", "low", "high"]].tolist()
        assert got == change.loc["avg_all", ["difference", "low", "high"]].tolist()
