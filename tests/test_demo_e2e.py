"""End to end: the demo on a small generated city, through Airflow (``airflow dags test``), into a fresh
PostgreSQL database. Then the privacy sweep: no civic number and no name of the generated pupils anywhere
the pipeline writes: every table of the warehouse, Airflow's XComs, the task logs, the Data Docs, the report.
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_admin_url):
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("demo")
    dataset = root / "dataset"
    generate_dataset(dataset, pupils=300, seed=7, terms=["HT2025", "VT2026"])
    # A name of its own: several checkouts may run this test on one server at once.
    name = f"skolsam_demo_e2e_{uuid.uuid4().hex[:8]}"
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
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


def test_a_second_run_changes_nothing(demo):
    dataset, home, result = demo
    tables = ("staging.ss12000_grade", "staging.enrollment", "mart.participant_term", "mart.group_term")

    def snapshot():
        with connect(result.warehouse_url) as conn:
            return {t: conn.execute(f"SELECT md5(string_agg(x::text, '' ORDER BY x::text)) FROM {t} x").fetchone()[0]
                    for t in tables}

    before = snapshot()
    assert os.environ["SKOLSAM_PSEUDONYM_KEY"] == TEST_KEY
    run_demo(dataset, result.warehouse_url, home=home, echo=lambda *_: None)
    after = snapshot()
    assert [t for t in tables if after[t] != before[t]] == []


def test_no_civic_number_or_name_anywhere(demo):
    dataset, home, result = demo
    secrets = Secrets(dataset)
    enough = len(secrets.numbers) > 290 and len(secrets.names) > 250  # no values in a failure message
    assert enough
    leaks: dict[str, list[str]] = {}
    with connect(result.warehouse_url) as conn:
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
    assert leaks == {}


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
