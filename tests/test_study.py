"""wordot.evaluation.study (chapter 7's seeds and one-knob runs) and the record lock of
wordot.evaluation.experiments: tiny model, toy data, offline."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from wordot import config, data
from wordot.__main__ import main
from wordot.evaluation import experiments, study


def test_rows_change_one_knob_each():
    p = config.resolve("cpu", runs_dir="/nonexistent")
    rows = study.ablations(p)
    names = [a.name for a in rows]
    assert names == [
        "initial model: -",
        "reference: eps 0.05, last",
        "eps: 0.02",
        "eps: 0.2",
        "pooling: first",
        "pooling: mean",
        "pooling: subword",
        "reference: seed 1",
        "reference: seed 2",
        "embeddings: trained",
    ]
    short = {"languages": "es", "max_steps": 20}
    ref = rows[1].change
    assert rows[0].change is None and ref == short
    for a in rows[2:]:  # the reference plus exactly one change
        extra = {k: v for k, v in a.change.items() if k not in short}
        assert len(extra) == 1 and {k: a.change[k] for k in short} == short, a
    assert rows[-1].change["freeze_word_embeddings"] is False  # the cpu profile freezes them
    protocol = study.ablation_protocol(p)
    assert protocol["gold_sets"] == ("xl-wa-es",) and protocol["gold_split"] == "dev"
    jobs = study.ablation_jobs(p, {"runs_dir": "/x"})
    assert [j.name for j in jobs] == names and not jobs[0].train
    assert all(j.overrides["runs_dir"] == "/x" and j.eval == protocol for j in jobs)
    # one epoch per data size, when the profile has sizes
    sized = study.ablations(config.resolve("smoke"))
    assert [a.change["pairs_per_language"] for a in sized if a.knob == "pairs"] == [16, 32]
    assert all(a.change["max_steps"] == "none" for a in sized if a.knob == "pairs")


def test_cpu_book_reads_them_and_the_smoke_book_runs_them():
    assert config.resolve("cpu").study.run_study is False
    assert config.resolve("smoke").study.run_study is True
    assert config.resolve("cpu", run_study="true").study.run_study is True
    after, initial = study.seed_jobs(config.resolve("cpu"), {"runs_dir": "/r"})
    assert [j.name for j in after] == ["WordOT, seed 0", "WordOT, seed 1", "WordOT, seed 2"]
    assert [j.eval_seed for j in after] == [0, 1, 2] and not initial.train
    assert all(j.overrides == {"runs_dir": "/r", "seed": j.eval_seed} for j in after)
    assert study.stored(after) == [None, None, None]


def test_run_then_read_the_stored_records(tmp_path, monkeypatch, one_thread):
    cache = data.write_smoke_cache(tmp_path / "cache" / "corpora")
    base = {"runs_dir": str(tmp_path / "runs")}
    p = config.resolve(
        "smoke",
        ablation_eps="0.2",
        ablation_poolings="mean",
        ablation_pairs="16",
        result_seeds="0",
        eval_tatoeba_languages="de",
        **base,
    )
    assert study.stored_ablations(p, base) == []
    empty = study.ablation_table(p, [])
    assert empty.empty and list(empty.columns) == ["steps", *study.ablation_columns(p).values()]
    monkeypatch.setattr(experiments, "evaluate_all", _fake_evaluate)
    recs = study.run_ablations(p, base, workers=1, corpora_dir=cache, progress=False)
    table = study.ablation_table(p, recs)
    assert list(table.index) == [a.name for a in study.ablations(p)]
    assert table.loc["initial model: -", "steps"] == 0
    assert table.loc["pairs: 16", "steps"] == 16 // p.train.batch_size  # one epoch
    assert (table.drop(index="pairs: 16")["steps"].iloc[1:] == p.study.ablation_steps).all()
    assert study.stored_ablations(p, base) == recs  # read back, nothing recomputed


def _fake_evaluate(model, tok, langs, **kw):
    """A record with the keys the table reads (the suite itself: test_benchmark)."""
    bench, out = kw["benchmarks"], {}
    for layer in bench.align_layers:
        at = "last" if layer == -1 else str(layer)
        out |= {f"gold/{s}/aer@{at}": 0.25 for s in bench.gold_sets}
        out |= {f"tatoeba/{x}/en_to_xx@{at}": 0.5 for x in bench.tatoeba_languages}
    return out


def _hold_lock(record, started, seconds):
    with experiments._record_lock(record):
        started.set()
        time.sleep(seconds)
        record.write_text("{}")


def test_a_second_process_waits_for_the_record(tmp_path):
    """Two chapters needing one record: the second waits for the first's, then reads it."""
    record = tmp_path / "eval" / "seed0-abc.json"
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(record, started, 2.0))
    holder.start()
    assert started.wait(60)
    t0 = time.perf_counter()
    with experiments._record_lock(record):
        waited = time.perf_counter() - t0
        assert record.exists(), "the lock is only free once the record is written"
    holder.join(30)
    assert waited > 0.5


def test_study_command_names_a_bad_parameter(capsys):
    assert main(["study", "--profile", "smoke", "-p", "ablation_steps", "0"]) == 1
    assert "ablation_steps" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["maybe"])
def test_run_study_must_be_a_bool(value):
    with pytest.raises(ValueError, match="run_study"):
        config.resolve("smoke", run_study=value)
