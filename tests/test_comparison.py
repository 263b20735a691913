"""wordot.evaluation.comparison: the jobs of every method, summaries and paired differences
against hand-computed values."""

from __future__ import annotations

import math

import pytest

from wordot import config
from wordot.evaluation import comparison
from wordot.train import run_dir


def _rec(method, seed, value):
    return {"method": method, "seed": seed, "gold/avg/aer@last": value}


def test_stochastic_methods_run_every_seed_and_l2_has_its_optimiser():
    p = config.resolve("smoke")
    jobs = comparison.comparison_jobs(p, {"runs_dir": "/r"}, ["wordot", "l2", "procrustes"], [0, 1])
    assert [j.name for j in jobs] == [
        "wordot, seed 0",
        "wordot, seed 1",
        "l2, seed 0",
        "l2, seed 1",
        "procrustes, seed 0",
    ]
    l2 = jobs[2].overrides
    assert l2["adam_betas"] == (0.9, 0.98) and l2["adam_eps"] == 1e-9 and l2["warmup"] == 0.1
    assert "warmup" not in jobs[0].overrides and jobs[4].maps == "procrustes"
    resolved = jobs[3].resolved()
    assert resolved.train.objective == "l2" and resolved.train.warmup == 0.1
    assert resolved.seed == 1
    with pytest.raises(ValueError, match="unknown or no methods \\['cca'\\]"):
        comparison.comparison_jobs(p, {}, ["cca"], [0])
    with pytest.raises(ValueError, match="distinct seeds"):
        comparison.comparison_jobs(p, {}, ["none"], [0, 0])


def test_summary_and_paired_differences_by_hand():
    recs = [_rec("none", 0, 0.30)]
    recs += [_rec("wordot", s, v) for s, v in zip((0, 1, 2), (0.25, 0.26, 0.28), strict=True)]
    recs += [_rec("center", 0, 0.29)]
    key = "gold/avg/aer@last"
    table = comparison.method_summary(recs, [key])
    assert table.loc["wordot", (key, "mean")] == pytest.approx(0.26333333)
    assert table.loc["wordot", (key, "sd")] == pytest.approx(0.0152752523)
    assert table.loc["none", (key, "n")] == 1 and math.isnan(table.loc["none", (key, "sd")])
    d = comparison.differences(recs, "none", [key])
    w = d.loc[("wordot", key)]
    # differences -0.05, -0.04, -0.02: mean -0.03667, sd 0.015275, t(2, 0.975) = 4.302653
    mean, half = -0.11 / 3, 4.302652729911275 * 0.015275252316519468 / math.sqrt(3)
    assert w["mean"] == pytest.approx(mean) and w["n"] == 3
    assert w["low"] == pytest.approx(mean - half) and w["high"] == pytest.approx(mean + half)
    c = d.loc[("center", key)]  # two deterministic methods: one difference, no interval
    assert c["mean"] == pytest.approx(-0.01) and c["n"] == 1 and math.isnan(c["low"])
    back = comparison.differences(recs, "wordot", [key]).loc[("none", key)]
    assert back["mean"] == pytest.approx(0.11 / 3) and back["n"] == 3
    # a stochastic method with one seed pairs that seed only: no spread, however many the other has
    one_l2 = comparison.differences([*recs, _rec("l2", 0, 0.27)], "wordot", [key])
    assert one_l2.loc[("l2", key), "n"] == 1 and math.isnan(one_l2.loc[("l2", key), "low"])
    assert one_l2.loc[("l2", key), "mean"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="no records of 'l2'"):
        comparison.differences(recs, "l2", [key])


def test_compare_command_names_a_bad_method(capsys):
    from wordot.__main__ import main

    assert main(["compare", "--profile", "smoke", "-p", "methods", "wordot,cca"]) == 1
    assert "parameter methods must be one of" in capsys.readouterr().err


def test_a_record_written_by_another_chapter_takes_the_comparison_name():
    from wordot.evaluation.experiments import Job

    rec = comparison._with_method({"job": "initial", "x": 1}, Job("none, seed 0", "smoke"))
    assert rec == {"job": "none, seed 0", "method": "none", "seed": 0, "x": 1}


def test_trained_models_are_the_run_directories_of_the_training_jobs():
    p = config.resolve("cpu")
    models = comparison.trained_models(p, {}, "l2", [0, 1])
    jobs = comparison.comparison_jobs(p, {}, ["l2"], [0, 1])
    assert list(models) == [0, 1] and models[0] != models[1]
    for job in jobs:
        want = (run_dir(job.resolved()) / "model").resolve()
        assert not models[job.eval_seed].is_absolute() and models[job.eval_seed].resolve() == want
    assert comparison.trained_models(p, {}, "wordot", [0])[0] != models[0]  # another objective
    with pytest.raises(ValueError, match="trains no encoder"):
        comparison.trained_models(p, {}, "procrustes", [0])


def test_comparison_tasks_need_the_trained_encoders(tmp_path):
    p = config.resolve("cpu", runs_dir=str(tmp_path), task_results_dir=str(tmp_path / "x"))
    with pytest.raises(FileNotFoundError, match="run the comparison first"):
        comparison.run_comparison_tasks(p, {"runs_dir": str(tmp_path)}, "l2")
