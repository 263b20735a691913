"""Chapter 7's study beyond its first run: the other seeds, and the ablations.

**Seeds** (:func:`seed_jobs`): the profile's training with each of ``study.seeds`` (seed 0 is
chapter 5's run), each read on the standard test sets, and the initial encoder read the same way.

**Ablations**: one knob changed at a time on one language, read on its dev split.

Each :class:`Ablation` is the reference run (the profile's training, on
``study.ablation_language`` only, for ``study.ablation_steps`` steps) with one change: the
entropic regularisation, the word vector, the seed (the spread a new seed alone gives), the
word-embedding matrix trained or frozen, or the amount of data (one epoch over
``study.ablation_pairs``). Every model is read the same way (:func:`ablation_protocol`): argmax
AER on the language's gold development split and its Tatoeba accuracy, so that choices are
made without test sets.

They are :class:`~.experiments.Job` s, so their records live next to their runs and a rerun
reads them. ``study.run_study`` says whether chapter 7 runs them all or only its first seed and
the initial encoder, reading the other records when they are on disk (``python -m wordot
study``, i.e. ``make study``, writes them): on two cores the ``cpu`` profile's two more seeds and
eight ablation runs do not fit the hour the book may take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import align
from .. import config as config_mod
from .experiments import Job, _read_record, record_path, run_jobs, stored_records
from .suite import layer_key

__all__ = [
    "Ablation",
    "run_study",
    "seed_jobs",
    "ablation_columns",
    "ablation_jobs",
    "ablation_protocol",
    "ablation_table",
    "ablations",
    "run_ablations",
    "stored",
    "stored_ablations",
]


@dataclass(frozen=True)
class Ablation:
    """One row of the ablation table: ``knob`` changed to ``value`` by the profile overrides
    ``change`` (None: the initial encoder, untrained)."""

    knob: str
    value: str
    change: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def name(self) -> str:
        return f"{self.knob}: {self.value}"


def seed_jobs(p: config_mod.Profile, base: dict[str, Any]) -> tuple[list[Job], Job]:
    """The before/after jobs: one WordOT run per seed of ``study.seeds`` (evaluated with that
    seed) and the initial encoder; ``base`` are overrides every job keeps."""
    after = [
        Job(f"WordOT, seed {s}", p.name, base | {"seed": s}, eval_seed=s) for s in p.study.seeds
    ]
    return after, Job("initial", p.name, base, train=False)


def run_study(
    p: config_mod.Profile,
    base: dict[str, Any],
    *,
    workers: int = 1,
    corpora_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every seed's record (and the initial encoder's, last) and every ablation's: what
    ``make study`` computes for chapter 7; records on disk are read."""
    after, initial = seed_jobs(p, base)
    seeds = run_jobs([*after, initial], workers=workers, corpora_dir=corpora_dir, progress=progress)
    return seeds, run_ablations(
        p, base, workers=workers, corpora_dir=corpora_dir, progress=progress
    )


#: the records of jobs on disk, None where a job has none (chapter 7 reads the seeds so)
stored = stored_records


def dev_sets(p: config_mod.Profile) -> tuple[str, ...]:
    """The gold alignment sets of the ablation language (read on their dev split if any)."""
    lang = p.study.ablation_language
    return tuple(s for s in align.GOLD_SETS if align.source_language(s) == lang)


def ablation_protocol(p: config_mod.Profile) -> dict[str, Any]:
    """Evaluation changes of every ablation job: the language's gold dev split and Tatoeba."""
    sets = dev_sets(p)
    return {
        "tasks": ("gold", "tatoeba") if sets else ("tatoeba",),
        "gold_sets": sets,
        "gold_split": "dev",
        "tatoeba_languages": (p.study.ablation_language,),
    }


def ablations(p: config_mod.Profile) -> list[Ablation]:
    """The rows, in table order: the initial encoder, the reference, each eps and pooling, the
    reference's other seeds, the embedding matrix flipped, each data size (one epoch)."""
    s, lang = p.study, p.study.ablation_language
    short = {"languages": lang, "max_steps": s.ablation_steps}
    rows = [
        Ablation("initial model", "-"),
        Ablation("reference", f"eps {p.loss.eps:g}, {p.embed.pooling}", short),
    ]
    rows += [Ablation("eps", f"{e:g}", short | {"loss_eps": e}) for e in s.ablation_eps]
    rows += [Ablation("pooling", x, short | {"pooling": x}) for x in s.ablation_poolings]
    rows += [
        Ablation("reference", f"seed {x}", short | {"seed": x}) for x in s.seeds if x != p.seed
    ]
    flip = not p.train.freeze_word_embeddings
    rows += [
        Ablation(
            "embeddings", "frozen" if flip else "trained", short | {"freeze_word_embeddings": flip}
        )
    ]
    rows += [
        Ablation("pairs", str(n), {"languages": lang, "pairs_per_language": n, "max_steps": "none"})
        for n in s.ablation_pairs
    ]
    return rows


def ablation_jobs(p: config_mod.Profile, base: dict[str, Any]) -> list[Job]:
    """One job per :func:`ablations` row, in table order; ``base`` are overrides every job
    keeps (runs_dir, evaluation settings)."""
    protocol = ablation_protocol(p)
    return [
        Job(a.name, p.name, base, train=False, eval=protocol)
        if a.change is None
        else Job(a.name, p.name, base | a.change, eval=protocol)
        for a in ablations(p)
    ]


def run_ablations(
    p: config_mod.Profile,
    base: dict[str, Any],
    *,
    workers: int = 1,
    corpora_dir: str | Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train and evaluate every ablation (records on disk are read); records in table order."""
    jobs = ablation_jobs(p, base)
    # longest first: the data-size runs, then the rest
    order = sorted(jobs, key=lambda j: -int(j.overrides.get("pairs_per_language", 0)))
    run_jobs(order, workers=workers, corpora_dir=corpora_dir, progress=progress)
    return [_read_record(record_path(j)) for j in jobs]


def stored_ablations(p: config_mod.Profile, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of the ablations already on disk, in table order (nothing is computed)."""
    return [r for r in stored_records(ablation_jobs(p, base)) if r is not None]


def ablation_columns(p: config_mod.Profile) -> dict[str, str]:
    """Record key -> column title: AER of each dev set and Tatoeba en->xx, at each layer."""
    lang, cols = p.study.ablation_language, {}
    for s in dev_sets(p):
        split = "dev" if s in align.SPLITS else "test"
        for layer in p.study.bench_layers:
            at = layer_key(layer)
            cols[f"gold/{s}/aer@{at}"] = f"AER {s} {split}, {align.layer_name(layer)}"
    for layer in p.study.bench_layers:
        at = layer_key(layer)
        cols[f"tatoeba/{lang}/en_to_xx@{at}"] = f"Tatoeba en->{lang}, {align.layer_name(layer)}"
    return cols


def ablation_table(p: config_mod.Profile, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record (indexed by job name): training steps and the columns of
    :func:`ablation_columns` in %."""
    cols = ablation_columns(p)
    rows = [
        {"run": r["job"], "steps": r.get("train/steps", 0)}
        | {c: 100 * r[k] for k, c in cols.items()}
        for r in records
    ]
    return pd.DataFrame(rows, columns=["run", "steps", *cols.values()]).set_index("run")
