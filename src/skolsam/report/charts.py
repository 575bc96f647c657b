"""Charts for the report, drawn with matplotlib's Agg canvas (no display, no global pyplot state).

Each ``ChartSpec`` becomes one Figure; ``png_base64`` embeds it in the HTML and the PDF writer reuses
the same Figure. A missing or hidden value gets no bar, only a "–" at the baseline.
"""

from __future__ import annotations

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from . import fmt
from .model import ChartSpec, format_value

COLOURS = {
    "participants": "#1f4e79",  # dark blue
    "comparison": "#a5a5a5",  # grey
    "previous": "#9dc3e6",  # light blue
    "current": "#1f4e79",
}
TEXT = "#222222"
DPI = 150


def _pct_axis(value: float, _pos: int) -> str:
    return fmt.number(value * 100, 0) + fmt.NBSP + "%"


def _nice_step(limit: float) -> float:
    """A tick step in whole percent (1, 2, 5, 10, 20) giving about five ticks up to ``limit``."""
    for step in (1, 2, 5, 10, 20):
        if limit * 100 / step <= 6:
            return step / 100
    return 0.25


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#888888")
    ax.spines["bottom"].set_color("#888888")
    ax.tick_params(colors=TEXT, labelsize=9)
    ax.set_axisbelow(True)


def _panel(ax, panel: dict, horizontal: bool) -> None:
    cats: list[str] = panel["categories"]
    series = panel["series"]
    kind = panel["kind"]
    n = len(series)
    width = 0.8 / n
    known = [v for s in series for v in s.values if v is not None]
    top = max(known) if known else 1.0
    if kind.startswith("share"):
        limit = 1.0 if top > 0.6 else min(1.0, top * 1.25)
    else:
        limit = top * 1.2
    limit = limit or 1.0
    for i, s in enumerate(series):
        offset = (i - (n - 1) / 2) * width
        positions = [j + offset for j in range(len(cats))]
        heights = [v if v is not None else 0.0 for v in s.values]
        colour = COLOURS.get(s.style, "#555555")
        if horizontal:
            bars = ax.barh(positions, heights, height=width * 0.92, color=colour, label=s.label)
        else:
            bars = ax.bar(positions, heights, width=width * 0.92, color=colour, label=s.label)
        for bar, v, pos in zip(bars, s.values, positions):
            hidden = v is None
            # Whole percent on the bars (the tables give the decimals): neighbouring labels never collide.
            text = fmt.SUPPRESSED if hidden else format_value(v, "share" if kind == "share1" else kind)
            size, weight = (11, "bold") if hidden else (7.5, "normal")
            if horizontal:
                x = (v or 0.0) + limit * 0.01
                ax.text(x, pos, text, va="center", ha="left", fontsize=size, weight=weight, color=TEXT)
            else:
                y = (v or 0.0) + limit * 0.01
                ax.text(pos, y, text, va="bottom", ha="center", fontsize=size, weight=weight, color=TEXT)
    formatter = FuncFormatter(_pct_axis) if kind.startswith("share") else None
    locator = MultipleLocator(_nice_step(limit)) if kind.startswith("share") else None
    if horizontal:
        ax.set_yticks(range(len(cats)), cats)
        ax.invert_yaxis()
        ax.set_xlim(0, limit * 1.12)
        if formatter:
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(formatter)
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    else:
        ax.set_xticks(range(len(cats)), cats)
        ax.set_ylim(0, limit * 1.1)
        if formatter:
            ax.yaxis.set_major_locator(locator)
            ax.yaxis.set_major_formatter(formatter)
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_title(panel["title"], fontsize=10, color=TEXT, loc="left")
    _style(ax)


def figure(spec: ChartSpec) -> Figure:
    panels = spec.panels
    if spec.horizontal:
        rows = max(len(p["categories"]) for p in panels)
        fig = Figure(figsize=(9.0, 1.2 + 0.42 * rows), dpi=DPI, layout="constrained")
    else:
        fig = Figure(figsize=(9.0, 3.6), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, panel) in enumerate(zip(axes, panels)):
        _panel(ax, panel, spec.horizontal)
        if spec.horizontal and i > 0:
            ax.set_yticklabels([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False, fontsize=9)
    return fig


def png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")
