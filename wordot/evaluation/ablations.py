"""Chapter 8's ablations: one knob changed at a time on one language, read on its dev split.

Each :class:`Ablation` is the reference run (the profile's training, on
``study.ablation_language`` only, for ``study.ablation_steps`` steps) with one change: the
entropic regularisation, the word vector, the seed (the spread a new seed alone gives), the
word-embedding matrix trained or frozen, or the amount of data (one epoch over
``study.ablation_pairs``). Every model is read the same way (:func:`ablation_protocol`): argmax
AER on the language's gold development split and its Tatoeba accuracy, so that choices are
made without test sets.

They are :class:`~.experiments.Job` s, so their records live next to their runs and a rerun
reads them. ``study.run_ablations`` says whether chapter 8 runs them or only reads the records
on disk (``python -m wordot ablations``, i.e. ``make ablations``, writes them): on two cores the
eight extra runs of the ``cpu`` profile do not fit the hour the book may take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import align
from .. import config as config_mod
from .experiments import Job, _read_record, record_path, run_jobs

__all__ = [
    "Ablation",
    "ablation_columns",
    "ablation_jobs",
    "ablation_protocol",
    "ablation_table",
    "ablations",
    "run_ablations",
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
    return [_read_record(record_path(j)) for j in ablation_jobs(p, base) if record_path(j).exists()]


def ablation_columns(p: config_mod.Profile) -> dict[str, str]:
    """Record key -> column title: AER of each dev set and Tatoeba en->xx, at each layer."""
    lang, cols = p.study.ablation_language, {}
    for s in dev_sets(p):
        split = "dev" if s in align.SPLITS else "test"
        for layer in p.study.bench_layers:
            at = "last" if layer == -1 else str(layer)
            cols[f"gold/{s}/aer@{at}"] = f"AER {s} {split}, {align.layer_name(layer)}"
    for layer in p.study.bench_layers:
        at = "last" if layer == -1 else str(layer)
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
