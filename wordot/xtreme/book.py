"""Chapters 10-11 from a profile: the runs a profile asks for, and the downsized comparison.

:func:`run_profile` runs :func:`~wordot.xtreme.runs.run_grid` with the settings of
``cfg.tasks`` (protocol, split, threads); a WordOT encoder that is the profile's own training
run (``train.run_dir(cfg) / "model"``) is trained first when it does not exist yet, as chapter
5 would. :func:`downsized_comparison` pairs the runs of the first two encoders item by item
(:func:`~wordot.xtreme.compare.paired_differences`) and :func:`plot_paired_change` draws the
change per language beside the paper's own WordOT - mBERT change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .compare import paired_differences
from .pipelines import DownsizedSplit
from .runs import run_grid
from .tables import paper_table

__all__ = [
    "downsized_comparison",
    "encoder_changes",
    "plot_paired_change",
    "run_profile",
    "split_of",
]


def split_of(tasks: Any, task: str) -> DownsizedSplit:
    """The :class:`DownsizedSplit` of ``task`` in a profile's ``cfg.tasks`` (each task its own
    number of test items)."""
    items = tasks.xnli_test_items if task == "xnli" else tasks.xquad_test_items
    return DownsizedSplit(test_items=items, test_articles=tasks.xquad_test_articles)


def _train_own_run(cfg: Any, encoders: Sequence[str], progress: bool) -> None:
    """Train the profile's WordOT run when an encoder names its model and it is missing."""
    from .. import train  # the training stack only when it is needed

    own = train.run_dir(cfg) / "model"
    for enc in encoders:
        if Path(enc).expanduser().resolve() == own.resolve() and not own.exists():
            print(f"no fine-tuned model in {own}: training it now (chapter 5 does the same)")
            train.train(
                train.config_from_profile(cfg),
                train.profile_corpora(cfg),
                train.run_dir(cfg),
                resume=True,
                progress=progress,
            )


def run_profile(
    task: str, cfg: Any, results_dir: str | Path, *, progress: bool = False
) -> list[dict[str, Any]]:
    """Every run ``cfg.tasks`` asks for on ``task`` (one per encoder and seed; finished runs
    are read back), with ``cfg.tasks.threads`` torch threads on a CPU."""
    t = cfg.tasks
    _train_own_run(cfg, t.encoders, progress)
    threads = torch.get_num_threads()
    if not torch.cuda.is_available():
        torch.set_num_threads(t.threads)
    try:
        return run_grid(
            task,
            t.encoders,
            t.seeds,
            t.xnli_preset if task == "xnli" else t.xquad_preset,
            languages=t.xnli_languages if task == "xnli" else t.xquad_languages,
            data=t.data,
            results_dir=results_dir,
            train_limit=t.train_limit,
            protocol=t.protocol,
            split=split_of(t, task) if t.protocol == "downsized" else None,
            progress=progress,
        )
    finally:
        torch.set_num_threads(threads)


def downsized_comparison(
    records: Sequence[dict[str, Any]],
    base: str,
    other: str,
    *,
    metric: str | None = None,
    averages: dict[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """``other`` minus ``base`` per language and average (paired bootstrap over items; named
    ``averages`` besides the paper's two), for each seed both encoders have, stacked with a
    ``seed`` column. Only downsized runs."""
    runs = [r for r in records if r["data"].get("protocol") == "downsized"]
    by = {(r["encoder"], r["seed"]): r for r in runs}
    seeds = sorted({s for e, s in by if e == base} & {s for e, s in by if e == other})
    if not seeds:
        raise ValueError(f"no seed has downsized runs of both {base!r} and {other!r}")
    parts = []
    for s in seeds:
        table = paired_differences(by[base, s], by[other, s], metric=metric, averages=averages)
        parts.append(table.assign(seed=s))
    return pd.concat(parts)


def encoder_changes(
    records: Sequence[dict[str, Any]],
    base: str,
    others: dict[str, str],
    *,
    metric: str | None = None,
    averages: dict[str, Sequence[str]] | None = None,
    rows: Sequence[str] = ("avg_all", "avg_seen"),
) -> pd.DataFrame:
    """Several tuned encoders against one ``base``, on the average rows only: ``others`` maps a
    label (``"WordOT"``, ``"L2"``) to an encoder of ``records``; each is paired with ``base``
    item by item on the seeds both have (:func:`downsized_comparison`). Index (label, average);
    columns base, other, difference and its 95% interval, seeds."""
    parts = []
    for label, encoder in others.items():
        change = downsized_comparison(records, base, encoder, metric=metric, averages=averages)
        wanted = [r for r in (*rows, *(averages or {})) if r in change.index]
        part = change.loc[wanted, ["base", "other", "difference", "low", "high", "seed"]]
        parts.append(part.assign(method=label).rename_axis("average").reset_index())
    table = pd.concat(parts, ignore_index=True)
    return table.set_index(["method", "average"])


def plot_paired_change(
    change: pd.DataFrame,
    task: str,
    languages: Sequence[str],
    *,
    metric: str = "accuracy",
    paper_metric: str | None = None,
    title: str = "",
) -> Figure:
    """Two panels: the two encoders' scores per language (left) and the change with its 95%
    interval (right), beside the paper's WordOT - mBERT change (Table 2) where it exists."""
    seed = int(change["seed"].min())
    c = change[change["seed"] == seed].reindex(list(languages))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.4), layout="constrained")
    x = np.arange(len(c))
    ax1.bar(x - 0.2, c["base"], 0.4, label="pretrained", color="C0")
    ax1.bar(x + 0.2, c["other"], 0.4, label="WordOT-tuned", color="C1")
    ax1.set_xticks(x, c.index)
    ax1.set(xlabel="test language", ylabel=f"{metric} (%)", title="Scores, downsized protocol")
    ax1.legend(fontsize="small", loc="lower center", ncols=2, framealpha=0.9)
    ax1.grid(axis="y", alpha=0.3)
    err = np.vstack([c["difference"] - c["low"], c["high"] - c["difference"]])
    ax2.errorbar(
        x, c["difference"], yerr=err, fmt="o", color="C1", capsize=3, label="ours (95% CI)"
    )
    paper = paper_table(task, paper_metric)
    gain = paper.loc["WordOT"] - paper.loc["mBERT"]
    paper_gain = [gain.get(lg, np.nan) for lg in c.index]
    ax2.plot(
        x, paper_gain, "s", mfc="none", mec="0.3", label="paper: WordOT − mBERT (full protocol)"
    )
    ax2.axhline(0, color="0.3", lw=1)
    ax2.set_xticks(x, c.index)
    ax2.set(
        xlabel="test language",
        ylabel=f"change in {metric} (points)",
        title=title or "WordOT-tuned minus pretrained",
    )
    ax2.legend(fontsize="small")
    ax2.grid(axis="y", alpha=0.3)
    return fig
