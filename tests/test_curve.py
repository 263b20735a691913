"""The learning curve: one run per trained layer with its points saved along the way, each
point and the base encoder evaluated on dev sets, and a long table of the measures."""

import pytest
from support import needs_eval_data

from wordot.config import resolve
from wordot.evaluation.curve import CurveConfig, curve_jobs, learning_curve, stored_curves
from wordot.train import run_dir


def test_points_must_be_increasing_multiples_of_the_batch():
    with pytest.raises(ValueError, match="increasing"):
        CurveConfig(pairs=(64, 32))
    with pytest.raises(ValueError, match=r"\[20\] are not multiples of the batch size 8"):
        CurveConfig(pairs=(16, 20)).steps(8)


def test_jobs_train_once_per_layer_and_read_the_snapshots():
    p = resolve("smoke")
    cfg = CurveConfig(pairs=(16, 32, 48), layers=(-1, 1))
    train_jobs, eval_jobs, points = curve_jobs("smoke", cfg, {"bucket_by_length": True})
    assert [j.name for j in train_jobs] == ["layer-1@48", "layer1@48"]
    assert train_jobs[0].overrides["max_steps"] == 48 // p.train.batch_size
    assert train_jobs[0].overrides["snapshot_steps"] == (2, 4)
    assert [j.name for j in eval_jobs] == [
        "base",
        "layer-1@16",
        "layer-1@32",
        "layer1@16",
        "layer1@32",
    ]
    assert points == {
        "base": (None, 0),
        "layer-1@48": (-1, 48),
        "layer-1@16": (-1, 16),
        "layer-1@32": (-1, 32),
        "layer1@48": (1, 48),
        "layer1@16": (1, 16),
        "layer1@32": (1, 32),
    }
    assert all(j.overrides["bucket_by_length"] for j in train_jobs + eval_jobs)
    run = run_dir(resolve("smoke", **train_jobs[1].overrides))
    assert eval_jobs[-1].overrides["encoder"] == str(run / "snapshots" / "step-4")
    assert all(j.eval["gold_split"] == "dev" for j in eval_jobs + train_jobs)


@needs_eval_data
def test_a_smoke_curve_runs_end_to_end(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    cfg = CurveConfig(pairs=(8, 16), layers=(-1,), tatoeba_languages=("de",), bench_layers=(1,))
    frame = learning_curve("smoke", cfg, {"runs_dir": str(tmp_path / "runs")})
    assert sorted(frame.pairs.unique()) == [0, 8, 16]
    aer = frame[frame.measure == "gold/xl-wa-es/aer@1"]
    assert len(aer) == 3 and aer.value.between(0, 1).all()
    # the points differ: the model moved between them
    per_point = frame.groupby("pairs").value.sum()
    assert per_point.nunique() == 3, per_point
    assert (tmp_path / "runs" / "smoke").is_dir()  # the runs went where the profile says
    # the table is kept with its settings, and read back as a stored curve
    kept = stored_curves(resolve("smoke", runs_dir=str(tmp_path / "runs")))
    assert set(kept.curve) == {"curve-8_16-layers-1"}
    assert len(kept) == len(frame) and kept.value.tolist() == frame.value.tolist()
    about = tmp_path / "runs" / "smoke" / "curves" / "curve-8_16-layers-1.json"
    assert '"pairs": [\n      8,\n      16\n    ]' in about.read_text()


def test_no_stored_curve_is_an_empty_table(tmp_path):
    kept = stored_curves(resolve("smoke", runs_dir=str(tmp_path / "nothing")))
    assert kept.empty and list(kept.columns) == [
        "layer_trained",
        "pairs",
        "measure",
        "value",
        "curve",
    ]


def test_curve_command_names_a_bad_point(capsys):
    from wordot.__main__ import main

    assert main(["curve", "--profile", "smoke", "-p", "curve_pairs", "5,7"]) == 1
    assert (
        "pairs per language [5, 7] are not multiples of the batch size" in capsys.readouterr().err
    )
