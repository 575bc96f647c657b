"""Charts for the report, drawn with matplotlib's Agg canvas (no display, no global pyplot state).

Colours: a dark navy and an orange, a pair that colour-blind readers tell apart, each at least 3:1 against
the white background and against each other (WCAG 2.1, 1.4.11; tests/test_report_pdf.py computes it); the
comparison bars are hatched as well, so the series differ in print without colour. Values carry one
decimal for absence, as the tables do. A hidden or missing value gets no bar, only ".." at the baseline.
"""

from __future__ import annotations

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import fmt
from .cells import format_diff, format_value
from .chartspecs import ChartSpec

BACKGROUND = "#ffffff"
COLOURS = {
    "participants": "#0b2545",  # dark navy: 15.4:1 on white
    "comparison": "#cc6600",  # orange: 3.8:1 on white, 4.0:1 against the navy
}
HATCH = {"participants": "", "comparison": "////"}
MARKERS = {"participants": "o", "comparison": "s"}
TEXT = "#222222"
GRID = "#e5e5e5"
DPI = 150


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour '#rrggbb'."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _label(value: float, kind: str) -> str:
    if kind == "diffm":
        return fmt.number(value, 1, signed=True)
    if kind.startswith("diff"):
        return format_diff(value, "share1" if kind == "diff1" else "share")
    return format_value(value, kind)


def _axis_formatter(kind: str, span: float = 1.0):
    if kind.startswith("diff") and kind != "diffm":
        decimals = 1 if span < 0.05 else 0  # small changes: ticks a tenth of a point apart
        return FuncFormatter(lambda v, _p: fmt.number(v * 100, decimals, signed=True) if abs(v) > 1e-12 else "0")
    if kind.startswith("share"):
        return FuncFormatter(lambda v, _p: fmt.number(v * 100, 0) + fmt.NBSP + "%" if v else "0")
    if kind == "diffm":
        return FuncFormatter(lambda v, _p: fmt.number(v, 0, signed=True) if v else "0")
    if kind.startswith("diff"):
        return FuncFormatter(lambda v, _p: fmt.number(v * 100, 0, signed=True) if v else "0")
    return FuncFormatter(lambda v, _p: fmt.number(v, 0) if v else "0")


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#888888")
    ax.spines["bottom"].set_color("#888888")
    ax.tick_params(colors=TEXT, labelsize=9)
    ax.set_axisbelow(True)
    ax.set_facecolor(BACKGROUND)


def _bars(ax, panel: dict, horizontal: bool) -> None:
    cats, series, kind = panel["categories"], panel["series"], panel["kind"]
    n = len(series)
    width = 0.8 / n
    known = [v for s in series for v in s.values if v is not None] or [0.0]
    lo, hi = min(0.0, min(known)), max(0.0, max(known))
    if kind.startswith("share") and hi > 0.6:
        hi = 1.0
    span = (hi - lo) or 1.0
    for i, s in enumerate(series):
        offset = (i - (n - 1) / 2) * width
        pos = [j + offset for j in range(len(cats))]
        heights = [v if v is not None else 0.0 for v in s.values]
        style = dict(color=COLOURS[s.style], hatch=HATCH[s.style], edgecolor="white", linewidth=0, label=s.label)
        bars = (ax.barh(pos, heights, height=width * 0.92, **style) if horizontal
                else ax.bar(pos, heights, width=width * 0.92, **style))
        for bar, v, p in zip(bars, s.values, pos):
            text = fmt.SUPPRESSED if v is None else _label(v, kind)
            v = v or 0.0
            pad = span * 0.012 * (1 if v >= 0 else -1)
            if horizontal:
                ax.text(v + pad, p, text, va="center", ha="left" if v >= 0 else "right", fontsize=7.5, color=TEXT)
            else:
                ax.text(p, v + pad, text, va="bottom" if v >= 0 else "top", ha="center", fontsize=7.5, color=TEXT)
    axis = ax.xaxis if horizontal else ax.yaxis
    axis.set_major_formatter(_axis_formatter(kind, span))
    axis.set_major_locator(MaxNLocator(6, steps=[1, 2, 5, 10]))  # whole percent or points on the axis
    if horizontal:
        ax.set_yticks(range(len(cats)), cats)
        ax.invert_yaxis()
        ax.set_xlim(lo - span * 0.15 * (lo < 0), hi + span * 0.15)
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        ax.axvline(0, color="#444444", linewidth=0.8)
    else:
        ax.set_xticks(range(len(cats)), cats)
        ax.set_ylim(lo - span * 0.12 * (lo < 0), hi + span * 0.12)
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.axhline(0, color="#444444", linewidth=0.8)


def _lines(ax, panel: dict) -> None:
    cats, kind = panel["categories"], panel["kind"]
    xs = list(range(len(cats)))
    known = [v for s in panel["series"] for v in s.values if v is not None] or [0.0]
    for s in panel["series"]:
        ax.plot(xs, [float("nan") if v is None else v for v in s.values], color=COLOURS[s.style],
                marker=MARKERS[s.style], linewidth=2, markersize=5,
                linestyle="-" if s.style == "participants" else "--", label=s.label)
        last = max((i for i, v in enumerate(s.values) if v is not None), default=None)
        if last is not None:
            ax.annotate(_label(s.values[last], kind), (xs[last], s.values[last]), textcoords="offset points",
                        xytext=(6, 0), va="center", fontsize=7.5, color=TEXT)
    ax.set_xticks(xs, cats)
    ax.set_xlim(-0.3, len(cats) - 0.4)
    ax.set_ylim(0, max(known) * 1.18 or 1.0)
    ax.yaxis.set_major_formatter(_axis_formatter(kind))
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    if len(cats) > 6:
        ax.tick_params(axis="x", labelrotation=45)


def _interval(ax, panel: dict) -> None:
    """Point estimates with their 95 % interval as a bar, zero marked; one row per category."""
    cats, kind = panel["categories"], panel["kind"]
    n = len(panel["series"])
    for i, s in enumerate(panel["series"]):
        offset = (i - (n - 1) / 2) * 0.3
        for j, (v, lo, hi) in enumerate(zip(s.values, s.low or [], s.high or [])):
            y = j + offset
            if v is None:
                ax.text(0, y, fmt.SUPPRESSED, ha="center", va="center", fontsize=9, color=TEXT)
                continue
            ax.plot([lo, hi], [y, y], color=COLOURS[s.style], linewidth=3, solid_capstyle="butt",
                    label=s.label if j == 0 else None)
            ax.plot([v], [y], marker=MARKERS[s.style], color=COLOURS[s.style], markersize=7,
                    markeredgecolor="white")
            ax.annotate(_label(v, kind), (hi, y), textcoords="offset points", xytext=(5, 0), va="center",
                        fontsize=7.5, color=TEXT)
    ax.axvline(0, color="#444444", linewidth=1.2)
    ax.set_yticks(range(len(cats)), cats)
    ax.invert_yaxis()
    ax.set_ylim(len(cats) - 0.4, -0.6)
    lim = max([abs(x) for s in panel["series"] for x in (s.low or []) + (s.high or []) if x is not None] or [0.1])
    ax.xaxis.set_major_formatter(_axis_formatter(kind, lim))
    ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10], symmetric=True))
    ax.set_xlim(-lim * 1.35, lim * 1.35)
    ax.grid(axis="x", color=GRID, linewidth=0.8)


def figure(spec: ChartSpec) -> Figure:
    panels = spec.panels
    rows = max(len(p["categories"]) for p in panels) if panels else 1
    if spec.horizontal:
        size = (7.2, 1.3 + 0.34 * rows)
    elif spec.kind == "interval":
        size = (7.2, 1.0 + 0.55 * rows * len(panels))
    else:
        size = (7.2, 3.0)
    vertical_stack = spec.kind == "interval"
    fig = Figure(figsize=size, dpi=DPI, layout="constrained", facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    grid = (len(panels), 1) if vertical_stack else (1, len(panels))
    axes = fig.subplots(*grid, squeeze=False).ravel()
    for i, (ax, panel) in enumerate(zip(axes, panels)):
        if spec.kind == "lines":
            _lines(ax, panel)
        elif spec.kind == "interval":
            _interval(ax, panel)
        else:
            _bars(ax, panel, spec.horizontal)
            if spec.horizontal and i > 0:
                ax.set_yticklabels([])
        ax.set_title(panel["title"], fontsize=9.5, color=TEXT, loc="left")
        _style(ax)
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False, fontsize=8.5)
    return fig


def png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor=BACKGROUND)
    return base64.b64encode(buf.getvalue()).decode("ascii")
