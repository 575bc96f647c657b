"""Check results: what one expectation's outcome is recorded as, and audit.dq_result in and out.

A gate run has an id (``gate_id``, time-ordered); each suite it validates gets ``validation_id`` =
``<gate_id>:<suite>``. The latest gate run is the one that wrote the newest audit.dq_result row.
Nothing here imports Great Expectations, so ``skolsam dq`` stays quick.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from ..warehouse.connection import connect
from . import privacy

OBSERVED_MAX = 300
_VALUES_SHOWN = 5


@dataclass(frozen=True)
class CheckResult:
    suite: str
    table_name: str          # schema.table as validated
    check: str
    expectation: str         # "check: type(columns)"
    severity: str            # critical | warning
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    validation_id: str

    @property
    def failed_critical(self) -> bool:
        return not self.success and self.severity == "critical"

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.suite} ({self.table_name}) {self.expectation}: observed {self.observed_value or '-'}"


def new_gate_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


def validation_id(gate_id: str, suite: str) -> str:
    return f"{gate_id}:{suite}"


# ---------------------------------------------------------------------------------------------------------
# Observed values: short, readable, never a key or a personnummer
# ---------------------------------------------------------------------------------------------------------
def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    return str(value)


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + ")"
    if isinstance(value, str):
        return repr(value)
    return _number(value)


def exception_message(exception_info: Any) -> str | None:
    """The first exception message in GX's exception_info (flat, or keyed by metric)."""
    if not isinstance(exception_info, dict):
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            msg = str(info.get("exception_message") or "error").strip().splitlines()
            return msg[0] if msg else "error"
    return None


def observed(expectation_type: str, result: dict, exception_info: Any, *, key_like: bool) -> str:
    """What a check saw, in words: counts always; values only for columns that are not key-like."""
    error = exception_message(exception_info)
    if error is not None:
        text = f"error: {error}"
    elif expectation_type == "unexpected_rows_expectation":
        n = result.get("observed_value")
        text = f"{n} unexpected row{'s' if n != 1 else ''}" if n is not None else "no result"
    elif "unexpected_count" in result and "element_count" in result:
        n, total = result.get("unexpected_count") or 0, result.get("element_count") or 0
        pct = result.get("unexpected_percent")
        text = f"{n} of {total} rows unexpected"
        if n and pct is not None:
            text += f" ({pct:.2f}%)"
        counts = result.get("partial_unexpected_counts") or []
        if n and counts and not key_like:
            shown = ", ".join(f"{_value(c.get('value'))} x{c.get('count')}" for c in counts[:_VALUES_SHOWN])
            text += f"; values: {shown}"
    elif "observed_value" in result:
        value = result["observed_value"]
        if key_like and not isinstance(value, (int, float)):
            text = "withheld (key-like column)"
        elif expectation_type.startswith("expect_table_row_count"):
            text = f"{_number(value)} rows"
        elif isinstance(value, (list, tuple, set)):
            items = sorted(map(str, value))
            text = "[" + ", ".join(items[:20]) + (", ..." if len(items) > 20 else "") + "]"
        else:
            text = _value(value) if not isinstance(value, str) else value
    else:
        text = "no result"
    text = privacy.scrub(text)
    return text if len(text) <= OBSERVED_MAX else text[: OBSERVED_MAX - 3] + "..."


def unexpected_count(expectation_type: str, result: dict) -> int | None:
    if expectation_type == "unexpected_rows_expectation":
        n = result.get("observed_value")
        return n if isinstance(n, int) else None
    n = result.get("unexpected_count")
    return n if isinstance(n, int) else None


# ---------------------------------------------------------------------------------------------------------
# audit.dq_result
# ---------------------------------------------------------------------------------------------------------
def write(url: str, checks: Iterable[CheckResult], run_id: int | None) -> int:
    rows = [(run_id, c.validation_id, c.suite, c.table_name, c.expectation, c.severity, c.success,
             c.observed_value, c.unexpected_count) for c in checks]
    if not rows:
        return 0
    with connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO audit.dq_result (run_id, validation_id, suite, table_name, expectation, severity,
                                            success, observed_value, unexpected_count)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
    return len(rows)


@dataclass(frozen=True)
class StoredCheck:
    run_id: int | None
    validation_id: str
    suite: str
    table_name: str
    expectation: str
    severity: str
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    checked_at: dt.datetime


def latest(url: str, suite: str | None = None) -> list[StoredCheck]:
    """The checks of the latest gate run (that validated ``suite``, if given), in recorded order."""
    cols = ("run_id, validation_id, suite, table_name, expectation, severity, success, observed_value, "
            "unexpected_count, checked_at")
    with connect(url) as conn:
        if suite:
            row = conn.execute(
                "SELECT validation_id FROM audit.dq_result WHERE suite = %s ORDER BY dq_result_id DESC LIMIT 1",
                (suite,),
            ).fetchone()
            if not row:
                return []
            rows = conn.execute(
                f"SELECT {cols} FROM audit.dq_result WHERE validation_id = %s ORDER BY dq_result_id", (row[0],)
            ).fetchall()
        else:
            row = conn.execute(
                "SELECT validation_id FROM audit.dq_result ORDER BY dq_result_id DESC LIMIT 1"
            ).fetchone()
            if not row:
                return []
            gate_id = row[0].split(":", 1)[0]
            rows = conn.execute(
                f"SELECT {cols} FROM audit.dq_result WHERE validation_id LIKE %s ORDER BY dq_result_id",
                (gate_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%",),
            ).fetchall()
    return [StoredCheck(*r) for r in rows]
