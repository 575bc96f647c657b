"""What the administrators' page shows, read from the warehouse's audit trail and the report store.

Read-only, and counts and reason codes only: never a key, a record reference, a file's content or a pupil.
Every query is a plain SELECT on ``audit.*`` (and the match-rate counts); the page works on a warehouse
that has never loaded anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from ..settings import Settings
from ..warehouse.connection import connect

RECENT_RUNS = 10  # quarantine counts cover the last this many load runs of each source


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value


@dataclass
class Status:
    loads: list[dict] = field(default_factory=list)
    gates: list[dict] = field(default_factory=list)
    match: dict = field(default_factory=dict)
    quarantine: list[dict] = field(default_factory=list)
    published: list[dict] = field(default_factory=list)
    last_report: dict | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


LOADS_SQL = """
WITH last_ok AS (
    SELECT DISTINCT ON (source, entity) source, entity, finished_at, rows_loaded, rows_quarantined
      FROM audit.load_run WHERE status = 'success' AND source NOT IN ('warehouse', 'quality', 'enrollment')
     ORDER BY source, entity, finished_at DESC NULLS LAST, run_id DESC
), last_any AS (
    SELECT DISTINCT ON (source, entity) source, entity, status, started_at
      FROM audit.load_run WHERE source NOT IN ('warehouse', 'quality', 'enrollment')
     ORDER BY source, entity, started_at DESC, run_id DESC
)
SELECT coalesce(o.source, w.source, a.source), coalesce(o.entity, w.entity, a.entity),
       o.finished_at, o.rows_loaded, o.rows_quarantined, w.watermark, a.status
  FROM last_ok o
  FULL JOIN audit.watermark w ON w.source = o.source AND w.entity = o.entity
  LEFT JOIN last_any a ON a.source = coalesce(o.source, w.source) AND a.entity = coalesce(o.entity, w.entity)
 ORDER BY 1, 2
"""

# The enrollment lists: one line for the intake as a whole (entity = file name would list every file).
ENROLLMENT_SQL = """
SELECT max(finished_at) FILTER (WHERE status = 'success'), count(*) FILTER (WHERE status = 'success'),
       count(*) FILTER (WHERE status = 'rejected'), sum(rows_loaded) FILTER (WHERE status = 'success')::bigint
  FROM audit.load_run WHERE source = 'enrollment'
"""

GATE_SQL = """
SELECT validation_id FROM audit.dq_result WHERE suite LIKE %s ORDER BY dq_result_id DESC LIMIT 1
"""
CHECKS_SQL = """
SELECT suite, table_name, expectation, severity, success, observed_value, unexpected_count, checked_at
  FROM audit.dq_result WHERE validation_id LIKE %s AND suite LIKE %s
 ORDER BY (success), (severity <> 'critical'), dq_result_id
"""

QUARANTINE_SQL = """
WITH recent AS (
    SELECT run_id, source FROM (
        SELECT run_id, source, row_number() OVER (PARTITION BY source ORDER BY started_at DESC, run_id DESC) AS k
          FROM audit.load_run WHERE rows_quarantined > 0 OR status = 'rejected') r
     WHERE k <= %s
)
SELECT q.source, q.reason_code, count(*), count(DISTINCT q.run_id), max(q.quarantined_at)
  FROM audit.quarantine q JOIN recent USING (run_id)
 GROUP BY q.source, q.reason_code ORDER BY q.source, count(*) DESC, q.reason_code
"""


def _loads(conn) -> list[dict]:
    out = [{"source": s, "entity": e, "last_success": _iso(f), "rows_loaded": n, "rows_quarantined": q,
            "watermark": w, "last_status": st} for s, e, f, n, q, w, st in conn.execute(LOADS_SQL).fetchall()]
    last, ok, rejected, rows = conn.execute(ENROLLMENT_SQL).fetchone()
    if ok or rejected:
        out.append({"source": "enrollment", "entity": f"lists ({ok} loaded, {rejected} rejected)",
                    "last_success": _iso(last), "rows_loaded": rows, "rows_quarantined": None,
                    "watermark": None, "last_status": None})
    return out


def _gates(conn) -> list[dict]:
    gates = []
    for gate, prefix in (("staging", "staging\\_%"), ("mart", "mart\\_%")):
        row = conn.execute(GATE_SQL, (prefix,)).fetchone()
        if row is None:
            gates.append({"gate": gate, "gate_id": None, "status": "unknown", "checks": []})
            continue
        gate_id = row[0].split(":", 1)[0]
        like = gate_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
        checks = [{"suite": s, "table": t, "check": e, "severity": sev, "success": ok, "observed": obs,
                   "unexpected": unx, "checked_at": _iso(at)}
                  for s, t, e, sev, ok, obs, unx, at in conn.execute(CHECKS_SQL, (like, prefix)).fetchall()]
        failed = any(not c["success"] and c["severity"] == "critical" for c in checks)
        gates.append({"gate": gate, "gate_id": gate_id, "status": "failed" if failed else "passed",
                      "checks": checks})
    # A failed gate first, so the check that stopped a build is the first row of the page's table.
    return sorted(gates, key=lambda g: g["status"] != "failed")


def _reports(status: Status, settings: Settings) -> None:
    from ..publication.store import ReportStore

    store = ReportStore.from_settings(settings)
    status.published = [{k: p.get(k) for k in ("term", "published_at", "build_id", "gate_status", "approved_by",
                                               "how", "earlier", "location")} for p in store.published_terms()]
    drafts = store.drafts()
    if drafts:
        d = drafts[-1]
        decision = d.get("decision") or {}
        state = {"approved": "approved and published", "rejected": "rejected"}.get(
            decision.get("decision"), "awaiting approval")
        status.last_report = {"term": d["term"], "draft_id": d["draft_id"], "created_at": d.get("created_at"),
                              "state": state, "decided_by": decision.get("by"), "decided_at": decision.get("at"),
                              "build_id": d.get("build_id"), "gate_status": d.get("gate_status"),
                              "location": d.get("location")}


def collect(warehouse_url: str | None, settings: Settings | None = None) -> Status:
    """Everything the page shows. A part that cannot be read is reported in ``errors`` (by kind, never
    with a connection string), and the other parts are still shown."""
    settings = settings or Settings.load()
    status = Status()
    if warehouse_url is None:
        status.errors.append("no warehouse configured (Connection skolsam_warehouse or SKOLSAM_WAREHOUSE_URL)")
    else:
        try:
            with connect(warehouse_url) as conn:
                status.loads = _loads(conn)
                status.gates = _gates(conn)
                status.quarantine = [{"source": s, "reason_code": r, "rows": n, "runs": k, "last": _iso(t)}
                                     for s, r, n, k, t in conn.execute(QUARANTINE_SQL, (RECENT_RUNS,)).fetchall()]
            from ..enrollment.match import match_rate

            m = match_rate(warehouse_url)
            status.match = {"enrolled": m.enrolled, "matched": m.matched, "rate": m.rate,
                            "threshold": settings.match_rate_min,
                            "ok": m.rate is None or m.rate >= settings.match_rate_min}
        except Exception as exc:  # a page that half works beats an error page for the one who is on call
            status.errors.append(f"warehouse could not be read: {type(exc).__name__}")
    try:
        _reports(status, settings)
    except Exception as exc:
        status.errors.append(f"report location could not be read: {type(exc).__name__}")
    return status
