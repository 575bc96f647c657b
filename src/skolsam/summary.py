"""What the warehouse holds, in a few lines an operator can read (the end of ``make demo``)."""

from __future__ import annotations

from .warehouse.connection import connect

TABLES = (
    "staging.ss12000_organisation",
    "staging.ss12000_person",
    "staging.ss12000_syllabus",
    "staging.ss12000_grade",
    "staging.ss12000_attendance",
    "staging.enrollment",
    "mart.participant_term",
    "mart.group_term",
)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) or type(v).__name__ == "Decimal":
        x = float(v)
        return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}"  # merit points vs shares
    return str(v)


def format_table(header: list[str], rows: list[tuple]) -> str:
    cells = [header] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _exists(conn, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def print_summary(url: str, echo=print) -> None:
    with connect(url) as conn:
        counts = [(t, conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES if _exists(conn, t)]
        echo("\nRows in the warehouse")
        echo(format_table(["table", "rows"], counts))

        q = conn.execute(
            "SELECT source, reason_code, count(*) FROM audit.quarantine GROUP BY 1, 2 ORDER BY 1, 3 DESC"
        ).fetchall()
        echo("\nQuarantined records by reason")
        echo(format_table(["source", "reason", "rows"], q) if q else "(none)")

        runs = conn.execute(
            """SELECT source, status, count(*) FROM audit.load_run GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall()
        echo("\nTask runs recorded in audit.load_run")
        echo(format_table(["source", "status", "runs"], runs))

        if _exists(conn, "audit.dq_result"):
            dq = conn.execute(
                """SELECT severity, success, count(*) FROM audit.dq_result
                   WHERE checked_at >= (SELECT max(checked_at) - interval '1 hour' FROM audit.dq_result)
                   GROUP BY 1, 2 ORDER BY 1, 2"""
            ).fetchall()
            echo("\nQuality checks of the latest build")
            echo(format_table(["severity", "passed", "checks"], dq) if dq else "(none)")

        if _exists(conn, "mart.group_term"):
            term = conn.execute(
                """SELECT term FROM mart.group_term WHERE share_passed_mean IS NOT NULL
                   ORDER BY substr(term, 3)::int DESC, (substr(term, 1, 2) = 'HT') DESC LIMIT 1"""
            ).fetchone()
            if term:
                rows = conn.execute(
                    """SELECT programme, population, n_students, share_passed_mean, merit_value_mean,
                              eligible_vocational_share, absence_rate_mean, high_absence_share, improved_share,
                              suppressed
                       FROM mart.group_term
                       WHERE term = %s AND district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL'
                       ORDER BY programme = 'ALL' DESC, programme, population DESC""",
                    (term[0],),
                ).fetchall()
                echo(f"\nmart.group_term, {term[0]}, all districts, sexes and school years")
                echo(format_table(
                    ["programme", "population", "n", "share_passed", "merit", "eligible_yrkes",
                     "absence", "high_absence", "improved", "suppressed"],
                    rows,
                ))
