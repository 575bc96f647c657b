"""``build_report``: one term's report as one document, a self-contained HTML file and the PDF of it.

The document is a list of sections of blocks (heading, paragraph, table, chart, definition list), composed
here in reading order so tables and charts are numbered as they appear; the template renders blocks and
nothing else, and pdf.py prints that same HTML.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..settings import Settings
from ..terms import calendar_by_name, load_calendar, parse_term
from . import chartspecs, effects, fmt, narrative
from .cells import Table
from .chartspecs import ChartSpec
from .data import ALL, ReportError, ReportInputs, load_inputs
from .model import ReportModel

log = logging.getLogger(__name__)

# preliminary: a draft; final: approved by an analyst (with the sign-off date); unreviewed: published without
# anyone's approval (the demo, or an approval task marked success by hand), and the report says so.
STATUS_LABELS = {"preliminary": "Preliminär", "final": "Slutlig", "unreviewed": "Ej granskad"}
UNREVIEWED_SIGNOFF = "nej, publicerad utan granskning"


@dataclass
class RenderedChart:
    spec: ChartSpec
    png: str  # base64


@dataclass
class Section:
    id: str
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)  # (kind, payload)

    def add(self, kind: str, payload: Any) -> "Section":
        if payload:
            self.blocks.append((kind, payload))
        return self


def report_basename(term: str) -> str:
    return f"uppfoljning_{term}"


def _term_calendar(settings: Settings) -> dict:
    try:
        return calendar_by_name(load_calendar(settings.term_calendar or None))
    except (OSError, ValueError):
        return {}


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _Numbering:
    def __init__(self) -> None:
        self.tables = 0
        self.charts = 0

    def table(self, t: Table | None) -> Table | None:
        if t is not None:
            self.tables += 1
            t.number = self.tables
        return t

    def chart(self, spec: ChartSpec | None) -> RenderedChart | None:
        from . import charts

        if spec is None:
            return None
        self.charts += 1
        spec.number = self.charts
        return RenderedChart(spec, charts.png_base64(charts.figure(spec)))


def compose(model: ReportModel, *, status: str = "preliminary", made_on: dt.date | None = None,
            build_id: str | None = None, gate_status: str | None = None,
            signed_off: dt.date | None = None) -> dict:
    """The whole document: title block facts and the sections in reading order. ``signed_off``: the date an
    analyst approved it (status final)."""
    if status not in STATUS_LABELS:
        raise ValueError(f"unknown report status {status!r}")
    if (status == "final") != (signed_off is not None):
        raise ValueError("a final report carries its sign-off date, and only a final one")
    made_on = made_on or dt.date.today()
    settings = model.settings
    num = _Numbering()
    specs = chartspecs.all_charts(model)
    effect_view = effects.EffectView(model)
    sections: list[Section] = []

    key = Section("viktigast", "Viktigaste resultaten")
    key.add("list", narrative.key_messages(model, effect_view.key_sentence()))
    sections.append(key)

    per = Section("insatser", "Resultat per insats")
    per.add("p", "Tabellerna jämför deltagarna med jämförelsegruppen: elever i samma skolor och årskurser som "
                 "inte deltar i någon insats. " + narrative.NO_RANKING)
    for p in model.all_programmes:
        per.add("h3", fmt.programme_label(p))
        per.add("p", narrative.programme_intro(model, p))
        per.add("table", num.table(model.programme_table(p)))
        if p != ALL:
            per.add("table", num.table(model.programme_year_table(p)))
        if p == ALL:
            per.add("chart", num.chart(specs["passed"]))
            per.add("chart", num.chart(specs["absence"]))
    sections.append(per)

    change = Section("forandring", f"Förändring sedan {model.prev}")
    if model.has_prev:
        change.add("p", f"Hur deltagarnas och jämförelsegruppens resultat har ändrats från {fmt.term_long(model.prev)} "
                        f"till {fmt.term_long(model.term)}, sida vid sida.")
        change.add("table", num.table(model.change_table("share_passed_mean")))
        change.add("table", num.table(model.change_table("absence_rate_mean")))
        change.add("chart", num.chart(specs["change"]))
        change.add("h3", "Höjt, oförändrat eller sänkt")
        change.add("table", num.table(model.improvement_table()))
        change.add("p", narrative.EARLIER_MEASURE)
    else:
        change.add("p", f"Underlaget innehåller inga uppgifter för {fmt.term_long(model.prev)} ({model.prev}), så "
                        "förändringen sedan föregående termin kan inte visas.")
    change.add("h3", "Utvecklingen över tid")
    change.add("chart", num.chart(specs["trend"]))
    change.add("table", num.table(model.trend_table()))
    sections.append(change)

    for section in effect_view.sections(num):
        sections.append(section)

    dist = Section("stadsdelar", "Per stadsdelsförvaltning")
    dist.add("p", "Stadsdelsförvaltning är den förvaltning vars socialtjänst har beviljat insatsen, som den står i "
                  "socialtjänstens lista, räknad till dagens elva stadsdelsförvaltningar. Alla elva visas, också "
                  "de utan deltagare under terminen. Alla insatser tillsammans.")
    dist.add("table", num.table(model.district_table()))
    dist.add("chart", num.chart(specs["districts"]))
    sections.append(dist)

    ys = Section("arskurs-kon", "Per årskurs och kön")
    ys.add("table", num.table(model.year_sex_table()))
    sections.append(ys)

    quality = narrative.quality_facts(model, made_on)
    qs = Section("kvalitet", "Kvalitet och bortfall")
    for s in quality["sentences"]:
        qs.add("p", s)
    qs.add("sources", quality["sources"])
    qs.add("reasons", quality["reasons"])
    if not quality["sentences"] and not quality["sources"]:
        qs.add("p", "Uppgifter om inläsning och kontroller finns inte i underlaget för den här rapporten.")
    sections.append(qs)

    about = Section("om", "Om uppföljningen")
    about.add("dl", narrative.method_text(model) + effect_view.method_items())
    sections.append(about)

    cal = _term_calendar(settings)
    this = cal.get(model.term)
    following = cal.get(parse_term(model.term).next().name)
    next_due = (following.end + dt.timedelta(days=settings.report_delay_days)) if following else None
    return {
        "m": model,
        "sections": sections,
        "title": model_title(model),
        "term_long": fmt.term_long(model.term),
        "period": fmt.period_long(this.start, this.end) if this else None,
        "status": STATUS_LABELS[status],
        "signed_off": (fmt.date_long(signed_off) if signed_off else
                       UNREVIEWED_SIGNOFF if status == "unreviewed" else None),
        "board": settings.report_board,
        "administration": settings.report_administration,
        "contact": settings.report_contact or "ej angiven",
        "made_on": fmt.date_long(made_on),
        "extracted": quality["extracted"],
        "next_report": fmt.date_long(next_due) if next_due else None,
        "source": narrative.SOURCE,
        "build_id": build_id,
        "gate_status": gate_status,
        "version": __version__,
    }


def model_title(model: ReportModel) -> str:
    return f"Uppföljning av PPSS, SkolFam och KP/KF – {fmt.term_long(model.term)}"


def _css_string(text: str):
    """A CSS string literal for the @page footer (inside <style>, so "<" is escaped as well)."""
    from markupsafe import Markup

    body = (text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ").replace("\n", "\\A "))
    return Markup(f'"{body}"')


def render_html(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("skolsam.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["css_string"] = _css_string
    return env.get_template("report.html").render(**context)


def build_report(warehouse_url: str, term: str, out_dir: Path, *, settings: Settings | None = None,
                 pdf: bool = True, status: str = "preliminary", build_id: str | None = None,
                 provenance: dict[str, str] | None = None) -> Path:
    """Write ``out_dir/uppfoljning_<term>.html`` and the PDF of it; return the HTML path.

    ``provenance`` (``build_id``, ``gate_status``, as text; from skolsam.publication) names the build the
    figures come from and its quality-gate status on the title block.

    Reads aggregates only. ``status`` is "preliminary" (a draft); the approved copy ("final", with its sign-off
    date, or "unreviewed") is rendered by skolsam.publication.signoff from the draft's snapshot. Raises ReportError
    when the mart has no rows for the term; with ``report_pdf = required`` a missing Chromium is an error.
    """
    settings = settings or Settings.load()
    provenance = provenance or {}
    return render_inputs(load_inputs(warehouse_url, parse_term(term).name), term, Path(out_dir),
                         settings=settings, pdf=pdf, status=status,
                         build_id=build_id or provenance.get("build_id"), gate_status=provenance.get("gate_status"))


def render_inputs(inputs: ReportInputs, term: str, out_dir: Path, *, settings: Settings, pdf: bool = True,
                  status: str = "preliminary", build_id: str | None = None, gate_status: str | None = None,
                  made_on: dt.date | None = None, signed_off: dt.date | None = None) -> Path:
    """The report of ``term`` from inputs already read (load_inputs, or a draft's snapshot: skolsam.report.snapshot)."""
    name = parse_term(term).name
    if not inputs.group_term.has_term(name):
        raise ReportError(f"mart.group_term has no rows for {name}")
    return write_report(inputs, name, parse_term(name).previous().name, Path(out_dir), settings=settings, pdf=pdf,
                        status=status, build_id=build_id, gate_status=gate_status, made_on=made_on,
                        signed_off=signed_off)


def write_report(inputs: ReportInputs, term: str, prev: str, out_dir: Path, *, settings: Settings,
                 pdf: bool = True, status: str = "preliminary", build_id: str | None = None,
                 gate_status: str | None = None, made_on: dt.date | None = None,
                 signed_off: dt.date | None = None) -> Path:
    """Render ``inputs`` (load_inputs, or a draft's snapshot) as the term's HTML and PDF in ``out_dir``."""
    from .pdf import PdfUnavailable, print_pdf

    model = ReportModel(inputs, term, prev, settings)
    if not settings.report_contact:
        log.warning("report for %s: no contact on the title block (set the report_contact setting)", term)
    html = render_html(compose(model, status=status, build_id=build_id, gate_status=gate_status,
                               made_on=made_on, signed_off=signed_off))
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{report_basename(term)}.html"
    _write_atomically(html_path, html.encode("utf-8"))
    mode = settings.report_pdf if pdf else "off"
    if mode != "off":
        try:
            print_pdf(html_path, out_dir / f"{report_basename(term)}.pdf", chromium=settings.report_chromium)
        except PdfUnavailable:
            if mode == "required":
                raise
            log.warning("no PDF for %s: headless Chromium was not found (the HTML is complete)", term)
    log.info("report for %s written to %s", term, html_path)
    return html_path
