"""A failing school system never blocks the others or the build (DESIGN 3.1.1, issue 11).

A city of two school systems: the city's own extracts, the independent operator's extract fails (its
credentials are refused: a deterministic failure, recorded in audit.load_run). The build still passes its
gates and publishes the terms from the source that was read; the match-rate gate, which would have stopped
it (the operator's pupils cannot be found), sets aside the unmatched pupils of schools no complete source
has and says so; and the report names both school systems, the failing one as failing and never read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil

import pytest

from conftest import TEST_KEY
from skolsam import cli, services
from skolsam.enrollment.match import MatchRateTooLow, check_match_rate, match_rate
from skolsam.generate import Config, generate_dataset
from skolsam.report import narrative
from skolsam.report.data import load_inputs
from skolsam.report.model import ReportModel
from skolsam.settings import Settings
from skolsam.standin.running import running_sources
from skolsam.warehouse.connection import connect
from test_build_core import query

pytestmark = pytest.mark.postgres

# A third of the schools at the operator, so that its pupils weigh on the match rate.
CONFIG = Config(independent_unit_share=0.34, participant_share=0.08)


def _cli(*argv: str) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        return cli.main(list(argv))


@pytest.fixture
def failed_operator(tmp_path, warehouse_url, monkeypatch):
    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", TEST_KEY)
    generate_dataset(tmp_path / "ds", pupils=600, seed=5, sources=2, config=CONFIG)
    shutil.copytree(tmp_path / "ds" / "enrollment", tmp_path / "landing")
    with running_sources(tmp_path / "ds", demo=True) as urls:
        assert _cli("extract", "--base-url", urls["stockholm"], "--source", "stockholm", "--client-secret",
                    "skolsam", "--terms", "HT2025,VT2026", "--warehouse-url", warehouse_url) == 0
        # The operator refuses our credentials: every entity fails at once (no retry), nothing is loaded.
        assert _cli("extract", "--base-url", urls["fristaende_1"], "--source", "fristaende_1", "--client-secret",
                    "not-the-secret", "--terms", "HT2025,VT2026", "--warehouse-url", warehouse_url) == 1
    assert _cli("ingest", "--landing", str(tmp_path / "landing"), "--warehouse-url", warehouse_url) == 0
    return warehouse_url


def test_the_build_publishes_the_read_source_and_the_match_rate_sets_the_rest_aside(failed_operator):
    url = failed_operator
    assert query(url, "SELECT DISTINCT source FROM staging.ss12000_person") == [("stockholm",)]
    failed = query(url, "SELECT count(*) FROM audit.load_run WHERE source = 'fristaende_1' AND status = 'failed'")
    assert failed[0][0] == 6  # every entity of the operator failed
    rate = match_rate(url)
    assert rate.incomplete_sources == ("fristaende_1",)
    assert rate.set_aside > 0
    settings = Settings.load()
    # Counted the old way (every enrolled pupil), the operator's pupils would have stopped the build.
    assert rate.matched / rate.enrolled < settings.match_rate_min <= rate.rate
    result = services.build_all(url, settings)  # staging gate, match rate, candidates, mart gate, publish
    assert result["terms"] == ["HT2025", "VT2026"] and result["published"]["group_term"]["inserted"] > 0
    assert result["unread_sources"] == {"HT2025": ["fristaende_1"], "VT2026": ["fristaende_1"]}
    assert query(url, "SELECT count(DISTINCT term) FROM mart.group_term")[0][0] == 2
    assert query(url, "SELECT count(*) FROM mart.participant_term")[0][0] > 0
    # The build records per term and source what was read: the operator's terms were never read.
    status = dict(((term, source), state) for term, source, state in query(
        url, "SELECT term, source, status FROM core.term_attendance_status WHERE term IN ('HT2025', 'VT2026')"))
    assert status == {("HT2025", "stockholm"): "read", ("VT2026", "stockholm"): "read",
                      ("HT2025", "fristaende_1"): "never_read", ("VT2026", "fristaende_1"): "never_read"}


def test_once_the_source_reads_again_nothing_is_set_aside(failed_operator, tmp_path):
    url = failed_operator
    with running_sources(tmp_path / "ds", demo=True) as urls:
        assert _cli("extract", "--base-url", urls["fristaende_1"], "--source", "fristaende_1", "--client-secret",
                    "skolsam", "--terms", "HT2025,VT2026", "--warehouse-url", url) == 0
    rate = match_rate(url)
    assert rate.incomplete_sources == () and rate.set_aside == 0
    assert rate.rate == rate.matched / rate.enrolled


def test_a_key_mismatch_still_stops_the_build_while_a_source_fails(failed_operator):
    """Setting aside covers the failing system's schools only: pupils of the city's own schools that are
    not found (here: every one, as under a wrong pseudonym key) still fail the gate."""
    url = failed_operator
    with connect(url) as conn:
        conn.execute("UPDATE staging.ss12000_person SET student_key = md5(student_key) || md5(person_ref)")
        conn.commit()
    with pytest.raises(MatchRateTooLow, match="set aside"):
        check_match_rate(url, Settings.load())


def test_the_report_names_both_systems_and_the_failing_one(failed_operator):
    url = failed_operator
    services.build_all(url, Settings.load())
    model = ReportModel(load_inputs(url, "VT2026"), "VT2026", "HT2025", Settings.load())
    rows = {r["label"]: r["last"] for r in narrative.quality_facts(model, dt.date.today())["sources"]}
    assert "Stadens skolsystem" in rows and "ingen lyckad hämtning" not in rows["Stadens skolsystem"]
    assert rows["Skolsystemet fristaende_1"] == "ingen lyckad hämtning (den senaste hämtningen misslyckades)"
    method = dict(narrative.method_text(model))["Skolsystem"]
    assert method.startswith("Uppgifterna om skolgång kommer från 2 skolsystem: stadens skolsystem (senast hämtat ")
    assert "skolsystemet fristaende_1 (ingen lyckad hämtning; den senaste hämtningen misslyckades)" in method
    assert "hindrar inte de andra" in method
