"""Report charts, drawn with matplotlib (no pyplot state) and returned as SVG data URIs, so
the page needs no file and no network, and the images cannot run script."""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from safeval.report.runs import RunView

PALETTE = ["#3b6ea5", "#e07b39", "#5b9f4a", "#b5485d", "#7c5ba6", "#8c7b3a", "#3a8c8c"]


def _plain(labels: list[str]) -> list[str]:
    """Labels drawn as written: a `$` would otherwise start matplotlib's math mode."""
    return [str(t).replace("$", r"\$") for t in labels]


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a CJK label without a font draws boxes, not an error
        warnings.simplefilter("ignore")
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def category_bars(views: list[RunView]) -> str | None:
    """Safety score per category, one bar per run."""
    cats = sorted({c for v in views for c in v.scores.get("by_category", {})})
    if not cats:
        return None
    fig = Figure(figsize=(max(6.0, 0.5 * len(cats) * len(views) + 2), 4.2))
    ax = fig.add_subplot()
    width = 0.8 / len(views)
    x = np.arange(len(cats))
    for i, v in enumerate(views):
        by_cat = v.scores.get("by_category", {})
        vals = [by_cat.get(c) if by_cat.get(c) is not None else np.nan for c in cats]
        ax.bar(
            x + i * width, vals, width, label=_plain([v.label])[0], color=PALETTE[i % len(PALETTE)]
        )
    ax.set_xticks(
        x + width * (len(views) - 1) / 2, _plain(cats), rotation=40, ha="right", fontsize=8
    )
    ax.set_ylim(0, 100)
    ax.set_ylabel("score (higher is safer)")
    ax.grid(axis="y", alpha=0.3)
    if len(views) > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return _data_uri(fig)


def attack_heatmap(view: RunView) -> str | None:
    """Safety score for each attack x category cell of one run."""
    if not view.cells:
        return None
    attacks = sorted({a for a, _ in view.cells})
    cats = sorted({c for _, c in view.cells})
    grid = np.full((len(attacks), len(cats)), np.nan)
    for (a, c), (safe, n) in view.cells.items():
        grid[attacks.index(a), cats.index(c)] = 100.0 * safe / n
    fig = Figure(figsize=(max(5.0, 0.55 * len(cats) + 3), max(2.0, 0.4 * len(attacks) + 1.5)))
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cats)), _plain(cats), rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(attacks)), _plain(attacks), fontsize=8)
    if grid.size <= 200:
        for (i, j), val in np.ndenumerate(grid):
            if not np.isnan(val):
                ax.text(j, i, f"{val:.0f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="score")
    return _data_uri(fig)


def leaderboard_chart(views: list[RunView]) -> str | None:
    """Overall score per run with its 95% interval, best first."""
    rows: list[tuple[str, float, Any]] = [
        (v.label, float(v.scores["overall"]), (v.scores.get("ci95") or {}).get("overall"))
        for v in views
        if v.scores.get("overall") is not None
    ]
    if not rows:
        return None
    rows.sort(key=lambda r: r[1])
    fig = Figure(figsize=(7.0, 0.45 * len(rows) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    vals = [r[1] for r in rows]
    err = np.array([[v - (ci[0] if ci else v), (ci[1] if ci else v) - v] for (_, v, ci) in rows]).T
    ax.barh(y, vals, xerr=err, color=PALETTE[0], capsize=3)
    ax.set_yticks(y, _plain([r[0] for r in rows]), fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("overall score, 95% interval")
    return _data_uri(fig)
