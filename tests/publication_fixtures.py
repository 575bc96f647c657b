"""A warehouse with published marts and the audit trail of the build that published them (hand-built,
synthetic: the report's example cube from test_report, one publish run, one staging and one mart gate)."""

from __future__ import annotations

from skolsam.warehouse.connection import connect
from test_report import example_rows, fill_mart

RAW_BUILD_ID = "b0117d0000000000000000000000cafe"
BUILD_ID = "b0117d00-0000-0000-0000-00000000cafe"  # as reports and manifests show it (dashed UUID form)


def record_build(url: str, build_id: str = RAW_BUILD_ID, terms: str = "HT2025,VT2026", *,
                 mart_critical_failed: bool = False) -> None:
    with connect(url) as conn, conn.transaction():
        for gate, suite, table in ((f"20261201T100000Z-{build_id[:8]}s", "staging_ss12000_grade", "staging.ss12000_grade"),
                                   (f"20261201T100500Z-{build_id[:8]}m", "mart_group_term", "mart_candidate.group_term")):
            for i, (severity, success) in enumerate((("critical", not (mart_critical_failed and suite.startswith("mart"))),
                                                     ("critical", True), ("warning", False))):
                conn.execute(
                    """INSERT INTO audit.dq_result (validation_id, suite, table_name, expectation, severity, success,
                       observed_value) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                    (f"{gate}:{suite}", suite, table, f"check_{i}: expect_something(col)", severity, success, "0"))
        conn.execute(
            """INSERT INTO audit.load_run (source, entity, status, watermark, message, finished_at)
               VALUES ('warehouse', 'publish', 'success', %s, %s, now())""", (build_id, f"terms={terms}"))


def published_warehouse(url: str) -> str:
    fill_mart(url, example_rows())
    record_build(url)
    return url
