"""Two encoders on the same test items: paired differences with bootstrap intervals.

Every run writes each test item's score (``predictions/scores-<lang>.json``: XNLI accuracy 0
or 100 per item, XQuAD F1 and EM per question), so two runs on the same items can be compared
item by item. :func:`paired_bootstrap` resamples the items jointly (the same resampled items
for both encoders), which removes the items' own difficulty from the interval: a difference
can be clear although each score's own interval is wide.

:func:`paired_differences` does it for every language of two ``results.json`` records and for
the "seen" and "all" averages. The test items are the same in every language (parallel test
sets), so an average's interval resamples items jointly across languages too: the difference
of the average is the mean over items of each item's mean difference over the languages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..paths import read_json
from .tasks import SEEN, task_languages

_CHUNK = 256  # resamples per block (bounds memory: CHUNK x n indices)


def paired_bootstrap(
    base: Sequence[float], other: Sequence[float], *, resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """``mean(other - base)`` over paired items with a 95% percentile bootstrap interval.

    Items are resampled with replacement ``resamples`` times, jointly for both (the pairs stay
    together). Returns ``{"difference", "low", "high", "n"}``.
    """
    b, o = np.asarray(base, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if b.ndim != 1 or b.shape != o.shape or b.size == 0:
        raise ValueError(f"need two equal, non-empty 1-d score lists, got {b.shape} and {o.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    d = o - b
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        m = min(_CHUNK, resamples - start)
        means[start : start + m] = d[rng.integers(0, d.size, size=(m, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference": float(d.mean()), "low": float(low), "high": float(high), "n": d.size}


def item_scores(record: Mapping[str, Any], lang: str, metric: str | None = None) -> pd.Series:
    """The per-item scores of one language of a run (``record``: a ``results.json`` record
    with its ``"_path"``, as :func:`~wordot.xtreme.runs.run_task` and
    :func:`~wordot.xtreme.runs.load_results` return it), indexed by item id; ``metric``
    defaults to the record's (``accuracy`` or ``f1``)."""
    if "_path" not in record:
        raise ValueError("the record has no '_path': use what run_task or load_results return")
    metric = metric or record["metric"]
    file = Path(record["_path"]).parent / "predictions" / f"scores-{lang}.json"
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} is missing: the run predates per-item scores or has no language {lang!r}"
        )
    data = read_json(file)
    if metric not in data:
        raise ValueError(f"{file} has no {metric!r} scores; it has {sorted(set(data) - {'id'})}")
    return pd.Series(data[metric], index=pd.Index(data["id"], name="id"), name=metric)


def paired_differences(
    base: Mapping[str, Any],
    other: Mapping[str, Any],
    *,
    metric: str | None = None,
    resamples: int = 2000,
    seed: int = 0,
    averages: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """``other`` minus ``base`` per language and for the ``avg_seen`` / ``avg_all`` averages
    (the languages of those sets both runs have) and any named ``averages`` (e.g.
    ``{"avg_trained": ("de", "es", "fr", "ru")}``): columns ``base``, ``other``,
    ``difference``, ``low``, ``high`` (95% paired bootstrap, :func:`paired_bootstrap`), ``n``
    (items per language) and ``languages`` (1 for a language, the count for an average).

    Both records must be of the same task and protocol (and split) and hold the same items in
    every language; a ValueError names what differs.
    """
    _check_comparable(base, other)
    task = base["task"]
    metric = metric or base["metric"]
    langs = [lg for lg in base["metrics"] if lg in other["metrics"]]
    if not langs:
        raise ValueError("the two runs have no test language in common")
    diffs, rows = {}, {}
    for lg in langs:
        b, o = item_scores(base, lg, metric), item_scores(other, lg, metric)
        if list(b.index) != list(o.index):
            raise ValueError(
                f"{lg}: the runs scored different items ({len(b)} vs {len(o)}); compare runs of "
                "the same protocol, split and test items"
            )
        diffs[lg] = (b.to_numpy(), o.to_numpy(), list(b.index))
        rows[lg] = _row(b.to_numpy(), o.to_numpy(), resamples, seed)
    named = {"avg_seen": SEEN[task], "avg_all": task_languages(task)} | dict(averages or {})
    for lg in rows:
        rows[lg]["languages"] = 1
    for name, members in named.items():
        present = [lg for lg in members if lg in diffs]
        if not present:
            continue
        ids = {tuple(diffs[lg][2]) for lg in present}
        if len(ids) > 1:
            raise ValueError(
                f"{name}: the languages {present} scored different items; an average's "
                "interval needs the same items in every language"
            )
        b = np.mean([diffs[lg][0] for lg in present], axis=0)
        o = np.mean([diffs[lg][1] for lg in present], axis=0)
        changed = np.mean([rows[lg]["changed"] for lg in present])
        rows[name] = _row(b, o, resamples, seed) | {"languages": len(present), "changed": changed}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "language"
    table.attrs.update(metric=metric, task=task, base=base["encoder"], other=other["encoder"])
    return table


def _row(b: np.ndarray, o: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    stats = paired_bootstrap(b, o, resamples=resamples, seed=seed)
    changed = 100.0 * float(np.mean(b != o))  # % of items the two encoders score differently
    return {"base": float(b.mean()), "other": float(o.mean())} | stats | {"changed": changed}


def _check_comparable(base: Mapping[str, Any], other: Mapping[str, Any]) -> None:
    if base.get("task") != other.get("task"):
        raise ValueError(f"different tasks: {base.get('task')!r} vs {other.get('task')!r}")
    b, o = base.get("data", {}), other.get("data", {})
    for key in ("protocol", "split", "test_items", "held_out_articles"):
        default = "xtreme" if key == "protocol" else None
        if b.get(key, default) != o.get(key, default):
            raise ValueError(
                f"the runs differ in data.{key}: {b.get(key, default)!r} vs "
                f"{o.get(key, default)!r}; paired differences need the same test items"
            )
