"""Where a term's figures came from: the published build, the quality gates it passed, the headline.

Read from the audit trail the build writes (``audit.load_run``: one ``warehouse``/``publish`` row per
publication, its build id as the watermark and ``terms=...`` in the message; ``audit.dq_result``: every
check of every gate) and from the aggregate rows of ``mart.group_term``. Counts and shares only: nothing
here reads a pupil-level table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from ..warehouse.connection import connect

# The suites of the two gates, by name prefix (expectations/<schema>_<table>.json).
GATE_PREFIXES = {"staging": "staging\\_%", "mart": "mart\\_%"}


@dataclass(frozen=True)
class GateStatus:
    gate: str                      # staging | mart
    status: str                    # passed | failed | unknown (no check recorded)
    gate_id: str | None = None
    checks: int = 0
    critical_failed: int = 0
    warnings_failed: int = 0
    checked_at: str | None = None

    def describe(self) -> str:
        if self.status == "unknown":
            return f"{self.gate} gate: no checks recorded"
        return (f"{self.gate} gate {self.status} ({self.checks} checks, {self.critical_failed} critical "
                f"failure(s), {self.warnings_failed} warning(s); gate {self.gate_id})")


@dataclass(frozen=True)
class Provenance:
    term: str
    build_id: str | None
    published_at: str | None
    gates: list[GateStatus] = field(default_factory=list)

    @property
    def gate_status(self) -> str:
        """passed only when every gate of the build passed; failed if one did; else unknown."""
        states = {g.status for g in self.gates}
        if "failed" in states:
            return "failed"
        if states == {"passed"}:
            return "passed"
        return "unknown"

    def as_dict(self) -> dict:
        return {"term": self.term, "build_id": self.build_id, "published_at": self.published_at,
                "gate_status": self.gate_status, "gates": [asdict(g) for g in self.gates]}

    def for_report(self) -> dict[str, str]:
        """What the report prints about its origin (handed to skolsam.report.build_report as data)."""
        return {
            "build_id": self.build_id or "okänt",
            "gate_status": {"passed": "godkänd", "failed": "underkänd"}.get(self.gate_status, "okänd"),
            "published_at": self.published_at or "okänt",
        }


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else None


def display_build_id(raw: str | None) -> str | None:
    """A build id (uuid4 hex) in the dashed UUID form: the same id, but never a 32-hex run that the privacy
    scanners (skolsam.quality.privacy) rightly treat as a possible key."""
    import uuid

    try:
        return str(uuid.UUID(raw)) if raw else raw
    except ValueError:
        return raw


def _terms_of(message: str | None) -> list[str]:
    for part in (message or "").split():
        if part.startswith("terms="):
            return [t for t in part[len("terms="):].split(",") if t and t != "-"]
    return []


def _gate(conn, gate: str, prefix: str, upto) -> GateStatus:
    # The latest validation of this gate's suites up to the publication (or ever, without one).
    row = conn.execute(
        "SELECT validation_id FROM audit.dq_result WHERE suite LIKE %s AND (%s::timestamptz IS NULL OR "
        "checked_at <= %s::timestamptz) ORDER BY dq_result_id DESC LIMIT 1",
        (prefix, upto, upto),
    ).fetchone()
    if row is None:
        return GateStatus(gate, "unknown")
    gate_id = row[0].split(":", 1)[0]
    like = gate_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
    n, critical, warnings, checked = conn.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE NOT success AND severity = 'critical'),
                  count(*) FILTER (WHERE NOT success AND severity = 'warning'),
                  max(checked_at)
             FROM audit.dq_result WHERE validation_id LIKE %s AND suite LIKE %s""",
        (like, prefix),
    ).fetchone()
    return GateStatus(gate, "failed" if critical else "passed", gate_id, n, critical, warnings, _iso(checked))


def term_provenance(warehouse_url: str, term: str) -> Provenance:
    """The latest successful publication that covered ``term`` and the gates validated before it."""
    with connect(warehouse_url) as conn:
        runs = conn.execute(
            """SELECT watermark, finished_at, message FROM audit.load_run
                WHERE source = 'warehouse' AND entity = 'publish' AND status = 'success'
                ORDER BY finished_at DESC NULLS LAST, run_id DESC LIMIT 200"""
        ).fetchall()
        build_id = published = None
        for watermark, finished, message in runs:
            if term in _terms_of(message):
                build_id, published = watermark, finished
                break
        gates = [_gate(conn, name, prefix, published) for name, prefix in GATE_PREFIXES.items()]
    return Provenance(term, display_build_id(build_id), _iso(published), gates)


HEADLINE_SQL = """
SELECT population, n_students, share_passed_mean, absence_rate_mean, suppressed
  FROM mart.group_term
 WHERE term = %s AND programme = 'ALL' AND district = 'ALL' AND sex = 'ALL' AND school_year = 'ALL'
"""


def _fmt(value, kind: str) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):.1%}" if kind == "share" else f"{int(value)}"


def headline(warehouse_url: str, term: str) -> list[str]:
    """The figures an approver looks at first: the city totals of both populations (suppressed stay hidden)."""
    with connect(warehouse_url) as conn:
        rows = {r[0]: r for r in conn.execute(HEADLINE_SQL, (term,)).fetchall()}
    lines = []
    for population in ("participants", "comparison"):
        row = rows.get(population)
        if row is None:
            lines.append(f"{population}: no total row for {term}")
        elif row[4]:
            lines.append(f"{population}: suppressed (too few pupils)")
        else:
            lines.append(f"{population}: {_fmt(row[1], 'n')} pupils, share of subjects passed "
                         f"{_fmt(row[2], 'share')}, absence rate {_fmt(row[3], 'share')}")
    return lines
