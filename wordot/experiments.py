"""Many fine-tuning runs and their evaluations, in parallel worker processes (chapter 8).

A :class:`Job` is one encoder to evaluate: the profile's initial encoder (``train=False``) or
the model a WordOT run with some profile overrides produces (``train=True``; the run lives in
:func:`wordot.train.run_dir`, so it is shared with chapter 5 when the settings are the same, and
it is resumed or reused when it exists). :func:`run_jobs` runs jobs in ``workers`` processes of
one thread each; on two cores this is only a little faster than one two-thread process
(``benchmarks/workers.py``: 1.08x for two short training runs; the single-threaded parts,
tokenising, Moses, small Sinkhorn ops, overlap). It writes every evaluation record next to its
model, so a rerun reads finished records instead of computing them again.

Every record is :func:`wordot.eval.evaluate_all`'s, plus ``job`` (the job's name), ``profile``,
``overrides``, ``model`` and, for trained jobs, the run's ``train/*`` summary.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from . import config as config_mod


@dataclass(frozen=True)
class Job:
    """One encoder to evaluate: ``name`` labels it in tables; ``overrides`` are
    :func:`wordot.config.resolve` overrides of ``profile`` for training (ignored when
    ``train`` is False, except the evaluation settings); ``eval`` are extra
    :func:`evaluate_all` keyword arguments (``tasks``, ``langs``, sizes)."""

    name: str
    profile: str
    overrides: dict[str, Any] = field(default_factory=dict)
    train: bool = True
    eval_seed: int = 0
    eval: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> config_mod.Profile:
        return config_mod.resolve(self.profile, **self.overrides)


def eval_kwargs(p: config_mod.Profile, **changes: Any) -> dict[str, Any]:
    """:func:`wordot.eval.evaluate_all` settings of a profile: languages, the sizes of the
    evaluation sets, and the plan settings (eps, cost, reach, pooling, layer) of its loss."""
    kw: dict[str, Any] = {
        "langs": list(p.eval_languages),
        "eps": p.loss_eps,
        "cost": p.loss_cost,
        "reach": p.reach or None,
        "pooling": p.pooling,
        "layer": p.layer,
        "max_length": p.max_length,
        "align_pairs": p.eval_align_pairs or None,
        "retrieval_pairs": p.eval_retrieval_pairs or None,
        "cls_train": p.eval_cls_train or None,
    }
    unknown = sorted(set(changes) - set(kw) - {"tasks", "cls_dev", "cls_test", "prefix"})
    if unknown:
        raise ValueError(f"unknown evaluation setting(s) {unknown}")
    kw.update(changes)
    if "tasks" in kw:
        kw["tasks"] = list(kw["tasks"])
    return kw


def record_path(job: Job) -> Path:
    """Where a job's record is written: next to the trained model, or under
    ``runs_dir/<profile>/initial`` for the initial encoder; named by the evaluation settings."""
    from .train import run_dir

    p = job.resolved()
    kw = eval_kwargs(p, **job.eval)
    digest = hashlib.sha1(
        json.dumps({"eval": kw, "encoder": p.encoder}, sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    base = run_dir(p) if job.train else run_dir(p).parent / "initial"
    return base / "eval" / f"seed{job.eval_seed}-{digest}.json"


def run_job(job: Job, *, progress: bool = False) -> dict[str, Any]:
    """Train (or resume, or reuse) the job's run if it has one, evaluate, write the record;
    a record already on disk is read instead."""
    from . import eval as eval_mod
    from .models import encoder_label, load_encoder
    from .train import config_from_profile, profile_corpora, run_dir, train

    out = record_path(job)
    if out.exists():
        return json.loads(out.read_text())
    p = job.resolved()
    extra: dict[str, Any] = {}
    if job.train:
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
        model_name = f"WordOT({encoder_label(p.encoder)})"
    else:
        model, tok = load_encoder(p.encoder)
        model_name = encoder_label(p.encoder)
    model.eval()
    kw = eval_kwargs(p, **job.eval)
    langs = kw.pop("langs")
    cache = out.parent / "features"  # sentence features, keyed by the model's weights
    rec = eval_mod.evaluate_all(
        model, tok, langs, seed=job.eval_seed, feature_cache=cache, progress=progress, **kw
    )
    rec.update(
        {
            "job": job.name,
            "profile": p.name,
            "overrides": job.overrides,
            "model": model_name,
            "trained": job.train,
        }
    )
    rec.update(extra)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(out)
    return rec


def _one_thread() -> None:
    """Worker initialiser: one torch thread per process, no busy-waiting."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def run_jobs(
    jobs: Sequence[Job], workers: int = 1, *, progress: bool = True
) -> list[dict[str, Any]]:
    """Run ``jobs`` (``workers`` > 1: in that many one-thread processes) and return their
    records in the order of ``jobs``. Jobs whose records exist cost nothing; two jobs must not
    train the same run (they would write one directory at once): that raises ValueError."""
    from tqdm.auto import tqdm

    from .train import run_dir

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
            run_job(j)
            bar.update(1)
    else:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=get_context("spawn"),
            initializer=_one_thread,
        ) as pool:
            futures = {pool.submit(run_job, j): j for j in todo}
            for fut in as_completed(futures):
                fut.result()  # re-raise a worker's error here, naming nothing lost
                bar.set_postfix_str(futures[fut].name)
                bar.update(1)
    bar.close()
    return [json.loads(record_path(j).read_text()) for j in jobs]
