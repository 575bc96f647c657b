"""End to end: the demo on a small generated city, through Airflow (``airflow dags test``), into a fresh
PostgreSQL database. Then the privacy sweep: no civic number and no name of the generated pupils anywhere
the pipeline writes: every table of the warehouse, Airflow's XComs, the task logs, the Data Docs, the report.
"""

from __future__ import annotations

import collections
import csv
import os
import uuid
import json
import re
import sqlite3
from pathlib import Path

import pytest

from conftest import TEST_KEY
from skolsam.demo import PIPELINE, run_demo
from skolsam.generate import generate_dataset
from skolsam.warehouse.connection import connect

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Secrets:
    def __init__(self, dataset: Path) -> None:
        self.numbers: set[str] = set()
        self.names: set[str] = set()
        with open(dataset / "ss12000" / "persons.jsonl", encoding="utf-8") as fh:
            for line in fh:
                p = json.loads(line)
                self.numbers.add(p["civicNo"]["value"][-10:])
                self.names.add(f'{p["givenName"]} {p["familyName"]}')
        for f in (dataset / "enrollment").glob("*.csv"):
            raw = f.read_bytes()
            text = raw.decode("utf-8-sig") if _utf8(raw) else raw.decode("cp1252")
            for row in csv.reader(text.splitlines(), delimiter=";" if text.count(";") > text.count(",") else ","):
                for cell in row:
                    digits = re.sub(r"\D", "", cell)
                    if len(digits) in (10, 12) and not re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", cell.strip()):
                        self.numbers.add(digits[-10:])

    def leaks(self, text: str) -> list[str]:
        found = []
        joined = re.sub(r"(?<=\d)[-+](?=\d)", "", text)
        for run in re.findall(r"(?<![0-9a-f])\d{10,12}(?![0-9a-f])", joined):
            if run[-10:] in self.numbers:
                found.append("civic number")
                break
        for name in self.names:
            if name in text:
                found.append("name")
                break
        return found


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def create_own_database(admin_url: str, name: str | None = None) -> str:
    """Create the demo's warehouse database under a name of its own; a name already taken is an error.

    No ``DROP ... WITH (FORCE)`` first: with the old fixed name, one checkout's fixture dropped and refilled
    the database another checkout's demo was using on the shared server, so a "second run" compared rows
    written by two different runs (and branches). A clash now fails at once instead of sharing a warehouse.
    """
    name = name or f"skolsam_demo_e2e_{uuid.uuid4().hex[:8]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def test_the_demo_database_is_never_taken_from_another_run(pg_admin_url):
    from psycopg.errors import DuplicateDatabase
    from sqlalchemy.engine import make_url

    theirs = create_own_database(pg_admin_url)
    ours = create_own_database(pg_admin_url)
    try:
        assert ours != theirs  # a fresh name per run
        with connect(make_url(pg_admin_url).set(database=theirs).render_as_string(hide_password=False)) as other:
            other.execute("CREATE TABLE marker (x int)")
            other.commit()
            with pytest.raises(DuplicateDatabase):
                create_own_database(pg_admin_url, theirs)
            # The other run's session and data survive the clash.
            assert other.execute("SELECT count(*) FROM marker").fetchone()[0] == 0
    finally:
        with connect(pg_admin_url, autocommit=True) as conn:
            for name in (theirs, ours):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_admin_url):
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("demo")
    dataset = root / "dataset"
    generate_dataset(dataset, pupils=300, seed=7, terms=["HT2025", "VT2026"])
    # A name of its own: several checkouts may run this test on one server at once.
    name = create_own_database(pg_admin_url)
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        # Module scope: the per-test home and key of conftest are not in place yet, so set them here.
        mp.setenv("SKOLSAM_HOME", str(home))
        mp.setenv("SKOLSAM_PSEUDONYM_KEY", TEST_KEY)
        result = run_demo(dataset, url, home=home, echo=lambda *_: None)
        yield dataset, home, result
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_stage_ran_and_loaded(demo):
    dataset, home, result = demo
    assert set(result.logs) == set(PIPELINE)
    manifest = json.loads((dataset / "manifest.json").read_text())
    with connect(result.warehouse_url) as conn:
        persons = conn.execute("SELECT count(*) FROM staging.ss12000_person").fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM audit.load_run WHERE status = 'failed'").fetchone()[0]
        terms = {r[0] for r in conn.execute("SELECT DISTINCT term FROM mart.group_term")}
        participants = conn.execute("SELECT count(*) FROM mart.participant_term").fetchone()[0]
        all_row = conn.execute(
            """SELECT n_students FROM mart.group_term WHERE term = 'VT2026' AND population = 'participants'
               AND programme = 'ALL' AND district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL'"""
        ).fetchone()
    # Every generated person arrives, less the ones on the erasure list.
    assert manifest["pupils"] - 5 <= persons <= manifest["pupils"]
    assert failed == 0
    assert terms == {"HT2025", "VT2026"}
    assert participants > 0 and all_row is not None
    assert list((home / "reports").glob("**/*.html")), "the termly report was written"
    # The demo skips the approval: the published copy says nobody reviewed it, never "Slutlig"
    [published] = list((home / "reports" / "published").glob("*/uppfoljning_*.html"))
    html = published.read_text(encoding="utf-8")
    assert '<dd class="status">Ej granskad</dd>' in html and "publicerad utan granskning" in html
    assert "Slutlig" not in html and "Preliminär" not in html


def test_a_second_run_changes_nothing(demo):
    dataset, home, result = demo
    tables = ("staging.ss12000_grade", "staging.enrollment", "mart.participant_term", "mart.group_term")

    def snapshot():  # rows as multisets: duplicates count, order does not
        with connect(result.warehouse_url) as conn:
            return {t: collections.Counter(r for (r,) in conn.execute(f"SELECT x::text FROM {t} x")) for t in tables}

    before = snapshot()
    assert os.environ["SKOLSAM_PSEUDONYM_KEY"] == TEST_KEY
    run_demo(dataset, result.warehouse_url, home=home, echo=lambda *_: None)
    after = snapshot()
    # Per changed table: (rows only before, rows only after); counts only, no row values in the message.
    changed = {t: (sum((before[t] - after[t]).values()), sum((after[t] - before[t]).values()))
               for t in tables if before[t] != after[t]}
    assert changed == {}


def test_no_civic_number_or_name_anywhere(demo):
    dataset, home, result = demo
    secrets = Secrets(dataset)
    enough = len(secrets.numbers) > 290 and len(secrets.names) > 250  # no values in a failure message
    assert enough
    assert leaks_in(secrets, result.warehouse_url, home) == {}


def leaks_in(secrets: Secrets, warehouse_url: str, home: Path) -> dict[str, list[str]]:
    """Where the demo left a civic number or a name: every warehouse table, the XComs, logs, Data Docs and
    reports under ``home`` (kinds of leak per place, never the value)."""
    leaks: dict[str, list[str]] = {}
    with connect(warehouse_url) as conn:
        tables = conn.execute(
            """SELECT schemaname || '.' || tablename FROM pg_tables
               WHERE schemaname IN ('staging', 'core', 'mart', 'mart_candidate', 'audit', 'public')"""
        ).fetchall()
        for (table,) in tables:
            with conn.cursor().copy(f"COPY {table} TO STDOUT") as cp:
                text = b"".join(bytes(c) for c in cp).decode("utf-8")
            if found := secrets.leaks(text):
                leaks[table] = found
    xcoms = sqlite3.connect(home / "airflow" / "airflow.db").execute("SELECT value FROM xcom").fetchall()
    assert xcoms, "the DAGs pass summaries as XComs"
    if found := secrets.leaks("\n".join(str(v[0]) for v in xcoms)):
        leaks["airflow xcom"] = found
    for folder in ("logs", "data_docs", "reports"):
        for f in (home / folder).rglob("*"):
            if f.is_file() and f.suffix in (".log", ".html", ".json", ".txt", ""):
                if found := secrets.leaks(f.read_text(errors="replace")):
                    leaks[str(f.relative_to(home))] = found
    for f in (home / "airflow" / "logs").rglob("*.log"):
        if found := secrets.leaks(f.read_text(errors="replace")):
            leaks[str(f.relative_to(home))] = found
    return leaks


def test_data_docs_of_the_demo_render(demo, tmp_path):
    from test_quality_docs import assert_not_blank, chromium, screenshot

    _, home, _ = demo
    index = home / "data_docs" / "index.html"
    html = index.read_text(encoding="utf-8")
    for suite in ("staging_ss12000_grade", "staging_enrollment", "mart_group_term"):
        assert suite in html, f"{suite} is listed in the Data Docs index"
    browser = chromium()
    if browser:
        png = tmp_path / "demo_docs.png"
        screenshot(browser, index, png, tmp_path / "profile")
        assert_not_blank(png)
    else:
        print("Chromium not installed: checked the Data Docs HTML only")
