"""wordot.evaluation.experiments (many runs, records on disk, worker processes), the smoke
corpora cache, ``evaluate_all(tasks=...)`` and ``train.run_dir``: tiny model and toy data,
offline."""

from __future__ import annotations

import json

import pytest
from support import needs_eval_data

from wordot import config, corpora, data, train
from wordot import evaluation as E
from wordot.embed import EmbedConfig
from wordot.evaluation import EvalSizes, experiments
from wordot.loss import LossConfig
from wordot.models import encoder_label, load_encoder


@pytest.fixture
def smoke_cache(tmp_path):
    """A toy corpora cache, passed to the functions that read it."""
    return data.write_smoke_cache(tmp_path / "cache" / "corpora")


@pytest.fixture
def smoke_env(tmp_path):
    """Profile overrides: a private runs_dir."""
    return {"runs_dir": str(tmp_path / "runs")}


def test_smoke_cache_has_the_real_format(smoke_cache):
    pairs = corpora.offline_pairs("de", "test", cache=smoke_cache)
    assert len(pairs) == 40 and pairs[0][1] == "Your shoes don't match your clothes."
    assert corpora.load_lexicon("fr", cache=smoke_cache)["chaussures"] == {"shoes"}
    assert corpora.section_labels(cache=smoke_cache) == ["home", "town", "work"]
    en = corpora.load_sections("en", "train", cache=smoke_cache)
    assert len(en) == 3 * 24 and {label for _, label in en} == {"home", "town", "work"}
    assert len(corpora.load_sections("es", "test", cache=smoke_cache)) == 40 - 32
    with pytest.raises(corpora.CorpusError, match="not ru"):
        corpora.load_sections("ru", "test", cache=smoke_cache)


def test_evaluate_all_tasks_subset(smoke_cache):
    model, tok = load_encoder("tiny")
    kw = {
        "plan": LossConfig(eps=0.05, cost="euclidean"),
        "sizes": EvalSizes(align_pairs=4, retrieval_pairs=10),
        "corpora_dir": smoke_cache,
    }
    rec = E.evaluate_all(model.eval(), tok, ["de"], tasks=["retrieval"], progress=False, **kw)
    assert rec["tasks"] == "retrieval" and rec["retrieval/de/n"] == 10
    assert not any(k.startswith(("align/", "cls/")) for k in rec) and rec["skipped"] == []
    rec = E.evaluate_all(model, tok, ["de"], tasks=["align"], progress=False, **kw)
    assert rec["align/de/pairs"] == 4 and not any(k.startswith("retrieval/") for k in rec)
    with pytest.raises(ValueError, match="unknown or no tasks"):
        E.evaluate_all(model, tok, ["de"], tasks=["xnli"], **kw)


def test_run_dir_separates_settings_and_data(tmp_path):
    p = config.resolve("cpu", runs_dir=str(tmp_path))
    assert train.run_dir(config.resolve("cpu")).name == "wordot"
    assert train.run_dir(p) == tmp_path / "cpu" / "wordot"  # runs_dir is not a setting
    names = {
        train.run_dir(config.resolve("cpu", runs_dir=str(tmp_path), **change)).name
        for change in ({"seed": 1}, {"lr": 1e-5}, {"pairs_per_language": 256}, {"corpus": "hub"})
    }
    assert len(names) == 4 and all(n.startswith("wordot-") and len(n) == 15 for n in names)


def test_eval_kwargs_route_the_profile_and_changes():
    p = config.resolve("cpu")
    kw = experiments.eval_kwargs(p)
    assert kw["langs"] == list(p.study.languages) and kw["tasks"] == p.study.tasks
    bench = kw["benchmarks"]
    assert bench.gold_sets == p.study.gold_sets and bench.split == "test"
    assert bench.align_layers == bench.tatoeba_layers == p.study.bench_layers
    assert bench.tatoeba_languages == p.study.tatoeba_languages
    dev = experiments.eval_kwargs(
        p, gold_sets=("xl-wa-es",), gold_split="dev", tatoeba_languages=("es",), bench_layers=(8,)
    )["benchmarks"]
    assert (dev.gold_sets, dev.split, dev.tatoeba_languages) == (("xl-wa-es",), "dev", ("es",))
    assert dev.align_layers == dev.tatoeba_layers == (8,)
    with pytest.raises(ValueError, match="unknown evaluation setting"):
        experiments.eval_kwargs(p, gold_set=("enfr",))
    assert kw["plan"] == LossConfig(eps=p.loss.eps, cost=p.loss.cost, reach=p.loss.reach, tol=None)
    assert kw["embed"] == p.embed
    assert kw["sizes"] == EvalSizes(align_pairs=150, retrieval_pairs=300, cls_train=1000)
    kw = experiments.eval_kwargs(
        p, eps=0.2, pooling="mean", cls_dev=5, langs=["es"], tasks=["align"]
    )
    assert kw["plan"].eps == 0.2 and kw["plan"].cost == p.loss.cost and kw["plan"].tol is None
    assert kw["embed"] == EmbedConfig("mean", p.embed.layer, p.embed.max_length)
    assert kw["sizes"].cls_dev == 5 and kw["langs"] == ["es"] and kw["tasks"] == ("align",)
    assert experiments.eval_kwargs(p, tol=1e-3)["plan"].tol == 1e-3
    assert (
        experiments.eval_kwargs(config.resolve("smoke", eval_cls_train="none"))["sizes"].cls_train
        is None
    )


def test_jobs_write_records_and_reuse_them(smoke_env, smoke_cache):
    corpus = {"tasks": E.CORPUS_TASKS}  # the held-out corpora (the standard sets: test_benchmark)
    before = experiments.Job("initial", "smoke", smoke_env, train=False, eval_seed=0, eval=corpus)
    after = experiments.Job(
        "tuned", "smoke", smoke_env | {"max_steps": 2}, eval_seed=0, eval=corpus
    )
    recs = experiments.run_jobs([after, before], workers=1, corpora_dir=smoke_cache, progress=False)
    assert [r["job"] for r in recs] == ["tuned", "initial"]
    assert recs[0]["trained"] and recs[0]["train/steps"] == 2 and not recs[1]["trained"]
    label = encoder_label("tiny")
    assert recs[0]["model"] == f"WordOT({label})" and recs[1]["model"] == label
    path = experiments.record_path(after)
    assert path.parent.parent == train.run_dir(after.resolved())
    assert json.loads(path.read_text()) == recs[0]
    stamp = path.stat().st_mtime_ns
    again = experiments.run_jobs(
        [after, before], workers=2, corpora_dir=smoke_cache, progress=False
    )
    assert again == recs and path.stat().st_mtime_ns == stamp  # read, not recomputed
    diffs = E.compare([recs[1]], [recs[0]])
    assert diffs["retrieval/avg/p1_xx_en"]["n"] == 1


def test_worker_processes_match_one_process(smoke_env, smoke_cache, tmp_path):
    """Two spawned one-thread workers give the records one process gives."""
    kw = {"eval": {"tasks": ["retrieval", "align"]}}
    jobs = [
        experiments.Job(f"seed {s}", "smoke", smoke_env | {"seed": s, "max_steps": 2}, **kw)
        for s in (0, 1)
    ]
    parallel = experiments.run_jobs(jobs, workers=2, corpora_dir=smoke_cache, progress=False)
    other = {"runs_dir": str(tmp_path / "runs-serial")}
    serial = experiments.run_jobs(
        [experiments.Job(j.name, "smoke", j.overrides | other, **kw) for j in jobs],
        workers=1,
        corpora_dir=smoke_cache,
        progress=False,
    )
    for a, b in zip(parallel, serial, strict=True):
        for key in a:
            if key.startswith(("align/", "retrieval/")):
                assert a[key] == pytest.approx(b[key], abs=1e-6), key


def test_job_errors(smoke_env):
    job = experiments.Job("a", "smoke", smoke_env)
    with pytest.raises(ValueError, match="names repeat"):
        experiments.run_jobs([job, job])
    twin = experiments.Job("b", "smoke", smoke_env, eval_seed=1)  # same run, other record
    with pytest.raises(ValueError, match="train the same run at once"):
        experiments.run_jobs([job, twin], workers=2)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        experiments.run_jobs([job], workers=0)
    with pytest.raises(ValueError, match="unknown evaluation setting"):
        experiments.eval_kwargs(config.resolve("smoke"), batch=3)
    with pytest.raises(ValueError, match="unknown parameter"):
        experiments.record_path(experiments.Job("c", "smoke", {"nope": 1}))


def test_method_jobs_name_their_run_or_map(smoke_env):
    from wordot.neighbours.fit import METHODS

    jobs = {m: experiments.method_job(m, "smoke", smoke_env, m, seed=2) for m in METHODS}
    assert jobs["wordot"].train and jobs["wordot"].overrides["objective"] == "wordot"
    assert jobs["l2"].train and jobs["l2"].overrides == smoke_env | {"seed": 2, "objective": "l2"}
    assert train.run_dir(jobs["l2"].resolved()) != train.run_dir(jobs["wordot"].resolved())
    for m in ("procrustes", "realnvp", "center"):
        assert not jobs[m].train and jobs[m].maps == m and jobs[m].eval_seed == 2
    assert not jobs["none"].train and jobs["none"].maps is None
    # one record per map method, none shared with the plain initial encoder
    paths = {experiments.record_path(j) for m, j in jobs.items() if not j.train}
    assert len(paths) == 4
    with pytest.raises(ValueError, match="unknown alignment method 'cca'"):
        experiments.method_job("x", "smoke", smoke_env, "cca")


@needs_eval_data
def test_a_map_job_fits_on_the_training_pairs_and_reads_mapped_sets(
    smoke_env, smoke_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("WORDOT_CACHE", str(tmp_path / "cache"))
    protocol = {"tasks": ("gold", "tatoeba"), "gold_sets": ("xl-wa-es",), "gold_split": "dev"}
    protocol |= {"tatoeba_languages": ("de", "zh"), "bench_layers": (-1,)}
    over = smoke_env | {"aligner": "fast_align"}
    plain = experiments.method_job("none", "smoke", over, "none", eval=protocol)
    center = experiments.method_job("center", "smoke", over, "center", eval=protocol)
    a, b = experiments.run_jobs([plain, center], corpora_dir=smoke_cache, progress=False)
    assert b["maps"] == "center" and b["model"].startswith("center(") and a["maps"] is None
    # the smoke profile trains on de and fr: es and zh are read without a map, and say so
    assert b["unmapped"] == ["es last", "zh last"] and "unmapped" not in a
    assert b["gold/xl-wa-es/aer@last"] == a["gold/xl-wa-es/aer@last"]
    assert b["tatoeba/zh/en_to_xx@last"] == a["tatoeba/zh/en_to_xx@last"]
    assert b["tatoeba/de/en_to_xx@last"] != a["tatoeba/de/en_to_xx@last"]  # mapped: it moved
