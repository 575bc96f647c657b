"""skolsam dq --latest [--suite NAME] [--failed-only] [--warehouse-url URL]"""

from __future__ import annotations

import argparse

NAME = "dq"
HELP = "Show the checks of the latest quality gate run (audit.dq_result), failing ones first."

_STATUS_ORDER = {("critical", False): 0, ("warning", False): 1, ("critical", True): 2, ("warning", True): 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latest", action="store_true",
                   help="the latest gate run (the default; the only view so far)")
    p.add_argument("--suite", help="the latest validation of this suite instead (e.g. staging_ss12000_grade)")
    p.add_argument("--failed-only", action="store_true", help="leave out the checks that passed")
    p.add_argument("--warehouse-url", help="PostgreSQL URL; default: SKOLSAM_WAREHOUSE_URL or the embedded warehouse")


def run(args: argparse.Namespace) -> int:
    """Exit code 1 if the validation shown has a failed critical check, else 0."""
    from ..quality import docs, results
    from ..warehouse import connection

    url = connection.resolve_url(args.warehouse_url)
    checks = results.latest(url, suite=args.suite)
    if not checks:
        print("no quality checks recorded yet" + (f" for suite {args.suite}" if args.suite else ""))
        return 0

    gate_id = checks[0].validation_id.split(":", 1)[0]
    failed_critical = [c for c in checks if c.severity == "critical" and not c.success]
    failed_warning = [c for c in checks if c.severity == "warning" and not c.success]
    checked = max(c.checked_at for c in checks)
    run_ids = sorted({c.run_id for c in checks if c.run_id is not None})
    verdict = "FAILED" if failed_critical else "passed"
    print(f"Quality gate {gate_id}" + (f" (run {', '.join(map(str, run_ids))})" if run_ids else "")
          + f", checked {checked:%Y-%m-%d %H:%M:%S %Z}: {verdict}: {len(checks)} checks, "
          f"{len(failed_critical)} critical failure(s), {len(failed_warning)} warning(s)")

    by_table: dict[tuple[str, str], list] = {}
    for c in checks:
        by_table.setdefault((c.table_name, c.suite), []).append(c)

    def table_rank(item):
        rows = item[1]
        return (min(_STATUS_ORDER[(c.severity, c.success)] for c in rows), item[0])

    for (table, suite), rows in sorted(by_table.items(), key=table_rank):
        rows = sorted(rows, key=lambda c: _STATUS_ORDER[(c.severity, c.success)])   # stable: suite order kept
        shown = [c for c in rows if not (args.failed_only and c.success)]
        bad = sum(1 for c in rows if not c.success)
        print(f"\n{table}  (suite {suite}; {len(rows)} checks, {bad} failed)")
        if not shown:
            print("  all checks passed")
            continue
        width = max(len(c.expectation) for c in shown)
        for c in shown:
            status = "ok  " if c.success else ("FAIL" if c.severity == "critical" else "WARN")
            print(f"  {status}  {c.severity:<8}  {c.expectation:<{width}}  {c.observed_value or '-'}")

    index = docs.default_dir() / "index.html"
    if index.exists():
        print(f"\nData Docs: {index}")
    return 1 if failed_critical else 0
