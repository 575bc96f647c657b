"""The inputs a report was drawn from, kept beside its draft so the published copy is the same report.

An approved draft is rendered again with status "Slutlig" and the sign-off date (skolsam.publication.signoff):
from this snapshot, not from whatever the warehouse holds at approval time (an extract that ran meanwhile
changes the quality section; a rebuild, the figures). JSON, not pickle: the draft folder may sit on a shared
store, and reading it must never run code. Values keep their types (dates, timestamps, decimals tagged) so
the second rendering formats every figure exactly as the first.

Aggregates only, as the report itself: pupil figures of a group the report does not show (suppressed, or
absent from group_term) are left out, since the report never prints them (ReportModel.pupil_value).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
from typing import Any

from .data import GroupRow, GroupTerm, PupilFigures, Quality, ReportInputs

FORMAT = 1


def _tag(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (key, raw), = value.items()
            if key == "$datetime":
                return dt.datetime.fromisoformat(raw)
            if key == "$date":
                return dt.date.fromisoformat(raw)
            if key == "$decimal":
                return decimal.Decimal(raw)
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _shown(inputs: ReportInputs, key: tuple[str, str, str, str]) -> bool:
    term, population, programme, year = key
    row = inputs.group_term.get(term, population, programme, school_year=year)
    return row is not None and not row.suppressed


def dump(inputs: ReportInputs) -> bytes:
    data = {
        "format": FORMAT,
        "group_term": [dataclasses.asdict(r) for r in inputs.group_term.rows.values()],
        "pupil": [[list(k), v] for k, v in inputs.pupil.rows.items() if _shown(inputs, k)],
        "quality": dataclasses.asdict(inputs.quality),
        "effects": inputs.effects,
        "target": inputs.target,
        "unread_windows": inputs.unread_windows,
    }
    return json.dumps(_tag(data), ensure_ascii=False, sort_keys=True).encode("utf-8")


def load(raw: bytes) -> ReportInputs:
    data = _untag(json.loads(raw.decode("utf-8")))
    if data.get("format") != FORMAT:
        raise ValueError(f"report snapshot format {data.get('format')!r} is not {FORMAT}")
    group = GroupTerm()
    for r in data["group_term"]:
        row = GroupRow(**r)
        group.rows[(row.term, row.population, row.programme, row.district, row.sex, row.school_year)] = row
    pupil = PupilFigures({tuple(k): v for k, v in data["pupil"]})
    return ReportInputs(group_term=group, pupil=pupil, quality=Quality(**data["quality"]),
                        effects=data["effects"], target=data["target"], unread_windows=data["unread_windows"])
