"""History and backfill (DESIGN 3.1.3, issue 10 item 1), the extraction side: which terms a run reads, what
it records per (source, term, entity), and a term never read told apart in core.term_attendance_status."""

from __future__ import annotations

import datetime as dt

import pytest

from ss12000_fixtures import HT2025, VT2026, api_config, dataset, rows, server, window_sums  # noqa: F401

from skolsam.settings import Settings
from skolsam.ss12000.client import ApiConfig
from skolsam.ss12000.extract import extract_entity, resolve_terms
from skolsam.terms import load_calendar
from skolsam.warehouse.connection import connect
from skolsam.warehouse.sqlfiles import sql_dir

pytestmark = pytest.mark.postgres
SETTINGS = Settings.load({"history_start_term": "HT2024"})


def _api(url: str) -> ApiConfig:
    return api_config(url, 50)


_rows = rows


def _coverage(url: str, entity: str = "aggregatedAttendance") -> dict[str, tuple]:
    return {r[0]: r[1:] for r in _rows(url, """SELECT term, window_start::text, window_end::text, rows_read, run_id
                                                 FROM audit.extract_coverage WHERE entity = %s""", (entity,))}


def _attendance(url: str) -> list[tuple]:
    return sorted(_rows(url, "SELECT person_ref, activity_id::text, term, offered_minutes, attendance_minutes, "
                             "valid_absence_minutes, invalid_absence_minutes FROM staging.ss12000_attendance"))


def test_first_run_reads_every_term_from_the_history_start(warehouse_url, server, dataset, pseudonymiser):
    s = extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS)
    expected = [t.name for t in resolve_terms(None, load_calendar(), first=True, history_start="HT2024")]
    assert expected[0] == "HT2024" and {"HT2025", "VT2026"} <= set(expected)
    assert s["terms_covered"] == expected == s["terms"]
    coverage = _coverage(warehouse_url)
    assert sorted(coverage) == sorted(expected)
    assert coverage["HT2025"][:3] == (HT2025[0], HT2025[1], len(window_sums(dataset, *HT2025)))
    assert coverage["VT2026"][2] == len(window_sums(dataset, *VT2026))
    assert coverage["HT2024"][2] == 0  # read, and the school reported nothing for it
    assert s["rows_loaded"] == len(window_sums(dataset, *HT2025)) + len(window_sums(dataset, *VT2026))
    # The other entities record the history they read too (their first read is a full one).
    g = extract_entity("grades", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS)
    assert sorted(_coverage(warehouse_url, "grades")) == sorted(expected) and g["terms_covered"] == expected


@pytest.mark.parametrize("reread_days", [30, 400])
def test_a_daily_run_reads_the_current_term_and_the_previous_one_until_it_closed(warehouse_url, server,
                                                                                  pseudonymiser, reread_days):
    settings = Settings.load({"history_start_term": "HT2024", "closed_term_reread_days": reread_days})
    extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=settings)
    first_runs = _coverage(warehouse_url)
    daily = extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=settings)
    started = [t for t in load_calendar() if t.start <= dt.date.today()]
    previous_open = (dt.date.today() - started[-2].end).days <= reread_days
    read = [t.name for t in started[-2:]] if previous_open else [started[-1].name]
    assert daily["terms_covered"] == read
    after = _coverage(warehouse_url)
    for term in read:
        assert after[term][3] == daily["run_id"]
    assert all(after[t] == first_runs[t] for t in after if t not in read)  # older (closed) terms untouched


def test_a_backfill_of_named_terms_changes_nothing_when_run_again(warehouse_url, server, pseudonymiser):
    extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS)
    before = _attendance(warehouse_url)
    for _ in range(2):
        b = extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS,
                           terms=["VT2026", "HT2025"])
        assert b["terms_covered"] == ["HT2025", "VT2026"]
        assert (b["rows_loaded"], b["rows_deleted"]) == (0, 0)
        assert _attendance(warehouse_url) == before
    assert _coverage(warehouse_url)["HT2025"][3] == b["run_id"]


def test_a_term_never_read_is_never_read_in_the_build_not_reported_nothing(warehouse_url, server, pseudonymiser):
    extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS)
    calendar = load_calendar()
    models = sql_dir() / "models" / "core"
    with connect(warehouse_url) as conn:
        conn.execute("TRUNCATE core.seed_term_calendar")
        with conn.cursor().copy("COPY core.seed_term_calendar (term, start_date, end_date) FROM STDIN") as copy:
            for t in calendar:
                copy.write_row((t.name, t.start, t.end))
        conn.execute((models / "010_dim_term.sql").read_text(encoding="utf-8"))
        conn.execute((models / "075_term_attendance_status.sql").read_text(encoding="utf-8"))
        conn.commit()
    status = {r[0]: r[1:] for r in _rows(warehouse_url, """SELECT term, status, reason, window_start::text
                                                              FROM core.term_attendance_status
                                                             WHERE source = 'ss12000'""")}
    assert len(status) == len(calendar)
    assert status["VT2024"] == ("never_read", "attendance_window_never_extracted", None)  # before history start
    assert status["HT2024"][:2] == ("read", None)
    assert status["HT2025"] == ("read", None, HT2025[0])
    unread_future = [t.name for t in calendar if t.start > dt.date.today()]
    assert all(status[t][0] == "never_read" for t in unread_future)


def test_the_backfill_command_reads_named_terms_and_twice_is_once(warehouse_url, dataset, capsys):
    import json

    from skolsam.cli import main

    argv = ["backfill", "--dataset", str(dataset), "--terms", "HT2025", "--warehouse-url", warehouse_url, "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert [s["entity"] for s in first] == ["aggregatedAttendance"] and first[0]["terms_covered"] == ["HT2025"]
    assert first[0]["rows_loaded"] == len(window_sums(dataset, *HT2025))
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again[0]["rows_loaded"], again[0]["rows_deleted"]) == (0, 0)
    assert sorted(_coverage(warehouse_url)) == ["HT2025"]


def test_a_daily_change_of_every_term_sum_leaves_the_attendance_table_its_size(warehouse_url, server,
                                                                                pseudonymiser):
    """Each school day changes the sums of every pupil and activity of the current term; the merge updates
    them in place (fillfactor 50, migration 090: HOT updates), so day after day the table keeps its pages.
    With full pages every such day would add a copy of the term to the table."""
    extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser, settings=SETTINGS)
    expected = _attendance(warehouse_url)

    def pages() -> int:
        return _rows(warehouse_url, "SELECT pg_relation_size('staging.ss12000_attendance') / "
                                    "current_setting('block_size')::int")[0][0]

    loaded = pages()
    assert loaded > 0
    for _ in range(3):  # a day: every sum differs from the source's, and the daily run reads them again
        with connect(warehouse_url) as conn:
            changed = conn.execute("UPDATE staging.ss12000_attendance SET attendance_minutes = "
                                   "attendance_minutes + 1").rowcount
        s = extract_entity("aggregatedAttendance", warehouse_url, _api(server), pseudonymiser,
                           settings=SETTINGS, terms=["HT2025", "VT2026"])
        assert s["rows_loaded"] == changed == len(expected)
    assert _attendance(warehouse_url) == expected
    assert pages() == loaded
