"""The SS 12000 sources (school systems) from ``config/sources.yaml``, overridable by the Airflow Variable
``skolsam_sources`` (DESIGN 3.1.1). Light to import: the extract DAG reads it when it is parsed.

The file is found at ``SKOLSAM_SOURCES_FILE``, else ``config/sources.yaml`` of the project; the override is
the Variable as Airflow exposes it to the environment (``AIRFLOW_VAR_SKOLSAM_SOURCES``) or
``SKOLSAM_SOURCES``: the same structure, as JSON or YAML text (reading the Variable from the metadata
database when a DAG file is parsed would cost every parse a query).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import terms as terms_mod

ENTITIES = ("organisations", "syllabuses", "persons", "grades", "deletedEntities", "aggregatedAttendance")
_SLUG = re.compile(r"[a-z][a-z0-9_]{0,39}").fullmatch
_FIELDS = {"id", "conn_id", "entities", "page_size", "pool", "history_start", "time_zone", "resend_params"}


class SourcesError(ValueError):
    """The sources configuration is wrong (the message says where)."""


@dataclass(frozen=True)
class Source:
    id: str
    conn_id: str
    entities: tuple[str, ...] = ENTITIES
    page_size: int | None = None
    pool: str | None = None
    history_start: str | None = None
    time_zone: str | None = None
    resend_params: str | None = None


def extract_dag_id(source: Source, sources: list[Source]) -> str:
    """The extract DAG of a source: the first source keeps ``skolsam_extract_education``, the others
    ``skolsam_extract_education__<id>``."""
    return "skolsam_extract_education" if source == sources[0] else f"skolsam_extract_education__{source.id}"


def default_path() -> Path:
    env = os.environ.get("SKOLSAM_SOURCES_FILE")
    if env:
        return Path(env)
    # src/skolsam/ss12000/sources.py -> project root / config / sources.yaml
    return Path(__file__).resolve().parents[3] / "config" / "sources.yaml"


def load_sources(path: Path | None = None, override: str | None = None) -> list[Source]:
    """The configured sources, validated. ``override`` (else the Variable from the environment) replaces the
    file's list entirely."""
    if override is None:
        override = os.environ.get("AIRFLOW_VAR_SKOLSAM_SOURCES") or os.environ.get("SKOLSAM_SOURCES") or None
    where = "Variable skolsam_sources" if override else str(path or default_path())
    try:
        doc = yaml.safe_load(override) if override else yaml.safe_load((path or default_path()).read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesError(f"{where}: cannot be read ({type(exc).__name__})") from None
    items = doc.get("sources") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise SourcesError(f"{where}: expected a non-empty list under `sources`")
    out = [_source(item, n, where) for n, item in enumerate(items, 1)]
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        raise SourcesError(f"{where}: source ids must be unique")
    return out


def _source(item: Any, n: int, where: str) -> Source:
    at = f"{where}: source {n}"
    if not isinstance(item, dict):
        raise SourcesError(f"{at}: not a mapping")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise SourcesError(f"{at}: unknown field {unknown[0]}")
    sid, conn_id = item.get("id"), item.get("conn_id")
    if not isinstance(sid, str) or not _SLUG(sid):
        raise SourcesError(f"{at}: id must be a slug (lower-case letters, digits, _)")
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise SourcesError(f"{at} ({sid}): conn_id is required")
    entities = item.get("entities") or ENTITIES
    if not isinstance(entities, list | tuple) or not set(entities) <= set(ENTITIES):
        raise SourcesError(f"{at} ({sid}): entities must be among {', '.join(ENTITIES)}")
    page_size = item.get("page_size")
    if page_size is not None and (type(page_size) is not int or page_size < 1):
        raise SourcesError(f"{at} ({sid}): page_size must be a positive integer")
    history = item.get("history_start")
    if history is not None:
        try:
            history = terms_mod.parse_term(str(history)).name
        except ValueError:
            raise SourcesError(f"{at} ({sid}): history_start is not a term name (HT2025, VT2026)") from None
    zone = item.get("time_zone")
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise SourcesError(f"{at} ({sid}): unknown time_zone") from None
    pool, resend = item.get("pool"), item.get("resend_params")
    return Source(sid, conn_id.strip(), tuple(e for e in ENTITIES if e in set(entities)), page_size,
                  str(pool) if pool else None, history, str(zone) if zone else None,
                  str(resend) if resend is not None else None)
