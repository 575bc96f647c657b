"""Several school systems give the same marts as one (DESIGN 3.1.1, issue 11).

One synthetic city (skolsam.generate with ``sources=2``) is written twice: as two school systems (the city's
own and an independent operator, each with its own person ids, syllabus ids and stand-in server, and pupils
who move from one to the other mid-year) and as one system holding the same pupils, schools, grades and
attendance. Both run the same pipeline (the stand-in over loopback, ``skolsam extract`` per source, the
enrollment intake, the warehouse build) into warehouses of their own, and every mart must be the same
multiset of rows (build ids and timestamps left out). A mover is one pupil: one row per term in core, in
the school of the term's enrolment (the one with the most days in the term), found by ``student_key``.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest

from conftest import TEST_KEY
from skolsam import cli, services
from skolsam.generate import Config, generate_dataset
from skolsam.pseudonym import Pseudonymiser
from skolsam.settings import Settings
from skolsam.standin.dataset import dataset_sources
from skolsam.terms import calendar_by_name, load_calendar
from test_build_core import fresh_warehouse, query, query_dicts

pytestmark = pytest.mark.postgres

PUPILS = 500
SEED = 21
# More movers than the default 2 % so that the small city has a few among its participants too.
CONFIG = Config(mover_share=0.06, participant_share=0.08)
MARTS = ("mart.participant_term", "mart.group_term", "mart.target_group", "mart.programme_effect")
# Columns that say which build made a row or when, not what it says.
_BOOKKEEPING = {"build_id", "built_at", "published_at", "run_id", "created_at", "loaded_at"}


def _rows(url: str, table: str) -> collections.Counter:
    rows = query_dicts(url, f"SELECT * FROM {table}")
    return collections.Counter(
        tuple(sorted((k, v) for k, v in r.items() if k not in _BOOKKEEPING and not k.endswith("_at"))) for r in rows)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    work = tmp_path_factory.mktemp("proof")
    generate_dataset(work / "two", pupils=PUPILS, seed=SEED, sources=2, config=CONFIG)
    generate_dataset(work / "one", pupils=PUPILS, seed=SEED, sources=2, one_system=True, config=CONFIG)
    return work


@pytest.fixture(scope="module")
def runs(city, pg_admin_url):
    out = {}
    # A module fixture runs before conftest's per-test environment: set the key and home here (never a key
    # file or an index in the checkout).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SKOLSAM_PSEUDONYM_KEY", TEST_KEY)
        env.setenv("SKOLSAM_HOME", str(city / "home"))
        for name in ("one", "two"):
            out[name] = _run(city / name, city / f"work-{name}", pg_admin_url)
    return out


def _pipeline(dataset: Path, url: str, work: Path) -> dict:
    """What the DAGs run, in one process: extract every source (the stand-in over loopback, one server per
    source), the enrollment intake, then the build with both quality gates (staging and marts)."""
    landing = work / "landing"
    shutil.copytree(dataset / "enrollment", landing)
    summaries = []
    # No --terms: a first extract reads every term from history_start_term on, as the extract DAG does
    # (terms read and found empty are 'not_reported', terms never read 'not_extracted': DESIGN 3.1.3).
    for argv in (["extract", "--dataset", str(dataset), "--full-refresh"],
                 ["ingest", "--landing", str(landing)]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert cli.main([*argv, "--warehouse-url", url, "--json"]) == 0, err.getvalue()[-3000:]
        summaries.append(json.loads(out.getvalue()))
    return {**services.build_all(url, Settings.load()), "extracted": summaries[0]}


def _run(dataset: Path, work: Path, pg_admin_url: str) -> dict:
    with fresh_warehouse(pg_admin_url) as url:
        built = _pipeline(dataset, url, work)
        return {
            "built": built,
            "person_check": query(url, "SELECT success, unexpected_count FROM audit.dq_result "
                                       "WHERE expectation LIKE 'one_person_per_pupil%'"),
            "marts": {t: _rows(url, t) for t in MARTS},
            "pupil_term": query(url, "SELECT student_key, term, school_unit_code, school_year, overlap_days "
                                     "FROM core.fact_pupil_term"),
            "sources": query(url, "SELECT source, count(*) FROM staging.ss12000_person GROUP BY source"),
            "grade_sources": dict(query(url, "SELECT source, count(*) FROM staging.ss12000_grade GROUP BY 1")),
            "attendance_sources": dict(query(url, "SELECT source, count(*) FROM staging.ss12000_attendance "
                                                  "GROUP BY 1")),
            "defaults": query(url, "SELECT DISTINCT column_default FROM information_schema.columns "
                                   "WHERE table_schema = 'staging' AND column_name = 'source'"),
            "persons": query(url, "SELECT count(*), count(DISTINCT student_key) FROM staging.ss12000_person")[0],
        }


def test_the_first_source_is_bulk_loaded_under_its_own_name(runs):
    """COPY lines carry no source: the bulk load of the first named source sets the column's default for
    its transaction only (grades and attendance land as 'stockholm', the default stays 'ss12000')."""
    two = runs["two"]
    bulk = {(s["entity"], s.get("bulk")) for s in two["built"]["extracted"] if s["entity"] in
            ("grades", "aggregatedAttendance")}
    assert ("grades", True) in bulk and ("aggregatedAttendance", True) in bulk       # stockholm: empty tables
    assert ("grades", False) in bulk and ("aggregatedAttendance", False) in bulk     # fristaende_1: upsert
    assert set(two["grade_sources"]) == set(two["attendance_sources"]) == {"stockholm", "fristaende_1"}
    assert two["defaults"] == [("'ss12000'::text",)]
    assert set(runs["one"]["grade_sources"]) == {"ss12000"}


def test_two_sources_were_loaded_as_two_and_passed_the_gates(runs):
    assert dict(runs["two"]["sources"]).keys() == {"stockholm", "fristaende_1"}
    records, pupils = runs["two"]["persons"]
    assert records > pupils  # the movers have a person record in each system
    assert runs["one"]["persons"][1] == pupils
    # A pupil in two systems is no fault of either: the per-source uniqueness check passes (it once
    # warned on every mover).
    assert runs["two"]["person_check"] and all(ok for ok, _ in runs["two"]["person_check"])
    assert runs["one"]["built"]["terms"] == runs["two"]["built"]["terms"]
    assert runs["two"]["built"]["unread_sources"] == {}  # both sources read every term


@pytest.mark.parametrize("table", MARTS)
def test_marts_equal_the_one_system_run(runs, table):
    one, two = runs["one"]["marts"][table], runs["two"]["marts"][table]
    if table != "mart.programme_effect":  # two terms: no effect estimate has its baseline term
        assert sum(one.values()) > 0, f"{table} is empty: the comparison would prove nothing"
    missing, extra = one - two, two - one
    assert not missing and not extra, (
        f"{table}: {sum(missing.values())} rows of the one-system run missing, {sum(extra.values())} extra; "
        f"first missing {next(iter(missing), None)}, first extra {next(iter(extra), None)}")


def _movers(dataset: Path) -> dict[str, list[tuple[dt.date, dt.date, str]]]:
    """civic number -> enrolments (start, end, school unit code) for the pupils in both systems."""
    spans: dict[str, list] = collections.defaultdict(list)
    systems: dict[str, set] = collections.defaultdict(set)
    for sid, folder in dataset_sources(dataset).items():
        ss = folder / "ss12000"
        code = {o["id"]: o.get("schoolUnitCode") for o in
                json.loads((ss / "organisations.json").read_text("utf-8"))["data"]}
        for line in (ss / "persons.jsonl").read_text("utf-8").splitlines():
            p = json.loads(line)
            systems[p["civicNo"]["value"]].add(sid)
            for e in p["enrolments"]:
                spans[p["civicNo"]["value"]].append((dt.date.fromisoformat(e["startDate"]),
                                                     dt.date.fromisoformat(e["endDate"]), code[e["enroledAt"]["id"]]))
    return {c: spans[c] for c, s in systems.items() if len(s) > 1}


def test_a_mover_counts_once_per_term_in_the_school_of_the_terms_enrolment(city, runs):
    movers = _movers(city / "two")
    assert movers, "the city has no mover"
    pseudo = Pseudonymiser(TEST_KEY)
    terms = calendar_by_name(load_calendar())
    rows = collections.defaultdict(list)
    for key, term, code, _year, _days in runs["two"]["pupil_term"]:
        rows[(key, term)].append(code)
    checked = 0
    for civic, spans in movers.items():
        key = pseudo.student_key(civic)
        for term in ("HT2025", "VT2026"):
            t = terms[term]
            days = {}
            for start, end, code in spans:
                overlap = (min(end, t.end) - max(start, t.start)).days + 1
                if overlap > 0:
                    days[code] = days.get(code, 0) + overlap
            if not days:
                continue
            expected = max(days, key=lambda c: days[c])
            assert rows[(key, term)] == [expected], (term, len(days))
            checked += len(days) > 1
    assert checked >= 1, "no mover had two schools in one term"
