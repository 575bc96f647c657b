"""A dataset folder of SS 12000 files: which files it holds, how their objects are read, what the index keeps
of each object besides its raw text (see :mod:`.index`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from ..errors import DeterministicError
from ..ss12000.schema import parse_timestamp
from . import lines

log = logging.getLogger(__name__)

INDEX_VERSION = "8"  # 8: term windows summed at build time (att_window)
INDEX_DIR_ENV = "SKOLSAM_SS12000_INDEX_DIR"
SUBDIR = "ss12000"

OBJECT_ENTITIES = ("organisations", "persons", "syllabuses", "grades")
SOURCE_ENTITIES = (*OBJECT_ENTITIES, "aggregatedAttendance", "deletedEntities")

# /deletedEntities: `entities` takes EndPointsEnum values; the answer is keyed by these names
# (``activitites`` is the spec's own spelling).
DELETED_KEYS = {
    "Absence": "absences", "AttendanceEvent": "attendanceEvents", "Attendance": "attendances",
    "Grade": "grades", "CalendarEvent": "calendarEvents", "AttendanceSchedule": "attendanceSchedules",
    "Resource": "resources", "Room": "rooms", "Activity": "activitites", "Duty": "duties",
    "Placement": "placements", "StudyPlan": "studyPlans", "Programme": "programmes", "Syllabus": "syllabuses",
    "SchoolUnitOffering": "schoolUnitOfferings", "Group": "groups", "Person": "persons",
    "Organisation": "organisations",
}
_DELETED_KEY_SET = set(DELETED_KEYS.values()) | {"activities"}


class DatasetError(DeterministicError, ValueError):
    """The dataset folder cannot be served (missing folder, a line that is not JSON, ...)."""


def normalise_deleted_entity(name: Any) -> str | None:
    """'Grade' or 'grades' -> 'grades'; None if it names no known entity."""
    if not isinstance(name, str):
        return None
    if name in DELETED_KEYS:
        return DELETED_KEYS[name]
    if name == "activities":
        return "activitites"
    return name if name in _DELETED_KEY_SET else None


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        v = value.get("id")
        return v if isinstance(v, str) else None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# Extra columns per object entity: (column, value of an object).
EXTRA_COLUMNS: dict[str, list[tuple[str, Callable[[dict], Any]]]] = {
    "organisations": [
        ("org_type", lambda o: _text(o.get("organisationType"))),
        ("school_unit_code", lambda o: _text(o.get("schoolUnitCode"))),
        ("organisation_code", lambda o: _text(o.get("organisationCode"))),
        ("municipality_code", lambda o: _text(o.get("municipalityCode"))),
        ("parent", lambda o: _ref(o.get("parentOrganisation"))),
    ],
    "persons": [],
    "syllabuses": [],
    "grades": [
        ("student", lambda o: _ref(o.get("student"))),
        # The spec's Grade names the school unit `organisation` but requires `schoolUnit` (2.1.0 slip).
        ("organisation", lambda o: _ref(o.get("organisation")) or _ref(o.get("schoolUnit"))),
        ("registered_by", lambda o: _ref(o.get("registeredBy"))),
        ("registered_date", lambda o: _text(o.get("registeredDate"))),
    ],
}


def default_index_dir() -> Path:
    """``SKOLSAM_SS12000_INDEX_DIR``, else ``$SKOLSAM_HOME/cache/ss12000-index`` (``make clean`` removes it)."""
    env = os.environ.get(INDEX_DIR_ENV)
    if env:
        return Path(env)
    from ..settings import project_home

    return project_home() / "cache" / "ss12000-index"


SOURCES_DIR = "sources"
ONE_SOURCE_ID = "stockholm"  # the source id of a one-system dataset (config/sources.yaml's first)


def dataset_sources(dataset: Path) -> dict[str, Path]:
    """Source id -> the folder one stand-in serves for it (DESIGN 3.1.1): ``DATASET/sources/<id>/`` for each
    such folder holding ``ss12000/`` (in the order of the manifest's ``sources``, else by name), else the one
    source ``DATASET`` itself as ``stockholm``."""
    dataset = Path(dataset)
    root = dataset / SOURCES_DIR
    found = {d.name: d for d in sorted(root.iterdir()) if (d / SUBDIR).is_dir()} if root.is_dir() else {}
    if not found:
        if not (dataset / SUBDIR).is_dir():
            raise DatasetError(f"{dataset} is not a dataset folder (no {SUBDIR}/ nor {SOURCES_DIR}/<id>/{SUBDIR}/)")
        return {ONE_SOURCE_ID: dataset}
    try:
        listed = orjson.loads((dataset / "manifest.json").read_bytes()).get("sources") or []
    except (OSError, orjson.JSONDecodeError):
        listed = []
    order = [sid for sid in listed if sid in found] + [sid for sid in found if sid not in listed]
    return {sid: found[sid] for sid in order}


def source_files(dataset: Path) -> dict[str, Path | None]:
    """The file serving each entity: ``<entity>.jsonl``, else ``<entity>.json``, else None."""
    folder = Path(dataset) / SUBDIR
    out: dict[str, Path | None] = {}
    for entity in SOURCE_ENTITIES:
        found = None
        for suffix in (".jsonl", ".json"):
            p = folder / f"{entity}{suffix}"
            if p.is_file():
                found = p
                break
        out[entity] = found
    return out


def source_state(dataset: Path) -> tuple:
    """What the index depends on: every source file's name, size and mtime (ns)."""
    state = []
    for entity, path in source_files(dataset).items():
        if path is None:
            state.append((entity, None, 0, 0))
        else:
            st = path.stat()
            state.append((entity, path.name, st.st_size, st.st_mtime_ns))
    return tuple(state)


# --------------------------------------------------------------------------------------------------------
# Reading the dataset files
# --------------------------------------------------------------------------------------------------------
def iter_source(path: Path) -> Iterator[tuple[bytes, Any]]:
    """(raw JSON text, parsed object) for every object of a .jsonl or {"data": [...]} .json file."""
    loads = orjson.loads
    if path.suffix == ".jsonl":
        with open(path, "rb", buffering=1 << 20) as fh:
            for lineno, line in enumerate(fh, 1):
                raw = line.strip()
                if not raw:
                    continue
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError:
                    raise DatasetError(f"{path.name} line {lineno} is not JSON") from None
                yield raw, obj
        return
    try:
        doc = loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise DatasetError(f"{path.name} is not JSON") from None
    items = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise DatasetError(f"{path.name} holds no data array")
    dumps = orjson.dumps
    for obj in items:
        yield dumps(obj), obj


def _object_rows(entity: str, path: Path) -> Iterator[tuple]:
    if entity == "grades" and path.suffix == ".jsonl":
        yield from _grade_lines(path, lines.GRADE_LINE_DECODER, lines.DECODE_ERRORS)
        return
    extra = [f for _, f in EXTRA_COLUMNS[entity]]
    n = 0
    for raw, obj in iter_source(path):
        n += 1
        yield _object_row(path, n, raw, obj, extra)


def _object_row(path: Path, n: int, raw: bytes, obj: Any, extra: list) -> tuple:
    if not isinstance(obj, dict):
        raise DatasetError(f"{path.name}: object {n} is not a JSON object")
    meta = obj.get("meta")
    if isinstance(meta, dict):
        modified = parse_timestamp(meta.get("modified"))
        created = parse_timestamp(meta.get("created"))
    else:
        modified = created = None
    oid = obj.get("id")
    return (oid if isinstance(oid, str) else None, modified or 0, created or 0, raw, *[f(obj) for f in extra])


def _grade_lines(path: Path, decoder: Any, errors: tuple) -> Iterator[tuple]:
    """Grade lines decoded into a small struct (lines.GradeLine) rather than dicts; timestamps, which
    repeat a lot (grades are registered at whole minutes), parsed once each."""
    extra = [f for _, f in EXTRA_COLUMNS["grades"]]
    stamps: dict[Any, int | None] = {}

    def stamp(v: Any) -> int:
        got = stamps.get(v, -1)
        if got == -1:
            got = parse_timestamp(v)
            if len(stamps) < 200_000:
                stamps[v] = got
        return got or 0

    decode = decoder.decode
    n = 0
    with open(path, "rb", buffering=1 << 20) as fh:
        for lineno, line in enumerate(fh, 1):
            raw = line.strip()
            if not raw:
                continue
            n += 1
            try:
                g = decode(raw)
            except errors:
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise DatasetError(f"{path.name} line {lineno} is not JSON") from None
                yield _object_row(path, n, raw, obj, extra)
                continue
            meta = g.meta
            org = g.organisation if g.organisation is not None else g.schoolUnit
            yield (g.id, stamp(meta.modified) if meta else 0, stamp(meta.created) if meta else 0, raw,
                   g.student.id if g.student else None, org.id if org else None,
                   g.registeredBy.id if g.registeredBy else None, g.registeredDate)
