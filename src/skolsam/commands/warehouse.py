"""skolsam warehouse start|stop|status|url|migrate"""

from __future__ import annotations

import argparse

NAME = "warehouse"
HELP = "Start, stop, inspect or migrate the warehouse (the embedded PostgreSQL unless SKOLSAM_WAREHOUSE_URL is set)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    p.add_argument("--warehouse-url", help="use this PostgreSQL instead of the embedded one (migrate only)")


def run(args: argparse.Namespace) -> int:
    from ..warehouse import connection, embedded, migrate

    if args.action == "start":
        url = embedded.start()
        applied = migrate.migrate(url)
        print(f"embedded warehouse running: {url}")
        print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    elif args.action == "stop":
        print("stopped" if embedded.stop() else "not running")
    elif args.action == "status":
        st = embedded.status()
        print(f"running: {st.running}\npgdata: {st.pgdata}\npid: {st.pid or '-'}\nurl: {st.url or '-'}")
        return 0 if st.running else 3
    elif args.action == "url":
        print(connection.resolve_url(args.warehouse_url))
    elif args.action == "migrate":
        url = connection.resolve_url(args.warehouse_url)
        applied = migrate.migrate(url)
        print(f"migrations applied: {', '.join(applied) if applied else 'none pending'}")
    return 0
