"""The stand-in's request parameters: the spec's Error answer, parameter parsers, each list's filters."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Callable

import orjson
from starlette.responses import Response

from ..ss12000.schema import parse_timestamp

log = logging.getLogger(__name__)

BASE_PATH = "/v2.0"
DEFAULT_CLIENT_ID = "skolsam"
DEFAULT_CLIENT_SECRET = "skolsam"
FAULT_KINDS = ("429", "503", "500", "slow", "drop", "corrupt")
DEFAULT_FAULT_KINDS = ("429", "500", "drop", "slow")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_JSON = "application/json"


# --------------------------------------------------------------------------------------------------------
# Errors and parameters
# --------------------------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> Response:
        body = orjson.dumps({"code": self.code, "message": self.message})
        return Response(body, self.status, headers=self.headers, media_type=_JSON)


def _bad(message: str, code: str = "invalid_parameter") -> ApiError:
    return ApiError(400, code, message)


def _values(query, name: str) -> list[str]:
    """An array parameter: repeated (``a=1&a=2``, the spec's form/explode style) or comma-separated."""
    out: list[str] = []
    for v in query.getlist(name):
        out.extend(p for p in v.split(",") if p)
    return out


def _p_timestamp(query, name: str) -> int:
    v = parse_timestamp(query[name]) if "T" in query[name] else None
    if v is None:
        raise _bad(f"{name}: not an RFC 3339 date-time")
    return v


def _p_date(query, name: str) -> str:
    try:
        return dt.date.fromisoformat(query[name]).isoformat()
    except ValueError:
        raise _bad(f"{name}: not an RFC 3339 date") from None


def _p_uuid(query, name: str) -> str:
    v = query[name]
    if not _UUID.match(v):
        raise _bad(f"{name}: not a uuid")
    return v


def _p_uuids(query, name: str) -> list[str]:
    vs = _values(query, name)
    if not vs or not all(_UUID.match(v) for v in vs):
        raise _bad(f"{name}: not a list of uuids")
    return vs


def _p_strings(query, name: str) -> list[str]:
    vs = _values(query, name)
    if not vs:
        raise _bad(f"{name}: empty")
    return vs


def _p_string(query, name: str) -> str:
    return query[name]


_META_PARAMS: dict[str, tuple[str, Callable]] = {
    "meta.modified.after": ("modified_after", _p_timestamp),
    "meta.modified.before": ("modified_before", _p_timestamp),
    "meta.created.after": ("created_after", _p_timestamp),
    "meta.created.before": ("created_before", _p_timestamp),
}
LIST_PARAMS: dict[str, dict[str, tuple[str, Callable]]] = {
    "organisations": {
        **_META_PARAMS,
        "type": ("org_type", _p_strings),
        "schoolUnitCode": ("school_unit_code", _p_strings),
        "organisationCode": ("organisation_code", _p_strings),
        "municipalityCode": ("municipality_code", _p_string),
        "parent": ("parent", _p_uuids),
    },
    "persons": dict(_META_PARAMS),
    "syllabuses": dict(_META_PARAMS),
    "grades": {
        **_META_PARAMS,
        "student": ("student", _p_uuid),
        "organisation": ("organisation", _p_uuid),
        "registeredBy": ("registered_by", _p_uuid),
        "registeredDate.onOrAfter": ("registered_on_or_after", _p_date),
        "registeredDate.onOrBefore": ("registered_on_or_before", _p_date),
    },
}
