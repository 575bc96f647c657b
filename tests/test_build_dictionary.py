"""The data dictionary cannot drift: docs/data_dictionary.md, skolsam.warehouse.dictionary and the real
tables (information_schema) must agree, and the column order is DESIGN section 5's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skolsam.warehouse import dictionary
from test_build_core import query

DOC = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"

# DESIGN 5, in its order; then the columns issue 10 added on purpose (migration 060), saying why absence
# figures are missing (a window never read against one read with nothing reported).
DESIGN_COLUMNS = {
    "mart.participant_term": """student_key, programme, term, district, school_unit_code, school_year, sex,
        subjects_graded, subjects_passed, share_passed, merit_value,
        eligible_vocational, eligible_hp_ek_hu_sa, eligible_hp_na_te, eligible_hp_es,
        offered_minutes, attended_minutes, valid_absence_minutes, invalid_absence_minutes,
        absence_rate, invalid_absence_rate, absence_band,
        prev_term, prev_share_passed, share_passed_change, prev_merit_value, merit_value_change,
        prev_absence_rate, absence_rate_change, absence_status, prev_absence_status""",
    "mart.group_term": """term, population, programme, district, sex, school_year,
        n_students, share_passed_mean, improved_share, merit_value_mean, eligible_vocational_share,
        absence_rate_mean, high_absence_share, very_high_absence_share, suppressed, absence_status""",
    "mart.target_group": """term, school_unit_code, school_year,
        n_pupils, n_target, n_target_enrolled, coverage_share, n_enrolled_not_target, suppressed, absence_status""",
    "mart.programme_effect": """term, programme, district, outcome, event_term, estimator,
        estimate, ci_low, ci_high, se, df, n_participants, n_comparison, n_schools, n_excluded,
        verdict, suppressed""",
}


def _doc_columns() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^## `([a-z_.]+)`", line)
        if m:
            current = out.setdefault(m.group(1), [])
            continue
        m = re.match(r"^\| \d+ \| `([a-z_]+)` \| ([a-z ]+) \| (?:yes|no) \|", line)
        if m and current is not None:
            current.append((m.group(1), m.group(2)))
    return out


def test_dictionary_follows_design_order():
    for t in dictionary.TABLES:
        assert t.column_names == [c.strip() for c in DESIGN_COLUMNS[t.name].split(",")]
        assert all(c.meaning and c.rule and c.unit for c in t.columns)


def test_document_is_rendered_from_the_dictionary():
    assert DOC.read_text(encoding="utf-8") == dictionary.render_markdown(), \
        "regenerate: python -m skolsam.warehouse.dictionary > docs/data_dictionary.md"


@pytest.mark.postgres
def test_document_matches_the_real_tables(warehouse_url):
    doc = _doc_columns()
    assert set(doc) == {t.name for t in dictionary.TABLES}
    for name, columns in doc.items():
        schema, table = name.split(".")
        for s in (schema, "mart_candidate"):
            real = query(warehouse_url, """SELECT column_name, data_type FROM information_schema.columns
                                            WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
                         (s, table))
            assert real == columns, f"{s}.{table}"


@pytest.mark.postgres
def test_the_migrations_tables_are_the_spec(warehouse_url):
    """Names, order, types, nullability and primary key of every mart (and its candidate) as declared once."""
    for t in dictionary.TABLES:
        schema, table = t.name.split(".")
        for s in (schema, "mart_candidate"):
            real = query(warehouse_url, """SELECT column_name, data_type, is_nullable = 'YES'
                                             FROM information_schema.columns
                                            WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
                         (s, table))
            assert real == [(c.name, c.type, c.nullable) for c in t.columns], f"{s}.{table}"
            key = query(warehouse_url, """SELECT a.attname FROM pg_index i
                                            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                                           WHERE i.indrelid = %s::regclass AND i.indisprimary
                                           ORDER BY array_position(i.indkey, a.attnum)""", (f"{s}.{table}",))
            assert tuple(r[0] for r in key) == t.key, f"{s}.{table}"


def test_the_gate_and_the_report_read_the_spec():
    import datetime as dt

    from skolsam.quality import suites
    from skolsam.report import data
    from skolsam.settings import Settings

    params = suites.expectation_parameters(Settings(), as_of=dt.date(2026, 7, 1))
    for t in dictionary.TABLES:
        suite = suites.load_suite(t.name.replace(".", "_"))
        [contract] = [e for e in suite.expectations if e["meta"]["check"] == "contract_columns"]
        assert params[contract["kwargs"]["column_list"]["$PARAMETER"]] == t.column_names
    assert list(data.COLUMNS) == dictionary.GROUP_TERM.column_names
    assert data.DIMENSIONS == dictionary.GROUP_TERM.key


def test_the_mart_models_insert_the_spec_columns_in_order():
    """Each SQL model that fills a mart lists the spec's columns, in its order (programme_effect is written
    by skolsam.effects from the spec's column list itself)."""
    models = Path(__file__).resolve().parents[1] / "sql" / "models" / "mart"
    found = {}
    for path in models.glob("*.sql"):
        for m in re.finditer(r"INSERT INTO mart_candidate\.([a-z_]+)\s*\(([^)]*)\)", path.read_text(encoding="utf-8")):
            found[f"mart.{m.group(1)}"] = [c.strip() for c in m.group(2).split(",")]
    assert set(found) == {"mart.participant_term", "mart.group_term", "mart.target_group"}
    for name, columns in found.items():
        assert columns == dictionary.table(name).column_names, name
