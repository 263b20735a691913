"""Figures of chapters 10-11: scores per language (or their differences), and QA windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .features import QAFeatures


def plot_languages(
    table: pd.DataFrame,
    rows: Sequence[str],
    languages: Sequence[str],
    *,
    ylabel: str,
    title: str = "",
    deltas_from: str | Mapping[str, str] | None = None,
    figsize: tuple[float, float] = (10.0, 3.8),
) -> Figure:
    """Grouped bars: one group per language, one bar per row of ``table``.

    With ``deltas_from`` the bars are differences in points: each row minus the row named by
    ``deltas_from`` (one name for all rows, or ``{row: baseline row}``); a row that is its own
    baseline is not drawn. Languages a row lacks (NaN) get no bar.
    """
    langs = list(languages)
    if isinstance(deltas_from, str):
        base = {r: deltas_from for r in rows if r != deltas_from}
    else:
        base = dict(deltas_from or {})
    shown = [r for r in rows if r in base] if deltas_from else list(rows)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    width = 0.8 / max(1, len(shown))
    x = np.arange(len(langs))
    drawn = []
    for i, row in enumerate(shown):
        values = table.loc[row, langs].astype(float).to_numpy()
        label = row
        if deltas_from:
            values = values - table.loc[base[row], langs].astype(float).to_numpy()
            label = f"{row} − {base[row]}"
        drawn.append(values)
        ax.bar(x + (i - (len(shown) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, langs)
    ax.set_xlabel("test language")
    ax.set_ylabel(ylabel)
    if deltas_from:
        ax.axhline(0, color="0.3", linewidth=0.8)
    elif drawn and np.isfinite(np.concatenate(drawn)).any():
        low = np.nanmin(np.concatenate(drawn))
        ax.set_ylim(max(0.0, 5 * np.floor((low - 5) / 5)), None)
    fig.legend(fontsize="small", ncol=min(max(1, len(shown)), 3), loc="outside upper center")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def plot_windows(
    features: QAFeatures,
    example: int,
    answer_chars: tuple[int, int] | None = None,
    *,
    title: str = "",
    figsize: tuple[float, float] = (10.0, 2.8),
) -> Figure:
    """The doc-stride windows of one example: a bar per window over the context tokens it
    holds, dark where the window is the token's maximum-context window (where a span may
    start), and the answer's tokens shaded."""
    if features.offsets is None or features.max_context is None:
        raise ValueError("features were prepared with keep_offsets=False")
    feats = np.flatnonzero(features.example_index == example)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    answer_pos: set[int] = set()
    for row, f in enumerate(feats):
        answer_pos |= _draw_window(ax, features, row, f, answer_chars)
    if answer_pos:
        ax.axvspan(
            min(answer_pos) - 0.5,
            max(answer_pos) + 0.5,
            color="C3",
            alpha=0.25,
            label="answer tokens",
        )
    ax.set_yticks(range(len(feats)), [f"window {w}" for w in range(len(feats))])
    ax.invert_yaxis()
    ax.set_xlabel("position in the context (tokens)")
    ax.set_ylabel("window")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3)
    if title:
        ax.set_title(title)
    return fig


def _draw_window(
    ax: Axes, features: QAFeatures, row: int, f: int, answer_chars: tuple[int, int] | None
) -> set[int]:
    """Window ``f`` as bar ``row``; returns the context positions of its answer tokens."""
    offsets, max_context = features.offsets, features.max_context
    ctx = np.flatnonzero(offsets[f, :, 0] >= 0)
    pos = features.doc_start[f] + np.arange(len(ctx))
    owner = max_context[f, ctx]
    ax.barh(
        row,
        len(ctx),
        left=pos[0],
        height=0.6,
        color="C0",
        alpha=0.25,
        label="tokens in the window" if row == 0 else None,
    )
    ax.scatter(
        pos[owner],
        np.full(owner.sum(), row),
        marker="|",
        s=120,
        color="C0",
        label="maximum-context tokens" if row == 0 else None,
    )
    if answer_chars is None:
        return set()
    offs = offsets[f, ctx]
    inside = (offs[:, 0] < answer_chars[1]) & (offs[:, 1] > answer_chars[0])
    return set(pos[inside].tolist())
