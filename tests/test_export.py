"""Exports of the aggregate marts: CSV (Swedish Excel) with a README, XLSX with a column sheet; the rows
equal the mart's rows, suppressed cells empty; descriptions come from the data dictionary; a pupil-level
table is never exported."""

from __future__ import annotations

import csv
import decimal

import pytest

from publication_fixtures import published_warehouse
from skolsam.export import ExportError, export_term
from skolsam.export.tables import HEADINGS, heading
from skolsam.warehouse import dictionary
from skolsam.warehouse.connection import connect

TERM = "VT2026"


@pytest.fixture
def url(warehouse_url):
    return published_warehouse(warehouse_url)


def mart_rows(url: str) -> tuple[list[str], list[tuple]]:
    with connect(url) as conn:
        cur = conn.execute("SELECT * FROM mart.group_term WHERE term = %s", (TERM,))
        return [d.name for d in cur.description], cur.fetchall()


def as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    return str(value).replace(".", ",")


def test_csv_equals_the_mart_with_suppressed_cells_empty(url, tmp_path):
    files = export_term(url, TERM, "csv", tmp_path)
    assert sorted(f.name for f in files) == ["README_VT2026.txt", "group_term_VT2026.csv"]
    columns, rows = mart_rows(url)
    with open(tmp_path / "group_term_VT2026.csv", encoding="utf-8-sig", newline="") as fh:
        got = list(csv.reader(fh, delimiter=";"))
    assert got[0] == [heading(c) for c in columns] and got[0][0] == "Termin"
    assert sorted(map(tuple, got[1:])) == sorted(tuple(as_text(v) for v in r) for r in rows)
    suppressed = [r for r in got[1:] if r[columns.index("suppressed")] == "ja"]
    # Exactly the mart's hidden groups of the example cube for VT2026 (primary and secondary), and some.
    assert len(suppressed) == sum(1 for r in rows if r[columns.index("suppressed")]) > 0
    measures = [columns.index(c) for c in ("n_students", "share_passed_mean", "absence_rate_mean")]
    assert all(r[i] == "" for r in suppressed for i in measures)
    shown = [r for r in got[1:] if r[columns.index("suppressed")] == "nej"]
    assert all(r[columns.index("n_students")] != "" for r in shown)


def test_xlsx_equals_the_mart_and_explains_the_columns(url, tmp_path):
    from openpyxl import load_workbook

    [path] = export_term(url, TERM, "xlsx", tmp_path)
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Grupper", "Kolumner"]  # programme_effect / target_group have no rows here
    columns, rows = mart_rows(url)
    sheet = [tuple(r) for r in wb["Grupper"].iter_rows(values_only=True)]
    assert list(sheet[0]) == [heading(c) for c in columns]

    def cell(v):
        if isinstance(v, bool):
            return "ja" if v else "nej"
        return float(v) if isinstance(v, decimal.Decimal) else v

    assert sorted(sheet[1:], key=repr) == sorted((tuple(cell(v) for v in r) for r in rows), key=repr)
    hidden = [r for r in sheet[1:] if r[columns.index("suppressed")] == "ja"]
    assert hidden and all(r[columns.index("n_students")] is None for r in hidden)
    doc = list(wb["Kolumner"].iter_rows(values_only=True))
    documented = {r[2]: r for r in doc[1:] if r and r[2]}
    for col in dictionary.table("mart.group_term").columns:
        row = documented[f"mart.group_term.{col.name}"]
        assert row[1] == HEADINGS[col.name] and row[4] == col.meaning and row[5] == col.rule


def test_readme_takes_the_descriptions_from_the_dictionary(url, tmp_path):
    export_term(url, TERM, "csv", tmp_path)
    text = (tmp_path / "README_VT2026.txt").read_text(encoding="utf-8")
    for col in dictionary.table("mart.group_term").columns:
        assert f"{HEADINGS[col.name]} ({col.name})" in text and col.meaning in text


def test_no_pupil_level_table_is_ever_exported(url, tmp_path):
    with pytest.raises(ExportError):
        export_term(url, TERM, "csv", tmp_path, tables=["mart.participant_term"])
    with pytest.raises(ExportError):
        export_term(url, TERM, "csv", tmp_path, tables=["staging.enrollment"])
    export_term(url, TERM, "csv", tmp_path)
    export_term(url, TERM, "xlsx", tmp_path)
    # The example warehouse has participant rows with keys k001..k003; none reaches an export.
    for f in tmp_path.iterdir():
        data = f.read_bytes()
        assert b"k001" not in data and b"k002" not in data


def test_optional_marts_are_exported_when_they_exist(url, tmp_path):
    with connect(url) as conn, conn.transaction():
        conn.execute("""CREATE TABLE IF NOT EXISTS mart.target_group (term text, school_unit_code text,
                        school_year text, n_pupils integer, n_target integer, n_target_enrolled integer,
                        coverage_share double precision, n_enrolled_not_target integer, suppressed boolean,
                        absence_status text)""")
        conn.execute("DELETE FROM mart.target_group")
        conn.execute("""INSERT INTO mart.target_group VALUES ('VT2026', 'ALL', 'ALL', 400, 40, 12, 0.3, 3, false, 'reported'),
                        ('VT2026', '12345678', '7', NULL, NULL, NULL, NULL, NULL, true, 'reported'),
                        ('HT2025', 'ALL', 'ALL', 390, 41, 10, 0.24, 2, false, 'reported')""")
    files = export_term(url, TERM, "csv", tmp_path)
    assert "target_group_VT2026.csv" in [f.name for f in files]
    with open(tmp_path / "target_group_VT2026.csv", encoding="utf-8-sig") as fh:
        got = list(csv.reader(fh, delimiter=";"))
    assert got[0][:4] == ["Termin", "Skolenhetskod", "Årskurs", "Antal elever"]
    assert sorted(got[1:]) == sorted([["VT2026", "ALL", "ALL", "400", "40", "12", "0,3", "3", "nej", "reported"],
                                      ["VT2026", "12345678", "7", "", "", "", "", "", "ja", "reported"]])


def test_a_term_without_rows_is_an_error(url, tmp_path):
    with pytest.raises(ExportError, match="no rows for HT2024"):
        export_term(url, "HT2024", "csv", tmp_path)


def test_the_command(url, tmp_path, capsys):
    from skolsam.cli import main

    assert main(["export", "--term", TERM, "--format", "xlsx", "--out", str(tmp_path / "x"),
                 "--warehouse-url", url]) == 0
    assert (tmp_path / "x" / "skolsam_VT2026.xlsx").exists()
    assert main(["export", "--term", TERM, "--format", "csv", "--out", str(tmp_path / "c"),
                 "--warehouse-url", url]) == 0
    readme = (tmp_path / "c" / "README_VT2026.txt").read_text(encoding="utf-8")
    assert "b0117d00" in readme  # the build the figures came from
