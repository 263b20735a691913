"""WordOT and its neighbours under one protocol (the comparison chapter).

Every method of :data:`wordot.neighbours.fit.METHODS` is one :class:`~.experiments.Job` per seed
(:func:`~.experiments.method_job`): the same training pairs (the profile's), the same budget
(WordOT and L2 train the same steps on the same batches; the feature maps are fitted on the
aligner's word pairs of those sentences), the same records (the standard test sets, read at the
same layers). Methods whose result depends on the seed (:data:`STOCHASTIC`) run once per seed;
the deterministic ones once, and that record stands for every seed when differences are paired.

L2 (Cao et al. 2020) trains with their optimiser settings (:data:`L2_SETTINGS`: Adam betas
(0.9, 0.98), eps 1e-9, a 10% linear warm-up) at the profile's learning rate and length, so that
the budget is WordOT's; they used 5e-5 and one epoch over their data.

The fine-tuned encoders are also what the zero-shot chapters evaluate: :func:`trained_models`
names a training method's model directories, and :func:`run_comparison_tasks` fine-tunes them
on the profile's (downsized) XNLI and XQuAD like the WordOT encoder, where chapters 10-11 read
them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from .. import config as config_mod
from ..neighbours.fit import METHODS
from ..paths import shown
from ..train import run_dir
from .experiments import Job, method_job, run_jobs, stored_records
from .suite import summarise, supported

__all__ = [
    "L2_SETTINGS",
    "STOCHASTIC",
    "comparison_jobs",
    "differences",
    "method_summary",
    "run_comparison",
    "run_comparison_tasks",
    "stored_comparison",
    "trained_models",
]

#: methods whose result changes with the seed (batch order, a flow's initialisation)
STOCHASTIC = ("wordot", "l2", "realnvp")
#: Cao et al.'s optimiser settings, used by every L2 run of the comparison
L2_SETTINGS: dict[str, Any] = {"adam_betas": (0.9, 0.98), "adam_eps": 1e-9, "warmup": 0.1}


def _check(methods: Sequence[str], seeds: Sequence[int]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown or no methods {list(unknown)}; choose from {METHODS}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give distinct seeds, got {list(seeds)}")


def comparison_jobs(
    p: config_mod.Profile,
    base: dict[str, Any],
    methods: Sequence[str],
    seeds: Sequence[int],
    eval: Mapping[str, Any] | None = None,
) -> list[Job]:
    """Jobs named ``"<method>, seed <s>"``: every seed for :data:`STOCHASTIC` methods, the first
    seed for the others; ``base`` are overrides every job keeps, ``eval`` evaluation changes."""
    _check(methods, seeds)
    jobs = []
    for m in methods:
        over = base | (L2_SETTINGS if m == "l2" else {})
        for s in seeds if m in STOCHASTIC else seeds[:1]:
            jobs.append(method_job(f"{m}, seed {s}", p.name, over, m, s, eval=dict(eval or {})))
    return jobs


def run_comparison(
    p: config_mod.Profile,
    base: dict[str, Any],
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    workers: int = 1,
    corpora_dir: str | Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train, fit and evaluate every job of :func:`comparison_jobs` (records on disk are read);
    the records, each with ``method``."""
    jobs = comparison_jobs(p, base, methods, seeds)
    records = run_jobs(jobs, workers=workers, corpora_dir=corpora_dir, progress=progress)
    return [_with_method(r, j) for r, j in zip(records, jobs, strict=True)]


def stored_comparison(
    p: config_mod.Profile, base: dict[str, Any], methods: Sequence[str], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """The records of :func:`comparison_jobs` already on disk (nothing is computed)."""
    jobs = comparison_jobs(p, base, methods, seeds)
    return [_with_method(r, j) for r, j in zip(stored_records(jobs), jobs, strict=True) if r]


def _with_method(rec: dict[str, Any], job: Job) -> dict[str, Any]:
    """The record under the comparison's job name (another chapter may have written it under
    its own), with ``method`` and ``seed``."""
    return rec | {"job": job.name, "method": job.name.split(",")[0], "seed": job.eval_seed}


def _by_method(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        out.setdefault(r["method"], []).append(r)
    return out


def method_summary(records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> pd.DataFrame:
    """Rows methods, columns ``(key, "mean" | "sd" | "n")``: values over seeds
    (:func:`~.suite.summarise`; sd: sample standard deviation, NaN for one record)."""
    rows = {}
    for m, recs in _by_method(records).items():
        summary, row = summarise(recs), {}
        for k in keys:
            got = summary.get(k, {"mean": math.nan, "std": None, "n": 0})
            sd = math.nan if got["std"] is None else got["std"]
            row |= {(k, "mean"): got["mean"], (k, "sd"): sd, (k, "n"): got["n"]}
        rows[m] = row
    frame = pd.DataFrame(rows).T
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def differences(
    records: Sequence[Mapping[str, Any]],
    against: str,
    keys: Sequence[str],
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired differences method - ``against`` per key, records matched by seed (a deterministic
    method's one record stands for every seed; a stochastic one pairs only the seeds it has):
    rows ``(method, key)``, columns ``mean``,
    ``low``, ``high`` (a t interval over the seeds at ``level``; NaN with one pair, where there
    is no spread to judge by) and ``n`` (pairs)."""
    groups = _by_method(records)
    if against not in groups:
        raise ValueError(f"no records of {against!r} to compare against; have {sorted(groups)}")

    def by_seed(method: str, seeds: list[int]) -> dict[int, Mapping[str, Any]]:
        recs = groups[method]
        if method not in STOCHASTIC:  # deterministic: its one record stands for every seed
            return dict.fromkeys(seeds, recs[0])
        return {r["seed"]: r for r in recs}

    rows = []
    for m, recs in groups.items():
        if m == against:
            continue
        seeds = sorted({r["seed"] for r in recs} | {r["seed"] for r in groups[against]})
        a, b = by_seed(m, seeds), by_seed(against, seeds)
        common = [s for s in seeds if s in a and s in b]
        if m not in STOCHASTIC and against not in STOCHASTIC:
            common = common[:1]  # two deterministic methods: one difference
        for k in keys:
            d = [float(a[s][k]) - float(b[s][k]) for s in common if k in a[s] and k in b[s]]
            if not d:
                continue
            n, mean, se = len(d), *(supported(d)[x] for x in ("mean", "se"))
            low = high = math.nan
            if n > 1:  # se = sample sd / sqrt(n)
                half = stats.t.ppf(0.5 + level / 2, n - 1) * se
                low, high = mean - half, mean + half
            rows.append({"method": m, "key": k, "mean": mean, "low": low, "high": high, "n": n})
    return pd.DataFrame(rows, columns=["method", "key", "mean", "low", "high", "n"]).set_index(
        ["method", "key"]
    )


def trained_models(
    p: config_mod.Profile, base: dict[str, Any], method: str, seeds: Sequence[int]
) -> dict[int, Path]:
    """``{seed: model directory}`` of a training method's (``wordot``, ``l2``) comparison runs,
    whether or not they exist yet (relative to the project root, like ``runs_dir``)."""
    if method not in ("wordot", "l2"):
        raise ValueError(f"{method!r} trains no encoder; the training methods are wordot and l2")
    jobs = comparison_jobs(p, base, [method], seeds)
    return {job.eval_seed: Path(shown(run_dir(job.resolved()) / "model")) for job in jobs}


def run_comparison_tasks(
    p: config_mod.Profile,
    base: dict[str, Any],
    method: str = "l2",
    *,
    tasks: Sequence[str] = ("xnli", "xquad"),
    progress: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Fine-tune ``method``'s encoders (seeds ``p.tasks.seeds``, trained by
    :func:`run_comparison` first) on each task with the profile's task settings, into
    ``p.tasks.results_dir``, where chapters 10-11 read them; finished runs are read back.
    Returns ``{task: records}``."""
    from ..xtreme.book import run_profile  # the task stack only when it is needed

    if not p.tasks.results_dir:
        raise ValueError(f"profile {p.name} keeps no task results (tasks.results_dir is unset)")
    models = trained_models(p, base, method, p.tasks.seeds)
    missing = [str(d) for d in models.values() if not d.is_dir()]
    if missing:
        raise FileNotFoundError(
            f"no trained {method} encoder in {missing}: run the comparison first "
            "(python -m wordot compare)"
        )
    out = {}
    for task in tasks:
        records = []
        for seed, model in models.items():  # each encoder with its own seed's task run
            t = dataclasses.replace(p.tasks, encoders=(str(model),), seeds=(seed,))
            records += run_profile(
                task, dataclasses.replace(p, tasks=t), t.results_dir, progress=progress
            )
        out[task] = records
    return out
