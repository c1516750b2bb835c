"""One light plot style for every figure of the app, and a cheap subplot grid.

Plotly's named templates (``"plotly_white"``) are deep-copied and validated for every figure, which costs about
20 ms each; ``make_subplots`` about as much. The neuron lab redraws six figures per slider move, so figures here
use ``template="none"`` with a few explicit colours, and :func:`grid` lays out subplots as plain axis domains.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["FONT", "MODEL_COLOURS", "axis", "log_axis", "layout", "grid", "axis_ref", "BASE_LAYOUT", "style"]

MODEL_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")  # models side by side: A, B, ...
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"


def axis(**kw) -> dict:
    """An axis with a light grid and a visible base line; ``kw`` overrides."""
    return {"gridcolor": "#e8e8e8", "zeroline": False, "showline": True, "linecolor": "#bbb", "ticks": "outside",
            "tickcolor": "#bbb", "automargin": True, **kw}


def log_axis(title: str) -> dict:
    """A log axis labelled at the powers of ten only (0.1, 1, 10, …), never at the 2, 3, … in between."""
    return {"type": "log", "dtick": 1, "title": title, "exponentformat": "none"}


def layout(title: str, height: int, **kw) -> dict:
    """Figure layout: white background, system font, title, height; ``kw`` overrides or adds."""
    base = {"template": "none", "paper_bgcolor": "white", "plot_bgcolor": "white", "height": height,
            "font": {"family": FONT, "size": 12, "color": "#222"},
            "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
            "margin": {"l": 60, "r": 20, "t": 50, "b": 45}, "hovermode": "closest"}
    if "xaxis" not in kw:
        base["xaxis"] = axis()
    if "yaxis" not in kw:
        base["yaxis"] = axis()
    base.update(kw)
    return base


def axis_ref(row: int, col: int, cols: int) -> tuple[str, str]:
    """Trace axis names (``"x2"``, ``"y2"``) of cell (row, col), 1-based, in a grid with ``cols`` columns."""
    n = (row - 1) * cols + col
    return ("x" if n == 1 else f"x{n}"), ("y" if n == 1 else f"y{n}")


def _unit(v: float) -> float:
    """Clamp rounding noise so a domain bound lies in [0, 1]."""
    return min(1.0, max(0.0, round(v, 9)))


def grid(rows: int, cols: int, titles: Sequence[str] = (), gap: float = 0.08, shared_x: bool = False,
         x: dict | None = None, y: dict | None = None) -> dict:
    """Layout entries (axes and title annotations) for a rows × cols grid of subplots.

    Cell (r, c) uses the axes of :func:`axis_ref`; ``shared_x`` ties every x axis to the first and hides tick
    labels except on the bottom row. ``x``/``y`` are extra properties for every x/y axis.
    """
    out: dict = {"annotations": []}
    hgap = gap if cols > 1 else 0.0
    vgap = gap if rows > 1 else 0.0
    w = (1 - hgap * (cols - 1)) / cols
    h = (1 - vgap * (rows - 1)) / rows
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            n = (r - 1) * cols + c
            xa, ya = axis_ref(r, c, cols)
            x0 = (c - 1) * (w + hgap)
            y1 = 1 - (r - 1) * (h + vgap)
            xkey = "xaxis" if n == 1 else f"xaxis{n}"
            ykey = "yaxis" if n == 1 else f"yaxis{n}"
            out[xkey] = axis(domain=[_unit(x0), _unit(x0 + w)], anchor=ya, **(x or {}))
            out[ykey] = axis(domain=[_unit(y1 - h), _unit(y1)], anchor=xa, **(y or {}))
            if shared_x and n > 1:
                out[xkey]["matches"] = "x"
            if shared_x and r < rows:
                out[xkey]["showticklabels"] = False
            if n <= len(titles) and titles[n - 1]:
                out["annotations"].append({"text": titles[n - 1], "x": x0, "y": y1, "xref": "paper",
                                           "yref": "paper", "xanchor": "left", "yanchor": "bottom",
                                           "showarrow": False, "font": {"size": 12, "color": "#444"}})
    return out


BASE_LAYOUT = {"template": "none", "paper_bgcolor": "white", "plot_bgcolor": "white",
               "font": {"family": FONT, "size": 12, "color": "#222"}, "margin": {"l": 60, "r": 20, "t": 60, "b": 45}}


def style(fig):
    """Apply the app's axis style to every axis of a figure built with ``make_subplots``; returns ``fig``."""
    fig.update_xaxes(**axis())
    fig.update_yaxes(**axis())
    fig.update_layout(title_x=0.01, title_xanchor="left")
    return fig
