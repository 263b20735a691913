"""Figure helpers: footers name data and profile; plans are drawn as given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from wordot import config, plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- label / footer ---------------------------------------------------------------------------


def test_label_names_data_profile_and_shown_fields():
    cfg = config.resolve("cpu")
    fig, _ = plt.subplots(layout="constrained")
    text = plots.label(fig, cfg, data="synthetic 2-D Gaussian clouds", show=("eps",))
    assert text in fig.texts
    s = text.get_text()
    assert "data: synthetic 2-D Gaussian clouds" in s
    assert "profile=cpu" in s and "eps=0.05" in s
    assert "model:" not in s
    assert "not a result" not in s  # only smoke runs carry the warning


def test_label_marks_smoke_runs_and_overrides():
    cfg = config.resolve("smoke", eps=0.1)
    fig, _ = plt.subplots()
    s = plots.label(fig, cfg, data="toy pairs", model="tiny random BERT", show=("cost",)).get_text()
    assert "model: tiny random BERT" in s
    # the override comes from config.describe, the shown field is merged into the same brackets
    assert "profile=smoke (eps=0.1, cost=sqeuclidean)" in s
    assert "not a result" in s


def test_label_reserves_space_and_is_idempotent():
    cfg = config.resolve("smoke")
    fig, _ = plt.subplots(figsize=(4, 3), layout="constrained")
    first = plots.label(fig, cfg, data="a")
    rect = fig.get_layout_engine().get()["rect"]
    assert rect[1] > 0  # the axes are laid out above the footer
    second = plots.label(fig, cfg, data="b")
    assert second is first and len(fig.texts) == 1
    assert second.get_text().startswith("data: b")
    fig2, _ = plt.subplots(figsize=(4, 3))  # no layout engine: the subplots move up
    plots.label(fig2, cfg, data="a")
    assert fig2.subplotpars.bottom > 0.1
    fig2.canvas.draw()  # renders without error


def test_label_rejects_missing_data_and_unknown_fields():
    cfg = config.resolve("smoke")
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="name the data"):
        plots.label(fig, cfg, data="")
    with pytest.raises(ValueError, match="unknown profile field"):
        plots.label(fig, cfg, data="x", show=("blur",))


# -- plan_heatmap -----------------------------------------------------------------------------


def test_plan_heatmap_draws_the_plan_with_word_labels():
    pi = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.25, 0.25]])
    fig, ax = plt.subplots()
    image = plots.plan_heatmap(ax, pi, ["Hund", "bellt"], ["the", "dog", "barks"])
    np.testing.assert_allclose(np.asarray(image.get_array()), pi.numpy())
    assert image.get_clim() == (0.0, 0.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Hund", "bellt"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "dog", "barks"]
    assert ax.get_xlabel() == "target" and ax.get_ylabel() == "source"
    assert len(ax.texts) == 0


def test_plan_heatmap_annotates_every_cell_and_shares_a_scale():
    pi = np.array([[0.1, 0.2], [0.3, 0.4]])
    fig, ax = plt.subplots()
    image = plots.plan_heatmap(ax, pi, annotate=True, vmax=1.0, colorbar=True, fmt="{:.1f}")
    assert sorted(t.get_text() for t in ax.texts) == ["0.1", "0.2", "0.3", "0.4"]
    assert image.get_clim() == (0.0, 1.0)
    assert len(fig.axes) == 2  # the plan and its colorbar


def test_plan_heatmap_cells_are_unit_squares_and_vmin_sets_the_scale():
    pi = np.arange(6.0).reshape(2, 3)
    fig, ax = plt.subplots()
    mesh = plots.plan_heatmap(ax, pi, vmin=1.0)
    corners = (
        mesh.get_coordinates()
    )  # (rows + 1, columns + 1, 2): cell (i, j) is [j, j+1] x [i, i+1]
    assert corners.shape == (3, 4, 2)
    np.testing.assert_allclose(corners[0, 0], [0, 0])
    np.testing.assert_allclose(corners[-1, -1], [3, 2])
    assert mesh.get_clim() == (1.0, 5.0)
    assert ax.yaxis_inverted()  # row 0 at the top, as a matrix is printed


def test_plan_heatmap_checks_shapes():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="source labels"):
        plots.plan_heatmap(ax, np.ones((2, 3)), src_labels=["a"])
    with pytest.raises(ValueError, match="target labels"):
        plots.plan_heatmap(ax, np.ones((2, 3)), tgt_labels=["a", "b"])
    with pytest.raises(ValueError, match="matrix"):
        plots.plan_heatmap(ax, np.ones(3))


# -- clouds and plan_lines --------------------------------------------------------------------


def test_plan_lines_draws_one_segment_per_significant_entry():
    x = np.array([[0.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    pi = np.array([[0.5, 0.0, 1e-4], [0.0, 0.25, 0.25]])
    fig, ax = plt.subplots()
    lines = plots.plan_lines(ax, x, y, pi, threshold=1e-2)
    segs = lines.get_segments()
    assert len(segs) == 3  # the 1e-4 entry is below 1% of the largest
    np.testing.assert_allclose(segs[0], [[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(lines.get_colors()[:, 3], [1.0, 0.5, 0.5])  # opacity ~ mass
    faint = plots.plan_lines(ax, x, y, pi, vmax=1.0)  # a common scale: half-mass is half-opaque
    np.testing.assert_allclose(faint.get_colors()[:, 3], [0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="shape"):
        plots.plan_lines(ax, x, y, pi.T)


def test_clouds_marker_area_follows_the_weights():
    x = torch.zeros(4, 2)
    y = torch.ones(2, 2)
    fig, ax = plt.subplots()
    src, tgt = plots.clouds(ax, x, y, b=torch.tensor([3.0, 1.0]), size=10)
    np.testing.assert_allclose(src.get_sizes(), [10, 10, 10, 10])
    np.testing.assert_allclose(tgt.get_sizes(), [15, 5])
    assert ax.get_xlabel() == "$x_1$" and ax.get_legend() is not None
    fig, ax = plt.subplots()
    plots.clouds(ax, x, legend="lower right")
    assert ax.get_legend() is not None
    fig, ax = plt.subplots()
    plots.clouds(ax, x, legend=False)
    assert ax.get_legend() is None
    with pytest.raises(ValueError, match="2-D points"):
        plots.clouds(ax, torch.zeros(3, 3))
