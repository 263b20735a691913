"""Figure helpers shared by the chapters.

Every figure in the book carries a footer naming its data and the run profile
(:func:`label`), so a figure from a ``smoke`` run can never pass for a result. The other
helpers draw the pictures that several chapters reuse:

* :func:`clouds` -- one or two weighted 2-D point clouds (marker area proportional to weight);
* :func:`plan_lines` -- a transport plan ``pi: (N, M)`` drawn as segments between the clouds;
* :func:`plan_heatmap` -- a plan as a matrix, with row/column labels (e.g. the words of two
  parallel sentences), drawn by seaborn's :func:`~seaborn.heatmap`: cell ``(i, j)`` spans
  ``[j, j + 1] x [i, i + 1]`` in data coordinates (its centre is ``(j + 0.5, i + 0.5)``).

Arrays may be NumPy arrays or torch tensors (detached and moved to the CPU here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, QuadMesh
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from matplotlib.text import Text

from . import config

#: colours of the source (alpha) and target (beta) measures in every chapter
SOURCE_COLOR = "C0"
TARGET_COLOR = "C3"

#: footer font size (points) and the height reserved for it (inches)
_FOOTER_SIZE = 7.0
_FOOTER_HEIGHT_IN = 0.22


def _numpy(a: Any) -> np.ndarray:
    """A float NumPy copy of an array-like or a torch tensor (detached, on the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


# --------------------------------------------------------------------------------------------
# footers: which data, which model, which profile
# --------------------------------------------------------------------------------------------


def footer_text(
    cfg: config.Profile,
    data: str,
    model: str | None = None,
    show: Sequence[str] = (),
) -> str:
    """The footer line of a figure, e.g. ``data: ... · profile=smoke (eps=0.05) · ...``.

    ``show`` names profile parameters (their flat names, :data:`wordot.config.PARAMETERS`)
    printed even when they equal the profile's default (those that differ are always printed by
    :func:`wordot.config.describe`). Under the ``smoke`` profile the footer says the figure is a
    CI check, not a result.
    """
    if not data or not isinstance(data, str):
        raise ValueError("name the data a figure shows, e.g. data='synthetic 2-D Gaussian clouds'")
    values = config.parameters(cfg)
    unknown = [k for k in show if k not in values]
    if unknown:
        raise ValueError(f"unknown profile field(s) {unknown}; known: {sorted(values)}")
    run = config.describe(cfg)
    shown = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    extra = [f"{k}={shown[k]}" for k in show if f"{k}=" not in run]
    if extra and run.endswith(")"):  # "profile=cpu (eps=0.1)" -> "profile=cpu (eps=0.1, ...)"
        run = f"{run[:-1]}, {', '.join(extra)})"
    elif extra:
        run = f"{run} ({', '.join(extra)})"
    parts = [f"data: {data}"]
    if model:
        parts.append(f"model: {model}")
    parts.append(run)
    if cfg.name == "smoke":
        parts.append("smoke run: a CI check, not a result")
    return " · ".join(parts)


def label(
    fig: Figure,
    cfg: config.Profile,
    data: str,
    model: str | None = None,
    *,
    show: Sequence[str] = (),
) -> Text:
    """Write the footer (data, model, profile) at the bottom left of ``fig``; return it.

    Space for the footer is reserved inside the figure: the layout rectangle of a
    constrained/tight layout shrinks, or the subplots move up. Calling it again replaces the
    footer instead of stacking a second one.
    """
    text = footer_text(cfg, data, model, show)
    old = getattr(fig, "_wordot_footer", None)
    if old is not None and old in fig.texts:
        old.set_text(text)
        return old
    frac = min(0.25, _FOOTER_HEIGHT_IN / fig.get_figheight())
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0.0, frac, 1.0, 1.0 - frac))
    elif isinstance(engine, TightLayoutEngine):
        engine.set(rect=(0.0, frac, 1.0, 1.0))
    else:
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, frac + 0.08))
    artist = fig.text(
        0.005,
        0.005,
        text,
        ha="left",
        va="bottom",
        fontsize=_FOOTER_SIZE,
        color="0.35",
        wrap=True,
    )
    fig._wordot_footer = artist  # type: ignore[attr-defined]
    return artist


# --------------------------------------------------------------------------------------------
# point clouds and transport plans
# --------------------------------------------------------------------------------------------


def clouds(
    ax: Axes,
    x: Any,
    y: Any | None = None,
    a: Any | None = None,
    b: Any | None = None,
    *,
    labels: tuple[str, str] = (r"source $\alpha$", r"target $\beta$"),
    size: float = 30.0,
    colors: tuple[str, str] = (SOURCE_COLOR, TARGET_COLOR),
    legend: bool | str = True,
) -> list[PathCollection]:
    """Scatter ``x: (N, 2)`` (and ``y: (M, 2)``) with marker area ``size * N * weight``.

    Uniform weights give every marker the area ``size``; ``a``/``b`` default to uniform.
    Sets equal aspect by shrinking the axes box to the data (not the data limits to the box, which
    leaves panels mostly empty) and the axis labels ``x_1``, ``x_2`` (synthetic, unitless
    coordinates).
    ``legend`` may be a matplotlib location (``"lower right"``). Returns the scatter
    collections (source first).
    """
    out = []
    for pts, w, lab, col in ((x, a, labels[0], colors[0]), (y, b, labels[1], colors[1])):
        if pts is None:
            continue
        p = _numpy(pts)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"clouds draws 2-D points (N, 2), got shape {p.shape}")
        n = p.shape[0]
        wt = np.full(n, 1.0 / n) if w is None else _numpy(w)
        if wt.shape != (n,):
            raise ValueError(f"weights have shape {wt.shape} but the cloud has {n} points")
        sizes = size * n * wt / wt.sum()
        out.append(
            ax.scatter(
                p[:, 0],
                p[:, 1],
                s=sizes,
                c=col,
                label=lab,
                alpha=0.85,
                edgecolors="white",
                linewidths=0.5,
                zorder=3,
            )
        )
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if legend:
        ax.legend(loc=legend if isinstance(legend, str) else "best", fontsize="small")
    return out


def plan_lines(
    ax: Axes,
    x: Any,
    y: Any,
    pi: Any,
    *,
    threshold: float = 1e-2,
    vmax: float | None = None,
    color: str = "0.2",
    linewidth: float = 1.5,
) -> LineCollection:
    """Draw a plan ``pi: (N, M)`` between ``x: (N, 2)`` and ``y: (M, 2)`` as segments.

    A segment joins ``x_i`` and ``y_j`` wherever ``pi_ij > threshold * vmax``; its opacity is
    ``min(1, pi_ij / vmax)``. ``vmax`` defaults to the plan's largest entry; pass a common
    value (e.g. ``1 / N``) so that a diffuse plan looks faint next to a sharp one. Returns the
    :class:`~matplotlib.collections.LineCollection`.
    """
    xp, yp, p = _numpy(x), _numpy(y), _numpy(pi)
    if p.shape != (xp.shape[0], yp.shape[0]):
        raise ValueError(
            f"plan has shape {p.shape} but the clouds need ({xp.shape[0]}, {yp.shape[0]})"
        )
    if not np.isfinite(p).all():
        raise ValueError("plan contains NaN or inf")
    top = p.max() if vmax is None else float(vmax)
    if top <= 0:
        raise ValueError("plan has no positive entry (or vmax <= 0)")
    i, j = np.nonzero(p > threshold * top)
    segments = np.stack([xp[i], yp[j]], axis=1)  # (K, 2, 2)
    rgba = np.tile(to_rgba(color), (len(i), 1))
    rgba[:, 3] = np.minimum(1.0, p[i, j] / top)
    lines = LineCollection(segments, colors=rgba, linewidths=linewidth, zorder=2)
    ax.add_collection(lines)
    ax.autoscale_view()
    return lines


def plan_heatmap(
    ax: Axes,
    pi: Any,
    src_labels: Sequence[str] | None = None,
    tgt_labels: Sequence[str] | None = None,
    *,
    cmap: str = "Blues",
    vmin: float = 0.0,
    vmax: float | None = None,
    annotate: bool = False,
    fmt: str = "{:.2f}",
    colorbar: bool = False,
    xlabel: str = "target",
    ylabel: str = "source",
) -> QuadMesh:
    """Show a plan ``pi: (N, M)`` as a matrix (seaborn's heatmap): rows are source points,
    columns targets; cell ``(i, j)`` is centred at ``(j + 0.5, i + 0.5)``.

    With labels (e.g. the words of two parallel sentences) every row/column is ticked and
    named, target labels rotated; ``annotate`` writes each entry with ``fmt``. The colour
    scale runs from ``vmin`` to ``vmax`` (default: the largest entry), so several heatmaps can
    share one scale. Returns the mesh (``mesh.get_array()`` is ``pi``; pass it to
    ``fig.colorbar`` for a shared colour bar).
    """
    p = _numpy(pi)
    if p.ndim != 2:
        raise ValueError(f"a plan is a matrix (N, M), got shape {p.shape}")
    n, m = p.shape
    if src_labels is not None and len(src_labels) != n:
        raise ValueError(f"{len(src_labels)} source labels for a plan with {n} rows")
    if tgt_labels is not None and len(tgt_labels) != m:
        raise ValueError(f"{len(tgt_labels)} target labels for a plan with {m} columns")
    top = float(np.nanmax(p)) if vmax is None else float(vmax)
    sns.heatmap(
        p,
        ax=ax,
        cmap=cmap,
        vmin=vmin,
        vmax=top if top > vmin else vmin + 1.0,
        annot=np.vectorize(fmt.format)(p) if annotate else None,
        fmt="",
        annot_kws={"fontsize": "x-small"},
        cbar=colorbar,
        cbar_kws={"label": r"mass $\pi_{ij}$"} if colorbar else None,
        # unlabelled: every k-th index, at most 8 ticks (seaborn's "auto" crowds small panels)
        xticklabels=list(tgt_labels) if tgt_labels is not None else max(1, -(-m // 8)),
        yticklabels=list(src_labels) if src_labels is not None else max(1, -(-n // 8)),
    )
    mesh = ax.collections[-1]
    assert isinstance(mesh, QuadMesh)
    if tgt_labels is not None:
        ax.tick_params(axis="x", labelrotation=60)
        for t in ax.get_xticklabels():
            t.set(ha="right", rotation_mode="anchor")
    if src_labels is not None:
        ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return mesh
