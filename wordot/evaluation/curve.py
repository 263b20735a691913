"""A learning curve of WordOT: the standard dev measures against the pairs seen per language.

One training run per layer the loss acts on (``layer``: the last, as the paper, and layer 8,
where the base encoder aligns best), saving its model after every point of the curve
(``TrainConfig.snapshot_steps``); the learning rate is constant, so the model saved after k
steps is the model of a run stopped at k steps (a test checks this). Each saved model, and the
base encoder as the point 0, is evaluated on the dev side of the standard sets (XL-WA dev gold
alignments, Tatoeba), so that the size of the main study can be chosen without its test sets.

    train_jobs, eval_jobs, points = curve_jobs("cpu", CurveConfig(pairs=(320, 1280)))
    frame = learning_curve("cpu", curve_config(resolve("cpu")), workers=2)

:func:`learning_curve` keeps its table under ``<runs_dir>/<profile>/curves/`` (with the
parameters beside it), so that chapter 7 can show, besides its own points, the longer curves
that ``python -m wordot curve`` (``make curve``) computed on the same machine
(:func:`stored_curves`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__, paths
from .. import config as config_mod
from ..train import files, run_dir
from .experiments import Job, run_jobs

__all__ = [
    "CurveConfig",
    "curve_config",
    "curve_frame",
    "curve_jobs",
    "curves_dir",
    "learning_curve",
    "stored_curves",
]

#: (layer the loss acts on, or None for the base encoder; pairs seen per language)
Point = tuple[int | None, int]


@dataclass(frozen=True)
class CurveConfig:
    """Points (pairs seen per language), layers trained, and the dev measures read."""

    pairs: tuple[int, ...] = (320, 1280)
    layers: tuple[int, ...] = (-1, 8)  # the layer of the word vectors the loss acts on
    gold_sets: tuple[str, ...] = ("xl-wa-es", "xl-wa-bg")  # read on their dev splits
    tatoeba_languages: tuple[str, ...] = ("de", "es", "ru", "zh")
    bench_layers: tuple[int, ...] = (8, -1)  # layers every model is read at

    def __post_init__(self) -> None:
        if (
            not self.pairs
            or any(p < 1 for p in self.pairs)
            or list(self.pairs) != sorted(set(self.pairs))
        ):
            raise ValueError(f"CurveConfig.pairs={self.pairs!r}; give increasing counts >= 1")
        if not self.layers:
            raise ValueError("CurveConfig.layers is empty; give the layers the loss acts on")

    def stem(self) -> str:
        """File name of the curve's table: ``curve-<pairs>-layers<layers>``."""
        return f"curve-{'_'.join(map(str, self.pairs))}-layers{'_'.join(map(str, self.layers))}"

    def steps(self, batch_size: int) -> tuple[int, ...]:
        """Training steps at the points (``pairs / batch_size``; each must divide)."""
        bad = [p for p in self.pairs if p % batch_size]
        if bad:
            raise ValueError(
                f"pairs per language {bad} are not multiples of the batch size {batch_size}"
            )
        return tuple(p // batch_size for p in self.pairs)


def curve_config(p: config_mod.Profile) -> CurveConfig:
    """The learning curve of a profile (its ``study.curve_*`` and ``study.bench_layers``)."""
    return CurveConfig(
        pairs=p.study.curve_pairs,
        layers=p.study.curve_layers,
        tatoeba_languages=p.study.curve_tatoeba_languages,
        bench_layers=p.study.bench_layers,
    )


def _eval(cfg: CurveConfig) -> dict[str, Any]:
    return {
        "tasks": ("gold", "tatoeba"),
        "gold_sets": cfg.gold_sets,
        "gold_split": "dev",
        "tatoeba_languages": cfg.tatoeba_languages,
        "bench_layers": cfg.bench_layers,
    }


def training_overrides(p: config_mod.Profile, cfg: CurveConfig, layer: int) -> dict[str, Any]:
    """Profile overrides of the run whose loss acts on ``layer`` and that reaches the last point."""
    steps = cfg.steps(p.train.batch_size)
    return {
        "layer": layer,
        "pairs_per_language": max(cfg.pairs[-1], p.data.pairs_per_language),  # one epoch
        "max_steps": steps[-1],
        "snapshot_steps": steps[:-1],
    }


def curve_jobs(
    profile: str, cfg: CurveConfig, overrides: dict[str, Any] | None = None
) -> tuple[list[Job], list[Job], dict[str, Point]]:
    """``(training, evaluation, points)``: one training run per layer (evaluated at its last
    point), then every snapshot and the base encoder as evaluations of saved models; ``points``
    maps each job's name to its point. ``overrides`` (profile parameters: ``runs_dir``, speed
    options, ...) apply to every job."""
    base = dict(overrides or {})
    p = config_mod.resolve(profile, **base)
    ev = _eval(cfg)
    train_jobs, eval_jobs = [], [Job("base", profile, base, train=False, eval=ev)]
    points: dict[str, Point] = {"base": (None, 0)}
    steps = cfg.steps(p.train.batch_size)
    for layer in cfg.layers:
        over = base | training_overrides(p, cfg, layer)
        name = f"layer{layer}@{cfg.pairs[-1]}"
        train_jobs.append(Job(name, profile, over, eval=ev))
        points[name] = (layer, cfg.pairs[-1])
        run = run_dir(config_mod.resolve(profile, **over))
        for pairs, step in zip(cfg.pairs[:-1], steps[:-1], strict=True):
            model = str(files.snapshot_dir(run, step))
            name = f"layer{layer}@{pairs}"
            eval_jobs.append(Job(name, profile, base | {"encoder": model}, False, eval=ev))
            points[name] = (layer, pairs)
    return train_jobs, eval_jobs, points


def curves_dir(p: config_mod.Profile) -> Path:
    """``<runs_dir>/<profile>/curves``: where :func:`learning_curve` keeps its tables."""
    return run_dir(p).parent / "curves"


def learning_curve(
    profile: str,
    cfg: CurveConfig,
    overrides: dict[str, Any] | None = None,
    *,
    workers: int = 1,
    corpora_dir: str | None = None,
) -> pd.DataFrame:
    """Train (or reuse) the curve's runs, evaluate every point; :func:`curve_frame` of them.

    The table is also written to :func:`curves_dir` as ``<CurveConfig.stem>.csv`` with a
    ``.json`` of the curve's settings, profile overrides, package version and date beside it."""
    train_jobs, eval_jobs, points = curve_jobs(profile, cfg, overrides)
    kw = {"corpora_dir": corpora_dir, "progress": False}
    records = run_jobs(train_jobs, workers, **kw) + run_jobs(eval_jobs, workers, **kw)
    frame = curve_frame(records, train_jobs + eval_jobs, points)
    out = curves_dir(config_mod.resolve(profile, **(overrides or {})))
    out.mkdir(parents=True, exist_ok=True)
    stem = cfg.stem()
    frame.to_csv(out / f"{stem}.csv", index=False)
    about = {
        "curve": asdict(cfg),
        "profile": profile,
        "overrides": dict(overrides or {}),
        "wordot_version": __version__,
        "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    paths.write_json(out / f"{stem}.json", about, indent=2)
    return frame


def stored_curves(p: config_mod.Profile) -> pd.DataFrame:
    """Every table :func:`learning_curve` kept for profile ``p`` (:func:`curves_dir`), long,
    with a ``curve`` column naming its file; an empty table if there is none."""
    tables = [
        pd.read_csv(f).assign(curve=f.stem) for f in sorted(curves_dir(p).glob("curve-*.csv"))
    ]
    if not tables:
        return pd.DataFrame(columns=["layer_trained", "pairs", "measure", "value", "curve"])
    return pd.concat(tables, ignore_index=True)


def curve_frame(
    records: Sequence[dict[str, Any]], jobs: Sequence[Job], points: Mapping[str, Point]
) -> pd.DataFrame:
    """Long table: ``layer_trained`` (None for the base), ``pairs``, ``measure``, ``value``;
    measures are the records' ``gold/...`` and ``tatoeba/...`` keys (counts ``/n`` left out);
    ``points`` gives each job's point (:func:`curve_jobs`)."""
    rows = []
    for rec, job in zip(records, jobs, strict=True):
        layer, pairs = points[job.name]
        for key, value in rec.items():
            if key.startswith(("gold/", "tatoeba/")) and not key.endswith("/n"):
                if isinstance(value, int | float):
                    rows.append((layer, pairs, key, float(value)))
    frame = pd.DataFrame(rows, columns=["layer_trained", "pairs", "measure", "value"])
    if frame.empty:
        raise ValueError("no gold/ or tatoeba/ measures in the curve's records")
    return frame
