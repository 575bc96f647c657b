"""Row-count floors of the staging gate (issue 10.2): a critical check fails on an empty or sharply shrunken
staging table, so a truncated or half-run extract is never built from.

The floors come from the previous passed gate: ``audit.staging_row_count`` holds each table's row count
then (migration 020), written only after a gate passed, so a failed gate never lowers them. The results are
``CheckResult`` rows like Great Expectations' own (recorded in audit.dq_result, shown by ``skolsam dq``);
they hold counts only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..settings import Settings
from .results import CheckResult
from .suites import load_suite

# Staging tables that may never be empty when a build reads them: without education data there is nothing
# to follow up, and an empty table is what a truncated or half-run extract looks like. (Enrollment lists may
# legitimately not have arrived yet; they get the shrink floor only.)
REQUIRED_STAGING = ("staging_ss12000_person", "staging_ss12000_enrolment", "staging_ss12000_grade",
                    "staging_ss12000_attendance")
ROW_COUNT_CHECK = "row_count_floor"


def row_count_checks(warehouse_url: str, suite_names: Iterable[str], settings: Settings,
                     expectations_root: Path | None = None) -> tuple[list[CheckResult], dict[str, int]]:
    """Critical checks on the size of each suite's table: not empty (REQUIRED_STAGING), and at least
    ``staging_shrink_floor`` of its rows at the last passed staging gate (audit.staging_row_count).
    Returns the checks and the counts (recorded by ``record_row_counts`` once the gate passed)."""
    from psycopg import sql as pgsql

    from ..warehouse.connection import connect

    checks: list[CheckResult] = []
    counts: dict[str, int] = {}
    floor_share = float(settings.staging_shrink_floor)
    with connect(warehouse_url) as conn:
        previous = dict(conn.execute("SELECT table_name, row_count FROM audit.staging_row_count").fetchall())
        for name in suite_names:
            suite = load_suite(name, expectations_root)
            table = f"{suite.schema}.{suite.table}"
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue  # the suite itself reports a missing table
            rows = conn.execute(pgsql.SQL("SELECT count(*) FROM {}").format(
                pgsql.Identifier(suite.schema, suite.table))).fetchone()[0]
            counts[table] = rows
            before = previous.get(table)
            floor = int(before * floor_share) if before else 0
            if name in REQUIRED_STAGING:
                floor = max(floor, 1)
            success = rows >= floor
            observed = f"{rows} rows" + (f"; {before} at the last passed gate, floor {floor}" if before else
                                         (f"; floor {floor}" if floor else ""))
            checks.append(CheckResult(
                suite=name, table_name=table, check=ROW_COUNT_CHECK,
                expectation=f"{ROW_COUNT_CHECK}: not empty, at least {floor_share:.0%} of the last passed load"
                if name in REQUIRED_STAGING else f"{ROW_COUNT_CHECK}: at least {floor_share:.0%} of the last passed load",
                severity="critical", success=success, observed_value=observed,
                unexpected_count=None if success else floor - rows, validation_id=""))
    return checks, counts


def record_row_counts(warehouse_url: str, counts: dict[str, int], gate_id: str) -> None:
    from ..warehouse.connection import connect

    with connect(warehouse_url) as conn, conn.transaction():
        for table, rows in counts.items():
            conn.execute(
                """INSERT INTO audit.staging_row_count (table_name, row_count, gate_id) VALUES (%s, %s, %s)
                   ON CONFLICT (table_name) DO UPDATE
                   SET row_count = EXCLUDED.row_count, gate_id = EXCLUDED.gate_id, recorded_at = now()""",
                (table, rows, gate_id))
