"""Many fine-tuning runs and their evaluations, in parallel worker processes (chapter 7).

A :class:`Job` is one encoder to evaluate: the profile's initial encoder (``train=False``) or
the model a WordOT run with some profile overrides produces (``train=True``; the run lives in
:func:`wordot.train.run_dir`, so it is shared with chapter 5 when the settings are the same, and
it is resumed or reused when it exists). :func:`run_jobs` runs jobs in ``workers`` processes of
one thread each; on two cores this is only a little faster than one two-thread process
(``benchmarks/workers.py``: 1.08x for two short training runs; the single-threaded parts,
tokenising, Moses, small Sinkhorn ops, overlap). It writes every evaluation record next to its
model, so a rerun reads finished records instead of computing them again.

Every record is :func:`wordot.evaluation.evaluate_all`'s, plus ``job`` (the job's name),
``profile``, ``overrides``, ``model`` and, for trained jobs, the run's ``train/*`` summary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from filelock import lock_descriptor
from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging

from .. import config as config_mod
from .. import paths
from ..align.benchmark import BenchmarkConfig
from ..embed import EmbedConfig
from ..loss import LossConfig
from ..models import encoder_label, load_encoder
from ..train import config_from_profile, profile_corpora, run_dir, train
from .common import EvalSizes
from .suite import evaluate_all

__all__ = [
    "Job",
    "eval_kwargs",
    "init_worker",
    "method_job",
    "pairs_seen",
    "record_path",
    "run_job",
    "run_jobs",
    "stored_records",
]


@dataclass(frozen=True)
class Job:
    """One encoder to evaluate: ``name`` labels it in tables; ``overrides`` are
    :func:`wordot.config.resolve` overrides of ``profile`` for training (ignored when
    ``train`` is False, except the evaluation settings); ``eval`` are changes to the
    evaluation settings of :func:`eval_kwargs` (``tasks``, ``langs``, plan, embedding and
    size fields by name); ``maps`` a feature-level method of :mod:`wordot.neighbours`
    (``procrustes``, ``realnvp``, ``center``), fitted on the encoder's vectors of the profile's
    training pairs and applied to the source side of the standard sets (seeded by
    ``eval_seed``). :func:`method_job` makes the job of a method by its name."""

    name: str
    profile: str
    overrides: dict[str, Any] = field(default_factory=dict)
    train: bool = True
    eval_seed: int = 0
    eval: dict[str, Any] = field(default_factory=dict)
    maps: str | None = None

    def resolved(self) -> config_mod.Profile:
        """The job's profile with its overrides applied."""
        return config_mod.resolve(self.profile, **self.overrides)


def method_job(
    name: str, profile: str, overrides: dict[str, Any], method: str, seed: int = 0, **kw: Any
) -> Job:
    """The job of one alignment method (:data:`wordot.neighbours.fit.METHODS`) and seed: a
    training run for ``wordot`` and ``l2`` (the ``objective``), the initial encoder with a
    feature map for ``procrustes``, ``realnvp`` and ``center``, the initial encoder alone for
    ``none``; ``kw`` are further :class:`Job` fields (``eval``)."""
    from ..neighbours.fit import FEATURE_METHODS, METHODS

    if method in ("wordot", "l2"):
        return Job(name, profile, overrides | {"seed": seed, "objective": method}, True, seed, **kw)
    if method in FEATURE_METHODS:
        return Job(name, profile, overrides, False, seed, maps=method, **kw)
    if method == "none":
        return Job(name, profile, overrides, False, seed, **kw)
    raise ValueError(f"unknown alignment method {method!r}; choose one of {METHODS}")


_PLAN_FIELDS = ("eps", "cost", "reach", "tol")
_EMBED_FIELDS = tuple(f.name for f in dataclasses.fields(EmbedConfig))
_SIZE_FIELDS = tuple(f.name for f in dataclasses.fields(EvalSizes))
_BENCH_FIELDS = ("gold_sets", "gold_split", "tatoeba_languages", "bench_layers")
_OTHER_FIELDS = ("langs", "tasks", "prefix")


def eval_kwargs(p: config_mod.Profile, **changes: Any) -> dict[str, Any]:
    """:func:`wordot.evaluation.evaluate_all` arguments of a profile: ``langs`` (the study's
    languages), ``plan`` (the loss's cost, eps and reach), ``embed`` (the profile's word
    vectors), ``sizes`` (the study's evaluation set sizes), ``tasks`` and ``prefix``.

    ``changes`` replace single fields by name: ``eps``/``cost``/``reach``/``tol`` of the plan,
    ``pooling``/``layer``/``max_length`` of the embedding, the fields of
    :class:`~wordot.evaluation.EvalSizes`, ``langs``, ``tasks``, ``prefix``, and the standard
    sets: ``gold_sets``, ``gold_split`` (default ``"test"``), ``tatoeba_languages`` and
    ``bench_layers`` (alignment and retrieval read the same layers). The plans are
    solved to the solver's default tolerance (:func:`wordot.ot.default_tol`, 1e-5 in float32),
    not to the looser ``loss.tol`` of training, unless ``tol`` is changed: the numbers of
    chapter 7 were measured so.
    """
    known = set(_PLAN_FIELDS + _EMBED_FIELDS + _SIZE_FIELDS + _BENCH_FIELDS + _OTHER_FIELDS)
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown evaluation setting(s) {unknown}; known: {sorted(known)}")

    def picked(names: Sequence[str]) -> dict[str, Any]:
        return {k: v for k, v in changes.items() if k in names}

    plan = dataclasses.replace(p.loss, **({"tol": None} | picked(_PLAN_FIELDS)))
    sizes = EvalSizes(
        align_pairs=p.study.align_pairs,
        retrieval_pairs=p.study.retrieval_pairs,
        cls_train=p.study.cls_train,
    )
    layers = tuple(changes.get("bench_layers", p.study.bench_layers))
    benchmarks = BenchmarkConfig(
        gold_sets=tuple(changes.get("gold_sets", p.study.gold_sets)),
        split=changes.get("gold_split", "test"),
        align_layers=layers,
        tatoeba_languages=tuple(changes.get("tatoeba_languages", p.study.tatoeba_languages)),
        tatoeba_layers=layers,
    )
    return {
        "langs": list(changes.get("langs", p.study.languages)),
        "plan": plan,
        "embed": dataclasses.replace(p.embed, **picked(_EMBED_FIELDS)),
        "sizes": dataclasses.replace(sizes, **picked(_SIZE_FIELDS)),
        "tasks": tuple(changes.get("tasks", p.study.tasks)),
        "prefix": changes.get("prefix", ""),
        "benchmarks": benchmarks,
    }


def _settings_key(kw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The evaluation settings a record's file name hashes: what the evaluation reads, and
    every setting changed by name (tuples as lists, as JSON has them)."""
    plan: LossConfig = kw["plan"]
    embed: EmbedConfig = kw["embed"]
    sizes: EvalSizes = kw["sizes"]
    bench: BenchmarkConfig = kw["benchmarks"]
    key = {
        "langs": kw["langs"],
        "eps": plan.eps,
        "cost": plan.cost,
        "reach": plan.reach,
        "pooling": embed.pooling,
        "layer": embed.layer,
        "max_length": embed.max_length,
        "align_pairs": sizes.align_pairs,
        "retrieval_pairs": sizes.retrieval_pairs,
        "cls_train": sizes.cls_train,
        "tasks": list(kw["tasks"]),
    }
    if {"gold", "tatoeba"} & set(kw["tasks"]):
        key |= {
            "gold_sets": list(bench.gold_sets),
            "gold_split": bench.split,
            "method": bench.method,
            "tatoeba_languages": list(bench.tatoeba_languages),
            "bench_layers": list(bench.align_layers),
        }
    extra = {k: list(v) if isinstance(v, tuple | list) else v for k, v in changes.items()}
    return key | {k: v for k, v in extra.items() if k not in key}


def record_path(job: Job) -> Path:
    """Where a job's record is written: next to the trained model, or under
    ``run_dir(p).parent / "initial"`` for the initial encoder; named by the evaluation
    settings (:func:`eval_kwargs`) and the encoder."""
    p = job.resolved()
    key = _settings_key(eval_kwargs(p, **job.eval), job.eval)
    about = {"eval": key, "encoder": p.encoder}
    if job.maps is not None:  # the map, what it is fitted on and with which aligner
        about |= {"maps": job.maps, "aligner": p.train.aligner, "data": _data_key(p)}
        about["data"]["seen"] = [p.train.max_steps, p.train.batch_size]
    digest = hashlib.sha1(json.dumps(about, sort_keys=True, default=str).encode()).hexdigest()[:8]
    base = run_dir(p) if job.train else run_dir(p).parent / "initial"
    return base / "eval" / f"seed{job.eval_seed}-{digest}.json"


def _data_key(p: config_mod.Profile) -> dict[str, Any]:
    """What the training pairs a map is fitted on depend on."""
    d = p.data
    return {"languages": list(d.languages), "corpus": d.corpus, "pairs": d.pairs_per_language}


def _read_record(path: Path) -> dict[str, Any]:
    return paths.read_json(path, how_to_rebuild="Delete it to have the job run again.")


def stored_records(jobs: Sequence[Job]) -> list[dict[str, Any] | None]:
    """The records of ``jobs`` on disk, None where a job has none (nothing is computed)."""
    return [_read_record(record_path(j)) if record_path(j).exists() else None for j in jobs]


def _trained_model(p: config_mod.Profile, progress: bool) -> tuple[Any, Any, str, dict]:
    """Train (or resume, or reuse) the run of ``p``; its model, tokenizer, label and summary."""
    directory = run_dir(p)  # trained, resumed, or (when finished) reused as it is
    summary = train(
        config_from_profile(p), profile_corpora(p), directory, resume=True, progress=progress
    )
    extra = {
        f"train/{k}": v
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    model, tok = load_encoder(str(directory / "model"))
    method = {"wordot": "WordOT", "l2": "L2"}[p.train.objective]
    return model, tok, f"{method}({encoder_label(p.encoder)})", extra


@contextlib.contextmanager
def _record_lock(record: Path) -> Iterator[None]:
    """Wait for, then hold, the lock of one record (``<record>.lock``, the operating system's
    ``flock``, released when the process exits): two chapters running at once that need the
    same record compute it once, the second reads what the first wrote."""
    record.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(record.with_name(record.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        lock_descriptor(fd, blocking=True, poll_interval=1.0)
        yield
    finally:
        os.close(fd)


def run_job(
    job: Job, *, corpora_dir: str | Path | None = None, progress: bool = False
) -> dict[str, Any]:
    """Train (or resume, or reuse) the job's run if it has one, evaluate on the offline
    corpora in ``corpora_dir`` (default: the corpora cache), write the record; a record
    already on disk is read instead, and one another process is computing is waited for."""
    out = record_path(job)
    if out.exists():
        return _read_record(out)
    with _record_lock(out):
        if out.exists():  # computed by another process while this one waited
            return _read_record(out)
        return _compute_record(job, out, corpora_dir=corpora_dir, progress=progress)


def _compute_record(
    job: Job, out: Path, *, corpora_dir: str | Path | None, progress: bool
) -> dict[str, Any]:
    p = job.resolved()
    extra: dict[str, Any] = {}
    if job.train:
        model, tok, model_name, extra = _trained_model(p, progress)
    else:
        model, tok = load_encoder(p.encoder)
        model_name = encoder_label(p.encoder)
    model.eval()
    kw = eval_kwargs(p, **job.eval)
    langs = kw.pop("langs")
    if job.maps is not None:
        kw["source_maps"] = _fitted_maps(job, p, model, tok, kw["benchmarks"], progress)
        model_name = f"{job.maps}({model_name})"
    rec = evaluate_all(
        model,
        tok,
        langs,
        seed=job.eval_seed,
        feature_cache=out.parent / "features",  # sentence features, keyed by the weights
        corpora_dir=corpora_dir,
        progress=progress,
        **kw,
    )
    rec.update(
        {
            "job": job.name,
            "profile": p.name,
            "overrides": job.overrides,
            "model": model_name,
            "trained": job.train,
            "maps": job.maps,
        }
    )
    rec.update(extra)
    paths.write_json(out, dict(sorted(rec.items())))
    return rec


def pairs_seen(p: config_mod.Profile) -> int | None:
    """Training pairs per language a run of ``p`` sees: steps x batch size (a step is one batch
    per language; an update is ``grad_accum`` steps), None for whole epochs."""
    t = p.train
    return t.max_steps * t.batch_size if t.max_steps else None


def _fitted_maps(job: Job, p: config_mod.Profile, model, tok, bench: BenchmarkConfig, progress):
    """The job's feature maps, fitted at the layers read on the word links of as many training
    pairs per language as the profile's training run sees (its budget; the aligner reads all)."""
    from ..neighbours.fit import MapOptions, fit_source_maps

    layers = tuple(dict.fromkeys(bench.align_layers + bench.tatoeba_layers))
    return fit_source_maps(
        job.maps,
        model,
        tok,
        profile_corpora(p),
        layers,
        options=MapOptions(aligner=p.train.aligner),
        seed=job.eval_seed,
        sentences=pairs_seen(p),
        progress=progress,
    )


def init_worker() -> None:
    """Worker initialiser: one torch thread per process, no progress bars. The environment
    variables are for what the worker starts later (tokenizers, subprocesses): OpenMP has read
    its own when torch was loaded, so ``torch.set_num_threads`` is what limits torch."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(1)
    hf_logging.disable_progress_bar()


def run_jobs(
    jobs: Sequence[Job],
    workers: int = 1,
    *,
    corpora_dir: str | Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run ``jobs`` (``workers`` > 1: in that many one-thread processes) and return their
    records in the order of ``jobs``; evaluations read the offline corpora in ``corpora_dir``
    (default: the corpora cache). Jobs whose records exist cost nothing; two jobs must not
    train the same run (they would write one directory at once): that raises ValueError."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"job names repeat: {sorted(n for n in names if names.count(n) > 1)}")
    todo = [j for j in jobs if not record_path(j).exists()]
    trained = [run_dir(j.resolved()) for j in todo if j.train]
    if len(set(trained)) != len(trained) and workers > 1:
        same = sorted({str(d) for d in trained if trained.count(d) > 1})
        raise ValueError(f"several jobs would train the same run at once: {same}")
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        desc="runs",
        unit="run",
        disable=not progress,
    )
    if workers == 1 or len(todo) <= 1:
        for j in todo:
            run_job(j, corpora_dir=corpora_dir)
            bar.update(1)
    else:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=get_context("spawn"),
            initializer=init_worker,
        ) as pool:
            futures = {pool.submit(run_job, j, corpora_dir=corpora_dir): j for j in todo}
            for fut in as_completed(futures):
                fut.result()  # re-raise a worker's error here, naming nothing lost
                bar.set_postfix_str(futures[fut].name)
                bar.update(1)
    bar.close()
    return [_read_record(record_path(j)) for j in jobs]
