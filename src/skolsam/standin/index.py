"""A dataset folder's SS 12000 files indexed into SQLite, so the stand-in server answers any page in time
that does not grow with the size of the dataset.

Each object is stored as its raw JSON text (the line of a ``.jsonl`` file, or the compact form of an item
of a ``{"data": [...]}`` file) next to the keys the server filters and sorts on: ``meta.modified`` and
``meta.created`` as UTC microseconds, references, codes. Pages are read with keyset conditions on an index
and the raw texts are joined into the answer without being parsed again.

Aggregated attendance is kept as numbers: one row per dataset record, keyed by (half year of startDate,
student number, activity number, startDate, endDate) in a WITHOUT ROWID table, so "sum the records inside
a term window, per student and activity, from this key on" is one ordered GROUP BY over one half year that
stops after a page of groups. (A window spanning half years is answered too, with a sort per page.) The
term calendar's windows are summed once when the index is built (``att_window``), so the usual request, a
whole term, reads ready answers in key order.

The index file lives in ``index_dir`` (default ``$SKOLSAM_HOME/cache/ss12000-index``, or
``SKOLSAM_SS12000_INDEX_DIR``), named after the dataset path and the name, size and mtime of every source
file; it is built once into a temporary file and renamed into place, then reused by later servers. A
running server re-checks the source files' size and mtime before each request (``DatasetIndex.ensure``) and
re-indexes when they changed, so a test that edits the dataset sees the edit on its next request;
``DatasetIndex.reload()`` forces a rebuild.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from ..ss12000.schema import parse_timestamp
from . import lines
from .dataset import (  # noqa: F401 (the dataset names the server imports from here)
    DELETED_KEYS, INDEX_VERSION, OBJECT_ENTITIES, SOURCE_ENTITIES, DatasetError, default_index_dir, iter_source,
    normalise_deleted_entity, source_files, source_state, EXTRA_COLUMNS, SUBDIR, _object_rows, _ref,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------------
def build_index(dataset: Path, target: Path) -> dict[str, int]:
    """Index the dataset into a new SQLite file at ``target``. Returns the record count per entity."""
    # Millions of parsed objects, none in a reference cycle: the cyclic collector would only slow this down.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_index(dataset, target)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build_index(dataset: Path, target: Path) -> dict[str, int]:
    files = source_files(dataset)
    conn = new_index(target)
    counts: dict[str, int] = {}
    try:
        _build_objects(conn, files, counts)
        counts["aggregatedAttendance"] = _build_attendance(conn, files["aggregatedAttendance"])
        counts["deletedEntities"] = _build_deleted(conn, files["deletedEntities"])
        finish_index(conn, counts)
    finally:
        conn.close()
    return counts


def new_index(target: Path) -> sqlite3.Connection:
    """A new, empty index file at ``target``, its transaction open (:func:`finish_index` commits it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.executescript(
        """PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;
           PRAGMA temp_store=FILE; PRAGMA cache_size=-262144;"""
    )
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return conn


def finish_index(conn: sqlite3.Connection, counts: dict[str, int]) -> None:
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("version", INDEX_VERSION), ("counts", orjson.dumps(counts).decode())],
    )
    conn.execute("COMMIT")


def _build_objects(conn: sqlite3.Connection, files: dict[str, Path | None], counts: dict[str, int]) -> None:
    """The object entities' tables (raw text and keys), one per entity of OBJECT_ENTITIES."""
    for entity in OBJECT_ENTITIES:
        cols = [c for c, _ in EXTRA_COLUMNS[entity]]
        coldefs = "".join(f", {c} TEXT" for c in cols)
        conn.execute(
            f"CREATE TABLE {entity} (seq INTEGER PRIMARY KEY, id TEXT, modified INTEGER NOT NULL, "
            f"created INTEGER NOT NULL, raw BLOB NOT NULL{coldefs}, line INTEGER)"
        )
        path = files[entity]
        if path is not None:
            # Loaded in file order (rowid = line order), then copied in (modified, line) order so that a
            # page is read from consecutive table pages.
            load = f"load_{entity}"
            allcols = f"id, modified, created, raw{''.join(', ' + c for c in cols)}"
            conn.execute(f"CREATE TEMP TABLE {load} ({allcols})")
            marks = ", ".join("?" * (4 + len(cols)))
            conn.executemany(f"INSERT INTO {load} ({allcols}) VALUES ({marks})", _object_rows(entity, path))
            conn.execute(f"INSERT INTO {entity} ({allcols}, line) SELECT {allcols}, rowid FROM {load} "
                         f"ORDER BY modified, rowid")
            conn.execute(f"DROP TABLE {load}")
        conn.execute(f"CREATE INDEX {entity}_id ON {entity} (id, line)")
        # The same id twice in a file: the later line wins.
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {entity} WHERE id IS NOT NULL GROUP BY id "
                        f"HAVING count(*) > 1)").fetchone()[0]:
            conn.execute(f"DELETE FROM {entity} WHERE id IS NOT NULL AND EXISTS "
                         f"(SELECT 1 FROM {entity} b WHERE b.id = {entity}.id AND b.line > {entity}.line)")
        conn.execute(f"CREATE INDEX {entity}_modified ON {entity} (modified, seq)")
        counts[entity] = conn.execute(f"SELECT count(*) FROM {entity}").fetchone()[0]


def half_year(day: str) -> int:
    """The half year a date (ISO text) falls in: year * 2, plus 1 from July. A term window (HT from August,
    VT until June) lies in one half year, so its records are one contiguous range of the attendance key."""
    try:
        return int(day[:4]) * 2 + (1 if day[5:7] >= "07" else 0)
    except ValueError:
        return 0


_ATTENDANCE_KEYS = ("offeredSum", "attendanceSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum",
                   "reportedSum")



def _build_attendance(conn: sqlite3.Connection, path: Path | None) -> int:
    # id: the source id; json: the same as a JSON string (quoted, escaped), ready to be written out.
    conn.execute("CREATE TABLE att_student (s INTEGER PRIMARY KEY, id TEXT NOT NULL, json TEXT NOT NULL)")
    conn.execute("CREATE TABLE att_activity (a INTEGER PRIMARY KEY, id TEXT NOT NULL, json TEXT NOT NULL)")
    conn.execute(
        """CREATE TABLE att (half INTEGER NOT NULL, s INTEGER NOT NULL, a INTEGER NOT NULL, start TEXT NOT NULL,
                             "end" TEXT NOT NULL, seq INTEGER NOT NULL, offered INTEGER, attended INTEGER,
                             valid INTEGER, invalid INTEGER, other INTEGER, reported INTEGER,
                             PRIMARY KEY (half, s, a, start, "end", seq)) WITHOUT ROWID"""
    )
    if path is None:
        return 0
    students: dict[str, int] = {}
    activities: dict[str, int] = {}

    halves: dict[str, int] = {}

    def num(v: Any) -> int | None:
        return v if type(v) is int else None

    def row(seq: int, sid: Any, aid: Any, start: Any, end: Any, sums: tuple) -> tuple | None:
        if type(sid) is not str or type(aid) is not str or type(start) is not str or type(end) is not str:
            return None  # cannot be summed per student and activity inside a window
        s = students.get(sid)
        if s is None:
            s = students[sid] = len(students) + 1
        a = activities.get(aid)
        if a is None:
            a = activities[aid] = len(activities) + 1
        half = halves.get(start)
        if half is None:
            half = halves[start] = half_year(start)
        return (half, s, a, start, end, seq, *sums)

    def rows_from_dicts() -> Iterator[tuple]:
        seq = 0
        for _raw, o in iter_source(path):
            seq += 1
            if not isinstance(o, dict):
                raise DatasetError(f"{path.name}: record {seq} is not a JSON object")
            r = row(seq, _ref(o.get("student")), _ref(o.get("activity")), o.get("startDate"), o.get("endDate"),
                    tuple(num(o.get(k)) for k in _ATTENDANCE_KEYS))
            if r is not None:
                yield r

    def rows_from_lines() -> Iterator[tuple]:
        # The common case (.jsonl): each line decoded straight into a small struct (lines.AttendanceLine);
        # a line that does not fit it is read as a dict.
        decode = lines.ATTENDANCE_LINE_DECODER.decode
        errors = lines.DECODE_ERRORS
        seq = 0
        with open(path, "rb", buffering=1 << 20) as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                seq += 1
                try:
                    o = decode(line)
                    r = row(seq, o.student.id if o.student else None, o.activity.id if o.activity else None,
                            o.startDate, o.endDate, (o.offeredSum, o.attendanceSum, o.validAbsenceSum,
                                                     o.invalidAbsenceSum, o.otherAttendanceSum, o.reportedSum))
                except errors:
                    try:
                        d = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise DatasetError(f"{path.name} line {lineno} is not JSON") from None
                    if not isinstance(d, dict):
                        raise DatasetError(f"{path.name}: record {seq} is not a JSON object") from None
                    r = row(seq, _ref(d.get("student")), _ref(d.get("activity")), d.get("startDate"),
                            d.get("endDate"), tuple(num(d.get(k)) for k in _ATTENDANCE_KEYS))
                if r is not None:
                    yield r

    rows = rows_from_lines if path.suffix == ".jsonl" else rows_from_dicts
    conn.executemany("INSERT INTO att VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows())
    dumps = orjson.dumps
    conn.executemany("INSERT INTO att_student VALUES (?, ?, ?)",
                     ((n, i, dumps(i).decode()) for i, n in students.items()))
    conn.executemany("INSERT INTO att_activity VALUES (?, ?, ?)",
                     ((n, i, dumps(i).decode()) for i, n in activities.items()))
    n, lo, hi = conn.execute('SELECT count(*), min(start), max("end") FROM att').fetchone()
    if n:
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [("att_min_start", lo), ("att_max_end", hi)])
    _build_term_windows(conn, lo, hi)
    return n


def _build_term_windows(conn: sqlite3.Connection, lo: str | None, hi: str | None) -> None:
    """The answers for the term calendar's windows, summed once here, outside any request.

    A client reads /aggregatedAttendance per term window of the city's calendar (skolsam.terms); summing
    the records of a window per student and activity on every page made the server, not the client, the
    slower half of the attendance extract (issue 15: py-spy on the stand-in during the bench, 44 % of its
    samples in that GROUP BY). Each window of the calendar that lies in one half year and overlaps the
    records is summed with the same query a request runs (:func:`_window_sums_sql`) into ``att_window``;
    a request for exactly such a window without a student filter reads its rows in key order. Any other
    window is summed per page as before, so the answers are the same either way."""
    from .. import terms as terms_mod

    conn.execute("""CREATE TABLE att_window (ws TEXT NOT NULL, we TEXT NOT NULL, s INTEGER NOT NULL,
                                             a INTEGER NOT NULL, json TEXT NOT NULL,
                                             PRIMARY KEY (ws, we, s, a)) WITHOUT ROWID""")
    if lo is None or hi is None:
        return
    for term in terms_mod.load_calendar():
        ws, we = term.start.isoformat(), term.end.isoformat()
        if we < lo or ws > hi or half_year(ws) != half_year(we):
            continue
        sql, args = _window_sums_sql(ws, we, ["half = :h0", "start >= :ws", '"end" <= :we'], None)
        conn.execute(f"INSERT INTO att_window (ws, we, s, a, json) SELECT :ws, :we, x.* FROM ({sql}) x", args)


def _build_deleted(conn: sqlite3.Connection, path: Path | None) -> int:
    conn.execute(
        "CREATE TABLE deleted (seq INTEGER PRIMARY KEY, entity TEXT NOT NULL, id TEXT NOT NULL, "
        "deleted_at INTEGER NOT NULL)"
    )
    if path is not None:
        def rows() -> Iterator[tuple]:
            for _raw, o in iter_source(path):
                if not isinstance(o, dict):
                    continue
                entity = normalise_deleted_entity(o.get("entity"))
                oid = o.get("id")
                if entity is None or not isinstance(oid, str):
                    continue
                yield entity, oid, parse_timestamp(o.get("deletedAt")) or 0

        conn.executemany("INSERT INTO deleted (entity, id, deleted_at) VALUES (?, ?, ?)", rows())
    conn.execute("CREATE INDEX deleted_at ON deleted (deleted_at, seq)")
    return conn.execute("SELECT count(*) FROM deleted").fetchone()[0]


# --------------------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------------------
_ATTENDANCE_SUMS = (
    ("offeredSum", "offered"), ("attendanceSum", "attended"), ("validAbsenceSum", "valid"),
    ("invalidAbsenceSum", "invalid"), ("otherAttendanceSum", "other"), ("reportedSum", "reported"),
)


def _window_sums_sql(start: str, end: str, where: list[str], args: dict[str, Any] | None,
                     limit: int | None = None) -> tuple[str, dict[str, Any]]:
    """The query summing the records inside [start, end] per (student, activity) under ``where``: rows of
    (s, a, AggregatedAttendance JSON with the window as startDate/endDate), in (s, a) order, at most
    ``limit``. Serves a page (:meth:`DatasetIndex.attendance`) and the precomputed term windows alike."""
    args = dict(args or {})
    args.update(ws=start, we=end, h0=half_year(start), h1=half_year(end))
    if limit is not None:
        args["n"] = limit
    # Each sum as ',"name":value', or nothing when no record in the group had it.
    pieces = " || ".join(
        f"""CASE WHEN g.{col} IS NULL THEN '' ELSE ',"{name}":' || g.{col} END""" for name, col in _ATTENDANCE_SUMS)
    sql = f"""
        SELECT g.s, g.a,
               '{{"student":{{"id":' || st.json || '}},"activity":{{"id":' || ac.json
               || '}},"startDate":"' || :ws || '","endDate":"' || :we || '"' || {pieces} || '}}'
          FROM (SELECT s, a, sum(offered) AS offered, sum(attended) AS attended, sum(valid) AS valid,
                       sum(invalid) AS invalid, sum(other) AS other, sum(reported) AS reported
                  FROM att WHERE {' AND '.join(where)}
                 GROUP BY s, a ORDER BY s, a{' LIMIT :n' if limit is not None else ''}) g
          JOIN att_student st ON st.s = g.s
          JOIN att_activity ac ON ac.a = g.a
         ORDER BY g.s, g.a"""
    return sql, args


# Filters on object lists: name -> (SQL condition, takes a list of values)
_OBJECT_FILTERS: dict[str, tuple[str, bool]] = {
    "modified_after": ("modified > ?", False),
    "modified_before": ("modified <= ?", False),
    "created_after": ("created > ?", False),
    "created_before": ("created <= ?", False),
    "org_type": ("org_type IN ({})", True),
    "school_unit_code": ("school_unit_code IN ({})", True),
    "organisation_code": ("organisation_code IN ({})", True),
    "municipality_code": ("municipality_code = ?", False),
    "parent": ("parent IN ({})", True),
    "student": ("student = ?", False),
    "organisation": ("organisation = ?", False),
    "registered_by": ("registered_by = ?", False),
    "registered_on_or_after": ("registered_date >= ?", False),
    "registered_on_or_before": ("registered_date <= ?", False),
}


class DatasetIndex:
    """The index of one dataset folder, rebuilt when its files change. Thread-safe."""

    def __init__(self, dataset: Path, index_dir: Path | None = None, *, check_interval: float = 0.0):
        self.dataset = Path(dataset).resolve()
        if not (self.dataset / SUBDIR).is_dir():
            several = (self.dataset / "sources").is_dir()  # one server per source: serve sources/<id>/
            raise DatasetError(f"{self.dataset} is not a dataset folder (no {SUBDIR}/ inside)"
                               + ("; it holds several school systems: serve one of sources/<id>/" if several else ""))
        self.index_dir = Path(index_dir) if index_dir else default_index_dir()
        self.check_interval = check_interval
        self._lock = threading.RLock()
        self._local = threading.local()
        self._state: tuple | None = None
        self._path: Path | None = None
        self._checked_at = 0.0
        self.generation = 0
        self.counts: dict[str, int] = {}
        self.build_seconds: float | None = None
        self._att_ids: dict[str, int] | None = None
        self._att_windows: set[tuple[str, str]] | None = None
        self._att_span: tuple[str | None, str | None] = (None, None)

    # -- keeping it current ---------------------------------------------------------------------------
    def _file_for(self, state: tuple) -> Path:
        where = hashlib.sha256(str(self.dataset).encode()).hexdigest()[:16]
        what = hashlib.sha256(repr((INDEX_VERSION, state)).encode()).hexdigest()[:16]
        return self.index_dir / f"{where}-{what}.sqlite"

    def ensure(self) -> Path:
        """The current index file, (re)built if the dataset's files changed since it was made."""
        now = time.monotonic()
        if self._path is not None and self.check_interval and now - self._checked_at < self.check_interval:
            return self._path
        state = source_state(self.dataset)
        if state == self._state and self._path is not None:
            self._checked_at = now
            return self._path
        with self._lock:
            state = source_state(self.dataset)
            if state != self._state or self._path is None:
                self._switch(state, force=False)
            self._checked_at = time.monotonic()
            return self._path  # type: ignore[return-value]

    def reload(self) -> None:
        """Rebuild the index now, whatever the files' size and mtime say."""
        with self._lock:
            self._switch(source_state(self.dataset), force=True)

    def _switch(self, state: tuple, force: bool) -> None:
        path = self._file_for(state)
        t0 = time.perf_counter()
        if force or not self._valid(path):
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.building")
            try:
                build_index(self.dataset, tmp)
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            self.build_seconds = round(time.perf_counter() - t0, 3)
            log.info("indexed SS 12000 dataset in %.1fs", self.build_seconds)
            self._remove_stale(path)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        self.counts = orjson.loads(meta["counts"])
        self._att_span = (meta.get("att_min_start"), meta.get("att_max_end"))
        self._state, self._path = state, path
        self._att_ids = None
        self._att_windows = None
        self.generation += 1

    @staticmethod
    def _valid(path: Path) -> bool:
        if not path.exists():
            return False
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
                row = c.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            return row is not None and row[0] == INDEX_VERSION
        except sqlite3.Error:
            return False

    def _remove_stale(self, keep: Path) -> None:
        prefix = keep.name.split("-", 1)[0] + "-"
        for p in self.index_dir.glob(f"{prefix}*.sqlite"):
            if p != keep:
                try:
                    p.unlink()
                except OSError:
                    pass

    def connection(self) -> sqlite3.Connection:
        """This thread's read-only connection to the current index."""
        path = self.ensure()
        local = self._local
        if getattr(local, "path", None) != path:
            old = getattr(local, "conn", None)
            if old is not None:
                old.close()
            conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=2147483648")
            local.conn, local.path = conn, path
        return local.conn

    # -- queries --------------------------------------------------------------------------------------
    def list_objects(self, entity: str, filters: dict[str, Any], key: Sequence[int] | None,
                     limit: int) -> tuple[list[tuple[int, int, bytes]], bool]:
        """Up to ``limit`` objects in (modified, seq) order after ``key``; and whether more follow."""
        if entity not in OBJECT_ENTITIES:
            raise KeyError(entity)
        where: list[str] = []
        args: list[Any] = []
        for name, value in filters.items():
            cond, many = _OBJECT_FILTERS[name]
            if key is not None and name == "modified_after":
                continue  # implied by the key, and leaving it out keeps the index range on the key
            if many:
                values = list(value)
                where.append(cond.format(", ".join("?" * len(values))))
                args.extend(values)
            else:
                where.append(cond)
                args.append(value)
        if key is not None:
            where.insert(0, "(modified, seq) > (?, ?)")
            args[0:0] = [int(key[0]), int(key[1])]
        sql = (f"SELECT modified, seq, raw FROM {entity} WHERE {' AND '.join(where) or '1'} "
               f"ORDER BY modified, seq LIMIT ?")
        rows = self.connection().execute(sql, (*args, limit + 1)).fetchall()
        return rows[:limit], len(rows) > limit

    def get_object(self, entity: str, oid: str) -> bytes | None:
        if entity not in OBJECT_ENTITIES:
            raise KeyError(entity)
        row = self.connection().execute(f"SELECT raw FROM {entity} WHERE id = ?", (oid,)).fetchone()
        return row[0] if row else None

    def _student_numbers(self) -> dict[str, int]:
        ids = self._att_ids
        gen = self.generation
        if ids is None:
            ids = dict(self.connection().execute("SELECT id, s FROM att_student").fetchall())
            if gen == self.generation:
                self._att_ids = ids
        return ids

    def attendance(self, start: str, end: str, students: Sequence[str] | None, key: Sequence[int] | None,
                   limit: int) -> tuple[list[str], tuple[int, int] | None, bool]:
        """Per (student, activity), the sums of the records lying inside [start, end] (ISO dates), as
        AggregatedAttendance JSON objects with the window as startDate/endDate, in key order after ``key``.
        Returns the objects, the key of the last one and whether more follow."""
        lo, hi = self._att_span
        if lo is None or hi is None or end < lo or start > hi:
            return [], None, False  # no record can lie inside the window
        args: dict[str, Any] = {"ws": start, "we": end, "n": limit + 1,
                                "h0": half_year(start), "h1": half_year(end)}
        if args["h0"] == args["h1"]:
            # The usual case (a term): one half year, read in (s, a) order from the key on.
            where = ["half = :h0", 'start >= :ws', '"end" <= :we']
            if key is not None:
                where.insert(1, "(s, a) > (:ks, :ka)")
        else:
            # A window over several half years: correct, but sorted per page (cost grows with the window).
            where = ["half BETWEEN :h0 AND :h1", 'start >= :ws', '"end" <= :we']
            if key is not None:
                where.append("(s, a) > (:ks, :ka)")
        if key is not None:
            args.update(ks=int(key[0]), ka=int(key[1]))
        if students is not None:
            numbers = self._student_numbers()
            nos = [numbers[s] for s in students if s in numbers]
            if not nos:
                return [], None, False
            where.append(f"s IN ({', '.join(str(int(n)) for n in nos)})")
        if students is None and (start, end) in self._term_windows():  # summed when the index was built
            where = ["ws = :ws", "we = :we"] + (["(s, a) > (:ks, :ka)"] if key is not None else [])
            sql = f"SELECT s, a, json FROM att_window WHERE {' AND '.join(where)} ORDER BY s, a LIMIT :n"
        else:
            sql, args = _window_sums_sql(start, end, where, args, limit + 1)
        rows = self.connection().execute(sql, args).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [r[2] for r in rows], ((rows[-1][0], rows[-1][1]) if rows else None), more

    def _term_windows(self) -> set[tuple[str, str]]:
        """The windows summed when the index was built (none in an index without the table)."""
        windows = self._att_windows
        gen = self.generation
        if windows is None:
            conn = self.connection()
            has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'att_window'").fetchone()
            windows = set(conn.execute("SELECT DISTINCT ws, we FROM att_window").fetchall()) if has else set()
            windows = {(ws, we) for ws, we in windows}
            if gen == self.generation:
                self._att_windows = windows
        return windows

    def deleted(self, after: int | None, entities: Sequence[str] | None, key: Sequence[int] | None,
                limit: int) -> tuple[list[tuple[int, int, str, str]], bool]:
        """Deletions in (deleted_at, seq) order after ``key``: rows of (deleted_at, seq, entity, id)."""
        where: list[str] = []
        args: list[Any] = []
        if key is not None:
            where.append("(deleted_at, seq) > (?, ?)")
            args += [int(key[0]), int(key[1])]
        elif after is not None:
            where.append("deleted_at > ?")
            args.append(after)
        if entities is not None:
            where.append(f"entity IN ({', '.join('?' * len(entities))})")
            args.extend(entities)
        sql = (f"SELECT deleted_at, seq, entity, id FROM deleted WHERE {' AND '.join(where) or '1'} "
               f"ORDER BY deleted_at, seq LIMIT ?")
        rows = self.connection().execute(sql, (*args, limit + 1)).fetchall()
        return rows[:limit], len(rows) > limit

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.path = None
