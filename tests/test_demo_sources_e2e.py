"""End to end: the demo on a city of two school systems, through Airflow (``airflow dags test``).

One stand-in server per source, the sources config as the Variable, one Connection per source, and both
sources' extract DAGs before the intake, build and report. Its marts must equal those of the same city run
as one school system (the services path the DAGs call, tests/test_sources_proof.py): the movers counted
once.
"""

from __future__ import annotations

import uuid

import pytest

from conftest import TEST_KEY
from skolsam.demo import pipeline_for, run_demo
from skolsam.generate import generate_dataset
from skolsam.warehouse.connection import connect
from test_build_core import query
from test_demo_e2e import Secrets, leaks_in
from test_sources_proof import CONFIG, MARTS, _rows, _run

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PUPILS = 300
SEED = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_admin_url):
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("demo-sources")
    generate_dataset(root / "two", pupils=PUPILS, seed=SEED, sources=2, config=CONFIG)
    generate_dataset(root / "one", pupils=PUPILS, seed=SEED, sources=2, one_system=True, config=CONFIG)
    name = f"skolsam_demo_sources_{uuid.uuid4().hex[:8]}"  # a name of its own (a shared server)
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    home = root / "home"
    try:
        with pytest.MonkeyPatch.context() as mp:
            # Module scope: conftest's per-test home and key are not in place yet.
            mp.setenv("SKOLSAM_HOME", str(home))
            mp.setenv("SKOLSAM_PSEUDONYM_KEY", TEST_KEY)
            result = run_demo(root / "two", url, home=home, echo=lambda *_: None)
            marts = {t: _rows(url, t) for t in MARTS}
            runs = query(url, "SELECT source, status, count(*) FROM audit.load_run "
                              "WHERE source NOT IN ('warehouse', 'quality', 'enrollment') GROUP BY 1, 2")
            one = _run(root / "one", root / "work-one", pg_admin_url)
        yield {"result": result, "marts": marts, "runs": runs, "one": one, "home": home, "url": url,
               "persons": root / "one"}
    finally:
        with connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_each_source_had_its_server_connection_and_extract_dag(demo):
    result = demo["result"]
    assert list(result.sources) == ["stockholm", "fristaende_1"]
    assert len(set(result.sources.values())) == 2  # two servers, two ports
    assert tuple(result.logs) == pipeline_for(["stockholm", "fristaende_1"])
    assert tuple(result.logs)[:2] == ("skolsam_extract_education", "skolsam_extract_education__fristaende_1")
    runs = {(source, status): n for source, status, n in demo["runs"]}
    assert runs.get(("stockholm", "success"), 0) >= 6 and runs.get(("fristaende_1", "success"), 0) >= 6
    assert not [k for k in runs if k[1] != "success"]
    log = (demo["home"] / "logs" / "skolsam_extract_education__fristaende_1.log").read_text(errors="replace")
    assert "DagRun Finished" in log


@pytest.mark.parametrize("table", MARTS)
def test_demo_marts_equal_the_one_system_run(demo, table):
    one, two = demo["one"]["marts"][table], demo["marts"][table]
    if table != "mart.programme_effect":
        assert sum(one.values()) > 0, f"{table} is empty: the comparison would prove nothing"
    missing, extra = one - two, two - one
    assert not missing and not extra, (f"{table}: {sum(missing.values())} rows missing, "
                                       f"{sum(extra.values())} extra against the one-system run")


def test_no_civic_number_or_name_anywhere(demo):
    """The privacy sweep of the one-system demo (tests/test_demo_e2e.py) over the two-system run; the
    one-system copy of the city lists every pupil's number and name once."""
    secrets = Secrets(demo["persons"])
    assert len(secrets.numbers) > 290 and len(secrets.names) > 250
    assert leaks_in(secrets, demo["url"], demo["home"]) == {}
