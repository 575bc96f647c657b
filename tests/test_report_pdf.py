"""The report on a really built warehouse: the report's own SQL against the mart, and the PDF of the HTML.

The warehouse is the synthetic staging of test_build_e2e, built by the real build. The PDF is printed by
headless Chromium (pdf.py); .ci/run installs it. Without Chromium the PDF tests skip, saying so; the SQL
test never does.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from skolsam.report import build_report
from skolsam.report.data import load_inputs
from skolsam.report.narrative import CAVEAT
from skolsam.report.pdf import find_chromium
from skolsam.settings import Settings
from skolsam.warehouse import build
from test_build_core import fresh_warehouse, query_dicts
from test_build_e2e import AS_OF, synthetic_staging

pytestmark = pytest.mark.postgres
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (.ci/run installs it)")
A4 = (595.28, 841.89)  # points
HEADINGS = ("Viktigaste resultaten", "Resultat per insats", "Förändring sedan HT2025", "Per stadsdelsförvaltning",
            "Per årskurs och kön", "Kvalitet och bortfall", "Om uppföljningen")


@pytest.fixture(scope="module")
def built(pg_admin_url):
    staging, _world = synthetic_staging(pupils=600, seed=11)
    with fresh_warehouse(pg_admin_url) as url:
        staging.flush(url)
        build.build_warehouse(url, Settings(), as_of=AS_OF)
        yield url


@pytest.fixture(scope="module")
def report_files(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    html = build_report(built, "VT2026", out, settings=Settings(), pdf=CHROMIUM is not None)
    return html, html.with_suffix(".pdf")


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_report_sql_counts_the_same_pupils_as_the_mart(built):
    """sql/report/programme_pupil_figures.sql restates the populations; it must count what group_term counts."""
    mart = {(r["term"], r["population"], r["programme"]): r["n_students"] for r in query_dicts(
        built, "SELECT term, population, programme, n_students FROM mart.group_term "
               "WHERE district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL' AND NOT suppressed "
               "AND term IN ('HT2025', 'VT2026')")}  # the report computes the term and the previous one
    figures = load_inputs(built, "VT2026").pupil.rows
    assert len(mart) >= 6
    for (term, population, programme), n in mart.items():
        f = figures.get((term, population, programme, "ALL"))
        assert f is not None, (term, population, programme)
        assert f["n"] == n, (term, population, programme)
        assert 0 <= f["improved"] + f["unchanged"] + f["worsened"] == f["could_improve"]
        # valid + invalid absence add up to the mart's mean absence (same pupils, same AVG rules)
    rows = query_dicts(built, "SELECT population, programme, school_year, n_students, absence_rate_mean "
                              "FROM mart.group_term WHERE term = 'VT2026' AND district = 'ALL' AND sex = 'ALL' "
                              "AND NOT suppressed")
    assert any(r["school_year"] != "ALL" for r in rows)
    for r in rows:  # per school year too
        f = figures[("VT2026", r["population"], r["programme"], r["school_year"])]
        assert f["n"] == r["n_students"], r
        assert f["valid_absence_rate_mean"] + f["invalid_absence_rate_mean"] == pytest.approx(r["absence_rate_mean"])


def test_quality_section_reads_the_audit_tables(built, report_files):
    from skolsam.enrollment.match import match_rate

    html = report_files[0].read_text(encoding="utf-8")
    section = html[html.index('<section id="kvalitet"'):html.index('<section id="om"')]
    rate = match_rate(built)
    assert f"Socialtjänstens listor tar upp {rate.enrolled} elever" in section
    assert f"Av dem hittades {rate.matched} " in section


@needs_chromium
def test_pdf_carries_the_html_on_a4_portrait_pages_with_a_footer(report_files):
    import pypdf

    html_path, pdf_path = report_files
    reader = pypdf.PdfReader(pdf_path)
    pages = [_words(p.extract_text()) for p in reader.pages]
    text = " ".join(pages)
    for heading in HEADINGS:
        assert heading in text, heading
    assert _words(CAVEAT) in text
    # every table and chart of the HTML is in the PDF
    html = html_path.read_text(encoding="utf-8")
    for caption in re.findall(r"<caption>(Tabell \d+\.[^<]*)</caption>", html) + \
            re.findall(r"<strong>(Diagram \d+\.[^<]*)</strong>", html):
        assert _words(caption.replace("&amp;", "&")) in text, caption
    for i, (page, words) in enumerate(zip(reader.pages, pages), start=1):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(w), round(h)) == (round(A4[0]), round(A4[1])), (i, w, h)  # A4 portrait, every page
        assert f"Sida {i} av {len(pages)}" in words, i
        assert "vårterminen 2026" in words and "sammanställd" in words and "Källa:" in words, i
    # tagged for accessibility: structure tree, marked content, document language
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root and root["/Lang"] == "sv"


@needs_chromium
def test_report_renders_in_chromium(report_files, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}",
         "--window-size=1200,2400", f"--screenshot={shot}", report_files[0].as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    assert shot.stat().st_size > 10_000


def test_required_pdf_without_chromium_is_an_error(built, tmp_path, monkeypatch):
    from skolsam.report.pdf import PdfUnavailable

    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(PdfUnavailable):
        build_report(built, "VT2026", tmp_path, settings=Settings(report_pdf="required"))
    # "auto" writes the complete HTML and no partial PDF
    html = build_report(built, "VT2026", tmp_path / "auto", settings=Settings(report_pdf="auto"))
    assert html.exists() and not html.with_suffix(".pdf").exists()
