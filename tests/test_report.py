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
from skolsam.report import chartspecs, narrative
from skolsam.report.build import compose, render_html
from skolsam.report.data import GroupTerm, PupilFigures, ReportInputs
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
    very_high_absence_share numeric, suppressed boolean, absence_status text
);
CREATE TABLE IF NOT EXISTS mart.participant_term (
    student_key text, programme text, term text, district text, school_unit_code text, school_year integer,
    sex text, subjects_graded numeric, subjects_passed numeric, share_passed numeric, merit_value numeric,
    eligible_vocational boolean, eligible_hp_ek_hu_sa boolean, eligible_hp_na_te boolean, eligible_hp_es boolean,
    offered_minutes numeric, attended_minutes numeric, valid_absence_minutes numeric,
    invalid_absence_minutes numeric, absence_rate numeric, invalid_absence_rate numeric, absence_band text,
    prev_term text, prev_share_passed numeric, share_passed_change numeric, prev_merit_value numeric,
    merit_value_change numeric, prev_absence_rate numeric, absence_rate_change numeric, absence_status text,
    prev_absence_status text
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
    (TERM, "participants", "SkolFam", "ALL", "ALL", "4"),
    (TERM, "comparison", "SkolFam", "ALL", "ALL", "4"),
}
GRADED_FROM = 6


def _measures(i: int, population: str, term: str, n: int, *, year: str = "ALL", programme: str = "ALL") -> dict:
    lift = 0.03 if term == TERM else 0.0
    if population == "participants":
        sp, merit, elig, absn = 0.68 + lift + 0.02 * (i % 4), 165 + 6 * (i % 5), 0.62, 0.14 - lift - 0.01 * (i % 3)
    else:
        sp, merit, elig, absn = 0.87 + 0.01 * (i % 3), 222 + 3 * (i % 4), 0.86, 0.07 + 0.005 * (i % 3)
    graded = programme != "SkolFam" or year in ("ALL", "6")  # SkolFam: young children, grades in year 6 only
    if year != "ALL" and int(year) < GRADED_FROM:
        graded = False
    year9 = year in ("ALL", "9") and programme not in ("SkolFam",)
    return {
        "n_students": n,
        "share_passed_mean": round(sp, 4) if graded else None,
        "improved_share": (0.55 if population == "participants" else 0.41) if graded else None,
        "merit_value_mean": merit if graded else None,
        "eligible_vocational_share": elig if year9 else None,
        "absence_rate_mean": round(absn, 4),
        "high_absence_share": round(0.30 + absn, 4),
        # nobody in the comparison rows of year 7 has very high absence: an exact zero
        "very_high_absence_share": 0.0 if year == "7" and population == "comparison" else round(absn * 1.2, 4),
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
            groups += [("SkolFam", "ALL", "ALL", y, n) for y, n in (("2", 21), ("4", 7), ("6", 30))]
            for i, (programme, district, sex, year, n) in enumerate(groups):
                key = (term, population, programme, district, sex, year)
                row = dict(zip(("term", "population", "programme", "district", "sex", "school_year"), key))
                if key in SUPPRESSED:
                    row.update({m: None for m in MEASURES}, suppressed=True)
                else:
                    row.update(_measures(i, population, term, n * scale, year=year, programme=programme),
                               suppressed=False)
                rows.append(row)
    return rows


def fill_mart(url: str, rows: list[dict]) -> None:
    with connect(url) as conn:
        with conn.transaction():
            exists = conn.execute("SELECT to_regclass('mart.group_term') IS NOT NULL").fetchone()[0]
            if not exists:
                conn.execute(GROUP_TERM_DDL)
            cols = ("term", "population", "programme", "district", "sex", "school_year", *MEASURES, "suppressed",
                    "absence_status")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO mart.group_term ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                    [tuple(r.get(c, "reported") if c == "absence_status" else r[c] for c in cols) for r in rows],
                )
                # Student-level rows the report must never show (synthetic keys only).
                cur.executemany(
                    "INSERT INTO mart.participant_term (student_key, programme, term, district, sex, "
                    "subjects_graded, subjects_passed, prev_term, absence_status, prev_absence_status) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'not_reported', 'not_reported')",
                    [(f"k00{i}", "PPSS", TERM, "Järva", "Kvinna", 12, 10, PREV) for i in range(1, 4)],
                )


def _text_without_images(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def pupil_figures() -> PupilFigures:
    """What sql/report/programme_pupil_figures.sql would return for the example (hand-made)."""
    recs = []
    for term in (PREV, TERM):
        for population, base in (("participants", 100), ("comparison", 900)):
            for programme, share in (("ALL", 1.0), ("PPSS", 0.6), ("SkolFam", 0.25), ("KP/KF", 0.15)):
                could = round(base * share)
                recs.append({"term": term, "population": population, "programme": programme,
                             "n": base, "n_schools": 7 if programme == "ALL" else 4,
                             "valid_absence_rate_mean": 0.05, "invalid_absence_rate_mean": 0.031,
                             "could_improve": could, "improved": round(could * 0.5), "unchanged": round(could * 0.3),
                             "worsened": could - round(could * 0.5) - round(could * 0.3)})
    return PupilFigures.from_records(recs)


def model(rows: list[dict] | None = None, pupil: PupilFigures | None = None) -> ReportModel:
    inputs = ReportInputs(GroupTerm.from_records(rows or example_rows()), pupil=pupil or pupil_figures())
    return ReportModel(inputs, TERM, PREV, Settings())


def cells(table, label: str) -> list[str]:
    return [c.text for c in table.row(label)[1:]]


# --- no database -------------------------------------------------------------------------------------------
def test_key_messages_level_comparison_change_caveat():
    messages = narrative.key_messages(model())
    assert 3 <= len(messages) <= 4
    level, change, caveat = messages[:3]
    assert "vårterminen 2026 följdes 212 elever" in level
    assert "71\u00a0%" in level and "87\u00a0%" in level  # share passed, participants vs comparison
    assert "jämförelsegruppen" in level
    # both groups' change since the previous term
    assert "Sedan höstterminen 2025" in change and "för deltagarna" in change and "för jämförelsegruppen" in change
    assert "ökat med 3 procentenheter för deltagarna" in change
    assert "inte vilken effekt insatserna har" in caveat


def test_symbol_rules_zero_suppressed_impossible():
    m = model()
    years = m.year_sex_table()
    # a suppressed group is ".." in every figure
    districts = m.district_table()
    assert cells(districts, "Skärholmen") == [".."] * 7
    assert districts.row("Farsta")[1].text == ".." and districts.row("Farsta")[3].text != ".."  # comparison shown
    # eligibility cannot occur outside year 9: "."; it exists in year 9
    # columns: label, n, then participants/comparison per measure: share passed, merit, eligibility, absence
    assert years.head[0][4]["text"].startswith("Behöriga")
    assert [c.text for c in years.row("Årskurs 8")[6:8]] == [".", "."]
    assert years.row("Årskurs 8")[6].cls == "impossible"
    assert years.row("Årskurs 9")[6].text not in (".", "..", "–")
    # grades cannot occur below year 6: "."; SkolFam's year-2 children have absence only
    skolfam_years = m.programme_year_table("SkolFam")
    year2 = cells(skolfam_years, "Årskurs 2")
    assert year2[-2:] == [".", "."] and year2[1] not in (".", "..")
    assert cells(skolfam_years, "Årskurs 4")[0] == ".."  # suppressed year
    # zero: the comparison group of year 7 has no pupil with very high absence
    from skolsam.report.cells import value_cell
    row = m.row("comparison", "ALL", school_year="7")
    assert value_cell(row, "very_high_absence_share").text == "–"
    # every table carries the legend with the three symbols
    html = render_html(compose(m))
    assert html.count('<p class="note legend">Teckenförklaring: – = noll; .. = uppgiften visas inte') == \
        html.count("<caption>Tabell ")
    assert "Skillnader och förändringar är räknade på oavrundade värden" in html


def test_no_grade_rows_for_a_programme_of_young_children():
    rows = [r for r in example_rows() if not (r["programme"] == "SkolFam" and r["school_year"] == "6")]
    for r in rows:  # SkolFam now has children below year 6 only: no grade measure anywhere
        if r["programme"] == "SkolFam" and not r["suppressed"]:
            r.update(share_passed_mean=None, merit_value_mean=None, improved_share=None)
    m = model(rows)
    table = m.programme_table("SkolFam")
    labels = [r[0].text for r in table.body]
    assert "Andel godkända ämnen (medelvärde)" not in labels and "Meritvärde (medelvärde)" not in labels
    assert any("betyg sätts först från årskurs 6" in n for n in table.notes)
    assert "Frånvaro, andel av undervisningstiden (medelvärde)" in labels
    assert "inga betyg" in narrative.programme_intro(m, "SkolFam")
    # PPSS keeps its grade rows
    assert "Andel godkända ämnen (medelvärde)" in [r[0].text for r in m.programme_table("PPSS").body]


def test_every_programme_and_district_is_listed():
    rows = [r for r in example_rows() if r["programme"] != "KP/KF"]
    m = model(rows)
    assert m.programmes[:3] == ["PPSS", "SkolFam", "KP/KF"]
    empty = m.programme_table("KP/KF")
    assert cells(empty, "Antal elever")[0] == "–"
    assert any("Inga deltagare i KP/KF" in n for n in empty.notes)
    districts = m.district_table()
    listed = [r[0].text for r in districts.body]
    assert len(listed) == 11 and "Kungsholmen" in listed and "Norra innerstaden" in listed
    assert cells(districts, "Kungsholmen")[0] == "–" and cells(districts, "Kungsholmen")[1] == "."
    assert any("Kungsholmen" in n and "Inga deltagare" in n for n in districts.notes)


def test_change_side_by_side_and_who_could_improve():
    m = model()
    change = m.change_table("share_passed_mean")
    ppss = cells(change, "PPSS")
    assert len(ppss) == 7  # participants then, now, change; comparison then, now, change; difference
    assert ppss[2] == "+3" and ppss[5] == "–"  # comparison unchanged: exactly zero
    assert cells(change, "KP/KF")[0] == ".."  # hidden previous term: no change computed from it
    improvement = m.improvement_table()
    assert cells(improvement, "PPSS")[:4] == ["60", "50\u00a0%", "30\u00a0%", "20\u00a0%"]
    assert cells(improvement, "KP/KF")[:4] == ["15", "53\u00a0%", "27\u00a0%", "20\u00a0%"]
    small = pupil_figures()
    small.rows[(TERM, "participants", "KP/KF", "ALL")]["could_improve"] = 9
    assert cells(model(pupil=small).improvement_table(), "KP/KF")[:4] == [".."] * 4
    assert "56 procent" in narrative.EARLIER_MEASURE


def test_charts_are_numbered_sourced_with_n_and_findings():
    m = model()
    context = compose(m)
    charts = [b for s in context["sections"] for kind, b in s.blocks if kind == "chart"]
    assert [c.spec.number for c in charts] == list(range(1, len(charts) + 1))
    for c in charts:
        assert c.spec.n_text.startswith("Antal")
        assert not c.spec.alt.startswith("Stapeldiagram")
    passed = chartspecs.chart_passed(m)
    assert passed.alt.startswith("Deltagarna hade lägre andel godkända ämnen än jämförelsegruppen")
    html = render_html(context)
    assert html.count("<figcaption><strong>Diagram ") == len(charts)
    assert html.count(narrative.SOURCE) >= len(charts) + html.count("<caption>Tabell ")


def test_chart_colours_meet_the_contrast_minimum():
    from skolsam.report.charts import BACKGROUND, COLOURS, contrast_ratio, relative_luminance

    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0  # the formula itself
    assert round(relative_luminance("#808080"), 3) == 0.216
    series = list(COLOURS.values())
    for colour in series:
        assert contrast_ratio(colour, BACKGROUND) >= 3.0, colour
    for a, b in [(a, b) for i, a in enumerate(series) for b in series[i + 1:]]:
        assert contrast_ratio(a, b) >= 3.0, (a, b)
    # colour-blind safety: the two series differ in lightness, not in hue alone
    assert abs(relative_luminance(series[0]) - relative_luminance(series[1])) > 0.1


def test_no_previous_term():
    rows = [r for r in example_rows() if r["term"] == TERM]
    m = model(rows)
    assert not m.has_prev and chartspecs.chart_change(m) is None
    html = render_html(compose(m))
    assert "Underlaget innehåller inga uppgifter för höstterminen 2025" in html


def test_no_internal_names_in_the_text():
    text = _text_without_images(render_html(compose(model())))
    for word in ("mart.", "group_term", "SS 12000", "SS12000", "sambearbetas", "participant_term", "student_key"):
        assert word not in text, word
    assert "Stadsdelsförvaltning är den förvaltning vars socialtjänst" in text


# --- with PostgreSQL ---------------------------------------------------------------------------------------
@pytest.fixture
def report_mart(warehouse_url) -> str:
    fill_mart(warehouse_url, example_rows())
    return warehouse_url


@pytest.mark.postgres
def test_report_html(report_mart, tmp_path):
    out = tmp_path / "reports"
    path = build_report(report_mart, TERM, out, settings=Settings(), pdf=False)
    assert path == out / "uppfoljning_VT2026.html" and path.exists()
    html = path.read_text(encoding="utf-8")
    text = _text_without_images(html)

    assert "<title>Uppföljning av PPSS, SkolFam och KP/KF – vårterminen 2026</title>" in html
    for p in ("PPSS", "SkolFam", "KP/KF", "Alla insatser"):
        assert re.search(rf"<caption>Tabell \d+\. {re.escape(p)}", html), p
    for heading in ("Viktigaste resultaten", "Resultat per insats", "Förändring sedan HT2025", "Per stadsdelsförvaltning",
                    "Per årskurs och kön", "Kvalitet och bortfall", "Om uppföljningen"):
        assert f"<h2>{heading}</h2>" in html, heading
    assert "Status</dt><dd class=\"status\">Preliminär" in html
    # suppressed cells and the legend
    assert '<td class="supp">..</td>' in html and "färre än 10 elever" in text
    # charts embedded, nothing fetched from elsewhere
    assert html.count('<img src="data:image/png;base64,') >= 4
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


# --- effects and reach (mart.programme_effect, mart.target_group; hand-built rows) -------------------------
def effect_rows() -> list[dict]:
    rows = []
    plan = {  # programme -> outcome -> (estimate, low, high, verdict) or None for suppressed
        "PPSS": {"share_passed": (0.081, 0.024, 0.138, "förbättring"), "merit_value": (6.2, -1.5, 13.9, "osäkert"),
                 "absence_rate": (-0.021, -0.039, -0.003, "förbättring")},
        "SkolFam": {"share_passed": None, "merit_value": None, "absence_rate": (0.004, -0.018, 0.026, "osäkert")},
        "KP/KF": {"share_passed": None, "merit_value": None, "absence_rate": None},
    }
    for programme, outcomes in plan.items():
        for outcome, found in outcomes.items():
            for e in (0, 1, 2):
                for estimator, lift in (("did", 0.0), ("did_prev_term", 0.06 if outcome == "share_passed" else 0.01)):
                    base = {"term": TERM, "programme": programme, "district": "ALL", "outcome": outcome,
                            "event_term": e, "estimator": estimator}
                    if found is None or (e == 2 and programme == "SkolFam"):
                        rows.append({**base, "estimate": None, "ci_low": None, "ci_high": None, "se": None,
                                     "df": None, "n_participants": None, "n_comparison": None, "n_schools": None,
                                     "n_excluded": None, "verdict": "för få elever", "suppressed": True})
                        continue
                    est, lo, hi, verdict = found
                    sign = 1 if outcome != "absence_rate" else -1
                    rows.append({**base, "estimate": est + sign * lift, "ci_low": lo + sign * lift,
                                 "ci_high": hi + sign * lift, "se": 0.02, "df": 11, "n_participants": 96,
                                 "n_comparison": 2480, "n_schools": 12, "n_excluded": 7, "verdict": verdict,
                                 "suppressed": False})
    return rows


def target_rows() -> list[dict]:
    rows = [{"term": TERM, "school_unit_code": "ALL", "school_year": "ALL", "n_pupils": 4000, "n_target": 312,
             "n_target_enrolled": 87, "coverage_share": 87 / 312, "n_enrolled_not_target": 40, "suppressed": False}]
    for y, (n, t, e) in {"6": (1000, 60, 14), "7": (1000, 80, 22), "8": (1000, 90, 30), "9": (1000, 82, 21)}.items():
        rows.append({"term": TERM, "school_unit_code": "ALL", "school_year": y, "n_pupils": n, "n_target": t,
                     "n_target_enrolled": e, "coverage_share": e / t, "n_enrolled_not_target": 10, "suppressed": False})
    rows[-1].update(n_pupils=None, n_target=None, n_target_enrolled=None, coverage_share=None,
                    n_enrolled_not_target=None, suppressed=True)
    rows.append({"term": TERM, "school_unit_code": "10000001", "school_year": "ALL", "n_pupils": 300, "n_target": 20,
                 "n_target_enrolled": 5, "coverage_share": 0.25, "n_enrolled_not_target": 2, "suppressed": False})
    return rows


def effect_model() -> ReportModel:
    inputs = ReportInputs(GroupTerm.from_records(example_rows()), pupil=pupil_figures(), effects=effect_rows(),
                          target=target_rows())
    return ReportModel(inputs, TERM, PREV, Settings())


def test_effect_section_verdicts_rebound_and_suppression():
    from skolsam.report.effects import EffectView

    m = effect_model()
    view = EffectView(m)
    ppss = view.headline("PPSS", "share_passed")
    assert ppss["event_term"] == 2
    verdict = view.verdict(ppss, "share_passed")
    assert "insatsen höjde andelen godkända ämnen" in verdict and "+8 procentenheter" in verdict
    assert "95 % konfidensintervall +2 till +14" in verdict
    rebound = view.rebound("PPSS", ["share_passed"])
    assert "andel godkända ämnen +14 procentenheter" in rebound and "De är större" in rebound
    assert "96 deltagare och 2\u00a0480 jämförelseelever i 12 skolor" in view.basis(ppss)
    assert "går inte att säga" in view.verdict(view.get("PPSS", "merit_value", 2), "merit_value")
    # SkolFam: absence only; e = 2 suppressed, so the headline is the longest follow-up shown (e = 1)
    assert view.headline("SkolFam", "absence_rate")["event_term"] == 1
    # KP/KF: everything suppressed -> no figure anywhere, "för få elever"
    kpkf = view.table("KP/KF")
    assert all(c.text in ("..", "för få elever") for r in kpkf.body for c in r[1:])
    assert "för få elever" in view.verdict(view.headline("KP/KF", "share_passed"), "share_passed")
    assert view.chart("KP/KF") is None and view.chart("PPSS").kind == "interval"
    # the key messages carry the verdict once the mart exists
    messages = narrative.key_messages(m, view.key_sentence())
    assert len(messages) == 4 and "för PPSS en förbättring av andel godkända ämnen (+8 procentenheter)" in messages[3]
    assert "går inte att säga något säkert för SkolFam" in messages[3] and "för få elever för KP/KF" in messages[3]


def test_reach_section_counts_and_suppressed_cells():
    from skolsam.report.effects import EffectView

    view = EffectView(effect_model())
    table = view.reach_table()
    assert [r[0].text for r in table.body] == ["Årskurs 6", "Årskurs 7", "Årskurs 8", "Årskurs 9", "Staden, årskurs 6–9"]
    assert cells(table, "Staden, årskurs 6–9") == ["4\u00a0000", "312", "87", "28\u00a0%", "40"]
    assert cells(table, "Årskurs 9") == [".."] * 5  # a suppressed cell shows as suppressed
    assert "uppfyllde 312 elever kriterierna, och 87 av dem (28\u00a0%)" in view.reach_sentence()


def test_no_effect_section_without_the_marts():
    html = render_html(compose(model()))
    assert "Gör insatserna skillnad?" not in html and "Når insatserna målgruppen?" not in html
    html = render_html(compose(effect_model()))
    assert "<h2>Gör insatserna skillnad?</h2>" in html and "<h2>Når insatserna målgruppen?</h2>" in html
    assert "För få elever för att beräkna en effekt av KP/KF" in html  # all hidden: one sentence, no table
    assert "Skattad effekt av KP/KF" not in html and "Skattad effekt av PPSS" in html
    assert "Varför terminen före valet" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine (.ci/run installs it)")
def test_effect_section_renders_in_chromium(tmp_path):
    """The effect section in a real browser: its chart image decodes and is laid out with a visible size."""
    html = render_html(compose(effect_model()))
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chr'}", "--window-size=1200,2400", "--dump-dom", page.as_uri()],
        check=True, capture_output=True, timeout=60, text=True).stdout
    assert "Skattad effekt av PPSS med 95 % konfidensintervall" in dom
    shot = tmp_path / "effect.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chr2'}", "--window-size=1200,2400", f"--screenshot={shot}",
         page.as_uri() + "#effekt"],
        check=True, capture_output=True, timeout=60,
    )
    assert shot.stat().st_size > 10_000


def test_swedish_number_and_date_formats():
    import datetime as dt

    from skolsam.report import fmt

    assert fmt.number(0) == "–" and fmt.percent(0.0) == "–"  # exactly zero
    assert fmt.number(0.004, 0) == "0" and fmt.percent(0.0004, 1) == "0,0\u00a0%"  # less than half a unit
    assert fmt.points(-0.102) == "\u221210" and fmt.points(0.031, 1) == "+3,1"
    assert fmt.percent(0.196, 1) == "19,6\u00a0%" and fmt.count(3673) == "3\u00a0673"
    assert fmt.period_long(dt.date(2025, 8, 18), dt.date(2025, 12, 19)) == "18 augusti–19 december 2025"
    assert fmt.period_long(dt.date(2025, 12, 1), dt.date(2026, 1, 9)) == "1 december 2025–9 januari 2026"
    assert fmt.unit_points("+1") == "procentenhet" and fmt.unit_points("\u221212") == "procentenheter"
    assert fmt.year_label("0") == "Förskoleklass"
