"""``build_report``: one term's report as a self-contained HTML file (and a short PDF beside it)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..settings import Settings
from ..terms import calendar_by_name, load_calendar, parse_term
from . import fmt
from .data import ReportError, load_group_term
from .model import ChartSpec, ReportModel, Table

log = logging.getLogger(__name__)


@dataclass
class RenderedChart:
    spec: ChartSpec
    png: str  # base64
    figure: object  # matplotlib Figure, kept for the PDF


def report_basename(term: str) -> str:
    return f"uppfoljning_{term}"


def _term_dates(term: str, settings: Settings) -> tuple[str, str] | None:
    try:
        found = calendar_by_name(load_calendar(settings.term_calendar or None)).get(term)
    except (OSError, ValueError):
        return None
    return (found.start.isoformat(), found.end.isoformat()) if found else None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def compose(model: ReportModel) -> dict:
    """Tables, charts (drawn) and text for the template."""
    from . import charts

    def draw(spec: ChartSpec | None) -> RenderedChart | None:
        if spec is None:
            return None
        fig = charts.figure(spec)
        return RenderedChart(spec, charts.png_base64(fig), fig)

    return {
        "m": model,
        "summary": model.summary(),
        "programme_tables": [model.programme_table(p) for p in model.all_programmes],
        "charts_main": [draw(model.chart_passed()), draw(model.chart_absence())],
        "change_table": model.change_table() if model.has_prev else None,
        "chart_change": draw(model.chart_change()),
        "district_table": model.district_table(),
        "chart_districts": draw(model.chart_districts()),
        "year_sex_table": model.year_sex_table(),
        "definitions": model.definitions(),
        "term_long": fmt.term_long(model.term).capitalize(),
        "prev_long": fmt.term_long(model.prev),
        "made_on": dt.date.today().isoformat(),
        "version": __version__,
        "provenance": {},  # build id and gate status, set by build_report when the caller passes them
    }


def render_html(context: dict) -> str:
    import jinja2

    from .template import TEMPLATE

    env = jinja2.Environment(autoescape=True, trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(**context)


def _tables_page(tables: list[Table], footnote: str):
    """Up to two tables with one header row on an A4 landscape page (for the PDF)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.table import Table as MplTable

    fig = Figure(figsize=(11.69, 8.27), dpi=100)
    FigureCanvasAgg(fig)
    for k, table in enumerate(tables[:2]):
        top = 0.95 - k * 0.45
        fig.text(0.03, top, table.caption, fontsize=12, weight="bold", color="#1f4e79", va="top")
        ax = fig.add_axes((0.03, top - 0.40, 0.94, 0.35))
        ax.axis("off")
        header = [h["text"].replace("Jämförelsegrupp", "Jämförelse") for h in table.head[-1]]
        grid = [header] + [[c.text for c in r] for r in table.body]
        n_cols = len(grid[0])
        widths = [0.45] + [0.55 / (n_cols - 1)] * (n_cols - 1)
        height = 1.0 / len(grid)
        mpl = MplTable(ax, bbox=(0, 0, 1, 1))
        for r, row in enumerate(grid):
            for c, text in enumerate(row):
                cell = mpl.add_cell(r, c, widths[c], height, text=text, loc="left" if c == 0 else "right",
                                    edgecolor="#d9d9d9", facecolor="#f2f2f2" if r == 0 else "white")
                if r == 0:
                    cell.set_text_props(weight="bold")
        mpl.auto_set_font_size(False)
        mpl.set_fontsize(9)
        ax.add_table(mpl)
    fig.text(0.03, 0.02, textwrap.fill(footnote, 190), fontsize=7.5, color="#595959")
    return fig


def _cover_page(model: ReportModel, summary: list[str]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cover = Figure(figsize=(8.27, 11.69), dpi=100)
    FigureCanvasAgg(cover)
    cover.text(0.08, 0.94, textwrap.fill(model.title, 50), fontsize=17, weight="bold", color="#1f4e79", va="top")
    cover.text(0.08, 0.86, "Sammanfattning", fontsize=13, weight="bold", va="top")
    body = "\n\n".join(textwrap.fill(s, 86) for s in summary)
    cover.text(0.08, 0.83, body, fontsize=10, va="top", linespacing=1.5)
    cover.text(0.08, 0.05, textwrap.fill(
        "Kortversion: sammanfattning, tabeller per insats och diagram. Definitioner och fler tabeller finns i "
        f"HTML-rapporten. {model.suppression_note}", 110), fontsize=8, color="#595959")
    return cover


def write_pdf(path: Path, context: dict) -> None:
    """A short PDF: title and summary, the tables per programme, the charts."""
    from matplotlib.backends.backend_pdf import PdfPages

    model: ReportModel = context["m"]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with PdfPages(tmp, metadata={"Title": model.title, "Creator": f"skolsam {__version__}"}) as pdf:
        pdf.savefig(_cover_page(model, context["summary"]))
        tables = context["programme_tables"]
        for i in range(0, len(tables), 2):
            pdf.savefig(_tables_page(tables[i:i + 2], tables[0].note + "  " + model.suppression_note))
        for chart in [*context["charts_main"], context["chart_change"], context["chart_districts"]]:
            if chart is not None:
                chart.figure.suptitle(chart.spec.title, fontsize=11, x=0.01, ha="left")
                pdf.savefig(chart.figure)
    os.replace(tmp, path)


def build_report(warehouse_url: str, term: str, out_dir: Path, *, settings: Settings | None = None,
                 pdf: bool = True, provenance: dict[str, str] | None = None) -> Path:
    """Write ``out_dir/uppfoljning_<term>.html`` (and ``.pdf``) from mart.group_term; return the HTML path.

    ``provenance`` (``build_id``, ``gate_status``, ``published_at``, as text) is printed in the footer.
    Only aggregate rows of mart.group_term are read; suppressed cells show "–". Raises ReportError when
    the mart has no rows for the term.
    """
    settings = settings or Settings.load()
    name = parse_term(term).name
    prev = parse_term(term).previous().name
    data = load_group_term(warehouse_url, [name, prev])
    if not data.has_term(name):
        raise ReportError(f"mart.group_term has no rows for {name}")
    model = ReportModel(data, name, prev, settings, term_dates=_term_dates(name, settings))
    context = compose(model)
    # Where the figures came from (build id, gate status), passed in by the report DAG (skolsam.publication).
    context["provenance"] = dict(provenance or {})
    html = render_html(context)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{report_basename(name)}.html"
    _write_atomically(html_path, html.encode("utf-8"))
    if pdf:
        try:
            write_pdf(out_dir / f"{report_basename(name)}.pdf", context)
        except Exception:  # the PDF is a convenience; the HTML is the report
            log.warning("PDF for %s could not be written", name, exc_info=True)
    log.info("report for %s written to %s", name, html_path)
    return html_path
