"""skolsam airflow-init [--warehouse-url URL]: the deploy step before any DAG runs."""

from __future__ import annotations

import argparse
import os

NAME = "airflow-init"
HELP = ("Once per deploy, before the DAGs are unpaused (docker-compose's airflow-init): apply the warehouse "
        "migrations and create the Airflow pools the DAGs name. Needs the Airflow configuration of the deployment.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse-url", help="the warehouse (default: SKOLSAM_WAREHOUSE_URL, or the Connection "
                                           "skolsam_warehouse as AIRFLOW_CONN_SKOLSAM_WAREHOUSE)")
    p.add_argument("--no-pools", action="store_true", help="migrate only")


def _url(explicit: str | None) -> str:
    from ..warehouse.connection import URL_ENV, sqlalchemy_url

    if explicit:
        return sqlalchemy_url(explicit)
    if os.environ.get(URL_ENV):
        return sqlalchemy_url(os.environ[URL_ENV])
    conn = os.environ.get("AIRFLOW_CONN_SKOLSAM_WAREHOUSE")
    if conn and not conn.lstrip().startswith("{"):
        return sqlalchemy_url(conn)
    # Never an embedded server here: a deploy step that silently made its own warehouse would hide the error.
    raise SystemExit("skolsam airflow-init: give --warehouse-url or set SKOLSAM_WAREHOUSE_URL "
                     "(or AIRFLOW_CONN_SKOLSAM_WAREHOUSE as a URI)")


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from .. import services
    from ..airflow import local

    applied = services.migrate_warehouse(_url(args.warehouse_url))
    print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    if not args.no_pools:
        with tempfile.TemporaryDirectory() as folder:
            names = local.create_pools(dict(os.environ), Path(folder))
        print(f"pools: {', '.join(names)}")
    return 0
