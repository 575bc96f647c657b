"""The termly report on a hand-built mart: structure, suppression, privacy, embedded charts.

The mart here is made by hand (synthetic keys such as 'k001', no personal data). If the migrations do
not (yet) create the marts, the tables are created with exactly the DESIGN 5 columns.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from skolsam.report import ReportError, build_report, latest_term
from skolsam.report.build import compose, render_html
from skolsam.report.data import GroupTerm
from skolsam.report.model import ReportModel
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect

TERM, PREV = "VT2026", "HT2025"
PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
DISTRICTS = ("Bromma", "Farsta", "Järva", "Skärholmen", "Södermalm")
MEASURES = ("n_students", "share_passed_mean", "improved_share", "merit_value_mean", "eligible_vocational_share",
            "absence_rate_mean", "high_absence_share", "very_high_absence_share")

GROUP_TERM_DDL = """
CREATE SCHEMA IF NOT EXISTS mart;
CREATE TABLE IF NOT EXISTS mart.group_term (
    term text, population text, programme text, district text, sex text, school_year text,
    n_students numeric, share_passed_mean numeric, improved_share numeric, merit_value_mean numeric,
    eligible_vocational_share numeric, absence_rate_mean numeric, high_absence_share numeric,
    very_high_absence_share numeric, suppressed boolean
);
CREATE TABLE IF NOT EXISTS mart.participant_term (
    student_key text, programme text, term text, district text, school_unit_code text, school_year integer,
    sex text, subjects_graded numeric, subjects_passed numeric, share_passed numeric, merit_value numeric,
    eligible_vocational boolean, eligible_hp_ek_hu_sa boolean, eligible_hp_na_te boolean, eligible_hp_es boolean,
    offered_minutes numeric, attended_minutes numeric, valid_absence_minutes numeric,
    invalid_absence_minutes numeric, absence_rate numeric, invalid_absence_rate numeric, absence_band text,
    prev_term text, prev_share_passed numeric, share_passed_change numeric, prev_merit_value numeric,
    merit_value_change numeric, prev_absence_rate numeric, absence_rate_change numeric
);
"""

# Hidden groups in the example: (term, population, programme, district, sex, school_year)
SUPPRESSED = {
    (TERM, "participants", "ALL", "Skärholmen", "ALL", "ALL"),
    (TERM, "comparison", "ALL", "Skärholmen", "ALL", "ALL"),
    (TERM, "participants", "ALL", "ALL", "Okänt", "ALL"),
    (TERM, "comparison", "ALL", "ALL", "Okänt", "ALL"),
    (TERM, "participants", "ALL", "Farsta", "ALL", "ALL"),  # secondary: ≥ 10 pupils but hidden
    (PREV, "participants", "KP/KF", "ALL", "ALL", "ALL"),
    (PREV, "comparison", "KP/KF", "ALL", "ALL", "ALL"),
}


def _measures(i: int, population: str, term: str, n: int, *, year9: bool = True) -> dict:
    lift = 0.03 if term == TERM else 0.0
    if population == "participants":
        sp, merit, elig, absn = 0.68 + lift + 0.02 * (i % 4), 165 + 6 * (i % 5), 0.62, 0.14 - lift - 0.01 * (i % 3)
    else:
        sp, merit, elig, absn = 0.87 + 0.01 * (i % 3), 222 + 3 * (i % 4), 0.86, 0.07 + 0.005 * (i % 3)
    return {
        "n_students": n,
        "share_passed_mean": round(sp, 4),
        "improved_share": 0.55 if population == "participants" else 0.41,
        "merit_value_mean": merit,
        "eligible_vocational_share": elig if year9 else None,
        "absence_rate_mean": round(absn, 4),
        "high_absence_share": round(0.30 + absn, 4),
        "very_high_absence_share": round(absn * 1.2, 4),
    }


def example_rows() -> list[dict]:
    """The slices of the cube the report reads, for both terms and both populations."""
    rows = []
    for term in (PREV, TERM):
        for population in ("participants", "comparison"):
            scale = 1 if population == "participants" else 9
            groups = [(p, "ALL", "ALL", "ALL", n) for p, n in zip(("ALL",) + PROGRAMMES, (212, 131, 58, 31))]
            groups += [("ALL", d, "ALL", "ALL", n) for d, n in zip(DISTRICTS, (44, 23, 97, 6, 42))]
            groups += [("ALL", "ALL", s, "ALL", n) for s, n in (("Kvinna", 98), ("Man", 110), ("Okänt", 4))]
            groups += [("ALL", "ALL", "ALL", y, n) for y, n in (("6", 41), ("7", 52), ("8", 57), ("9", 62))]
            for i, (programme, district, sex, year) in enumerate(g[:4] for g in groups):
                key = (term, population, programme, district, sex, year)
                row = dict(zip(("term", "population", "programme", "district", "sex", "school_year"), key))
                if key in SUPPRESSED:
                    row.update({m: None for m in MEASURES}, suppressed=True)
                else:
                    # SkolFam has no year-9 pupil with grades: eligibility is unknown, not hidden
                    year9 = year in ("ALL", "9") and programme != "SkolFam"
                    row.update(_measures(i, population, term, groups[i][4] * scale, year9=year9), suppressed=False)
                rows.append(row)
    return rows


def fill_mart(url: str, rows: list[dict]) -> None:
    with connect(url) as conn:
        with conn.transaction():
            exists = conn.execute("SELECT to_regclass('mart.group_term') IS NOT NULL").fetchone()[0]
            if not exists:
                conn.execute(GROUP_TERM_DDL)
            cols = ("term", "population", "programme", "district", "sex", "school_year", *MEASURES, "suppressed")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO mart.group_term ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                    [tuple(r[c] for c in cols) for r in rows],
                )
                # Student-level rows the report must never show (synthetic keys only).
                cur.executemany(
                    "INSERT INTO mart.participant_term (student_key, programme, term, district, sex, "
                    "subjects_graded, subjects_passed, prev_term) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [(f"k00{i}", "PPSS", TERM, "Järva", "Kvinna", 12, 10, PREV) for i in range(1, 4)],
                )


def _text_without_images(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def model(rows: list[dict] | None = None) -> ReportModel:
    return ReportModel(GroupTerm.from_records(rows or example_rows()), TERM, PREV, Settings())


# --- no database -------------------------------------------------------------------------------------------
def test_summary_names_the_key_figures():
    text = " ".join(model().summary())
    assert "vårterminen 2026 (VT2026) deltog 212 elever" in text
    assert "131 i PPSS, 58 i SkolFam och 31 i KP/KF" in text
    assert "71\u00a0%" in text and "87\u00a0%" in text  # share passed, participants vs comparison
    assert "behöriga till gymnasiets yrkesprogram" in text
    assert "av deltagarna hade hög frånvaro" in text
    assert "55\u00a0%" in text  # improved share


def test_suppressed_and_missing_cells():
    m = model()
    districts = {r[0].text: r for r in m.district_table().body}
    assert [c.text for c in districts["Skärholmen"][1:]] == ["–"] * 7
    assert districts["Farsta"][1].text == "–" and districts["Farsta"][3].text != "–"  # comparison still shown
    skolfam = {r[0].text: r for r in m.programme_table("SkolFam").body}
    elig = skolfam["Behöriga till gymnasiets yrkesprogram (årskurs 9)"]
    assert elig[1].text == ".." and elig[1].cls == "miss"
    change = {r[0].text: r for r in m.change_table().body}
    assert change["KP/KF"][1].text == "–" and change["KP/KF"][3].text == "–"  # no change from a hidden figure
    # Hidden districts are left out of the district chart, with a note naming them.
    chart = m.chart_districts()
    assert "Skärholmen" not in chart.panels[0]["categories"] and "Farsta" not in chart.panels[0]["categories"]
    assert "Skärholmen" in chart.note and "färre än 10 elever" in chart.note


def test_no_previous_term():
    rows = [r for r in example_rows() if r["term"] == TERM]
    m = model(rows)
    assert not m.has_prev and m.chart_change() is None
    html = render_html(compose(m))
    assert "Underlaget innehåller inga uppgifter för höstterminen 2025" in html
    assert html.count('<img src="data:image/png;base64,') == 3


# --- with PostgreSQL ---------------------------------------------------------------------------------------
@pytest.fixture
def report_mart(warehouse_url) -> str:
    fill_mart(warehouse_url, example_rows())
    return warehouse_url


@pytest.mark.postgres
def test_report_html(report_mart, tmp_path):
    out = tmp_path / "reports"
    path = build_report(report_mart, TERM, out, settings=Settings())
    assert path == out / "uppfoljning_VT2026.html" and path.exists()
    assert (out / "uppfoljning_VT2026.pdf").read_bytes()[:5] == b"%PDF-"
    html = path.read_text(encoding="utf-8")
    text = _text_without_images(html)

    assert "<title>Uppföljning av PPSS, SkolFam och KP/KF – VT2026</title>" in html
    for p in ("PPSS", "SkolFam", "KP/KF", "Alla insatser"):
        assert f"<caption>{p}" in html
    assert "Om uppföljningen" in text and "Jämförelsegrupp" in text and "Meritvärde" in text
    assert "Förändring sedan HT2025" in text
    # suppressed cells and their footnote
    assert '<td class="supp">–</td>' in html
    assert "färre än 10 elever" in text
    # charts embedded, nothing fetched from elsewhere
    assert html.count('<img src="data:image/png;base64,') == 4
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<script" not in html
    # no keys, no personnummer-like numbers, no student-level row
    assert not re.search(r"\b[0-9a-f]{64}\b", text)
    assert not re.search(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)", text)
    assert "k001" not in text and "student_key" not in text


@pytest.mark.postgres
def test_latest_term_and_cli(report_mart, tmp_path, capsys):
    from skolsam.cli import main

    assert latest_term(report_mart) == "VT2026"  # by term order, not text order (HT2025 > VT2026 as text)
    assert main(["report", "--warehouse-url", report_mart, "--out", str(tmp_path), "--no-pdf"]) == 0
    assert (tmp_path / "uppfoljning_VT2026.html").exists()
    assert not (tmp_path / "uppfoljning_VT2026.pdf").exists()
    assert "VT2026" in capsys.readouterr().out
    with pytest.raises(ReportError):
        build_report(report_mart, "HT2026", tmp_path)
    assert main(["report", "--term", "HT2026", "--warehouse-url", report_mart, "--out", str(tmp_path)]) == 1


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
def test_report_renders_in_chromium(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(render_html(compose(model())), encoding="utf-8")
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}",
         "--window-size=1200,2400", f"--screenshot={shot}", path.as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    assert shot.stat().st_size > 10_000
