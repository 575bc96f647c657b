"""The page pipeline: an entity's pages from the API, through its mapper, into PostgreSQL with COPY.

Three stages run at once so that none waits for another: a background thread fetches the next pages
(:func:`.client.prefetch`; the next request goes out as soon as a body has arrived, its pageToken read from
the end of the body) and decodes them into the mapper's typed records (:mod:`.schema`); the calling thread
maps a page to COPY text (:func:`process_page`); a database thread COPYs the previous page (PostgreSQL's own
work runs in its process meanwhile). Memory stays at a few pages whatever the size of the extract; the
garbage collector runs rarely while pages stream (``GC_THRESHOLD``).

One decoding path per record: typed where the mapper has a struct, else (or when the record does not fit
it) the strict check, which validates every field in Python and quarantines a record at fault. A page that
does not decode as a whole is split into its records, each decoded on its own. The typed line leaves the
syntax of uuids, dates and timestamps to PostgreSQL's COPY: if COPY refuses a page, the page's savepoint is
rolled back and the whole page goes through the strict check (``fallback_pages``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import queue
import threading
import time
import typing
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import msgspec
import orjson
import psycopg
from psycopg import errors as pg_errors

from .. import terms as terms_mod
from ..pseudonym import Pseudonymiser
from ..warehouse import audit
from ..warehouse.audit import LoadRun, QuarantineRow
from ..warehouse.bulk import copy_line, copy_text
from .client import SS12000Client, SS12000Error, prefetch
from .schema import DECODE_ERRORS, Drop, Reject, Skip, get, has_zone, loads_lenient, page_decoder, to_dict

log = logging.getLogger(__name__)

SOURCE = "ss12000"  # the default source (one school system); a configured source passes its id
PIPELINE_DEPTH = 2  # pages fetched ahead, and pages queued for the database thread
GC_THRESHOLD = 200_000  # generation-0 threshold while pages stream (default 700)
# Typed decoding of pages (tests switch it off to take the strict path everywhere).
USE_TYPED_DECODERS = True


class _RawRecords(msgspec.Struct, gc=False):
    """A page split into its records, undecoded, for a page that did not decode as a whole."""

    data: list[msgspec.Raw]
    pageToken: Optional[str] = None


_RAW_RECORDS = msgspec.json.Decoder(_RawRecords)


@dataclass
class PageOut:
    """A processed page: COPY text per table, quarantine rows, records dropped for erasure or skipped, counts
    of what was repaired, and the person_refs newly found erased. Records that do not reach a table never
    move a watermark."""

    text: dict[str, list[str]] = field(default_factory=dict)
    rejects: list[QuarantineRow] = field(default_factory=list)
    dropped: int = 0
    counts: Counter = field(default_factory=Counter)
    erased_refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Mapper:
    """How one entity family's records become staging rows.

    ``check``: the strict check of one record as plain JSON data; returns rows per table, raises
    :class:`.schema.Reject` (quarantine) or :class:`.schema.Drop` (erased pupil).
    ``ref``: the quarantine row's record_ref for a record (never free text).
    ``page_type`` and ``line``: the typed path, a msgspec page struct and, per run, a function from one
    typed record to its COPY line for ``run.target`` (None when the strict check must decide).
    ``tables``: for a mapper that writes several tables (persons and their enrolments), the tables its typed
    line writes, in order; its line then returns one COPY text per table (several lines, or none: ``""``).
    """

    path: str
    check: Callable[["Run", Any, PageOut], dict[str, list[tuple]]]
    ref: Callable[["Run", Any], str | None]
    page_type: type | None = None
    line: Callable[["Run"], Callable[[Any], Any]] | None = None
    tables: tuple[str, ...] = ()


@functools.cache
def _record_decoder(page_type: type) -> msgspec.json.Decoder:
    """A decoder of one record of a page struct (its ``data: list[Record]`` field)."""
    data = next(f for f in msgspec.structs.fields(page_type) if f.name == "data")
    return msgspec.json.Decoder(typing.get_args(data.type)[0])


def _loads_record(raw: Any) -> Any:
    return loads_lenient(bytes(raw))


def process_page(run: "Run", mapper: Mapper, records: list, n0: int, *, typed: bool = False,
                 split: bool = False, as_dicts: Callable[[], list] | None = None) -> PageOut:
    """Map one page: ``records`` are typed records (``typed``), undecoded records (``split``, each decoded on
    its own) or plain JSON data; ``n0`` is the number of records before the page. Each record takes its
    typed line where it has one, else the strict check (:func:`_check_one`) of the record as read: the
    page's plain data from ``as_dicts`` (parsed once, on the first such record), so that the strict check
    and the quarantine's content hash see every field, not only those of the struct."""
    out = PageOut()
    line = mapper.line(run) if (typed or split) and mapper.line is not None else None
    if line is None:  # plain JSON (or split records of a mapper without a struct): the strict check
        for n, rec in enumerate(records, n0 + 1):
            _check_one(run, mapper, _loads_record(rec) if split else rec, n, out)
        return out
    tables = mapper.tables
    if tables:  # one text per table; a table gets its key when it gets a line, as the strict check does
        texts = out.text

        def append(parts: tuple[str, ...]) -> None:
            for table, part in zip(tables, parts):
                if part:
                    texts.setdefault(table, []).extend(part)
    else:
        append = out.text.setdefault(run.target, []).append
    decode = _record_decoder(mapper.page_type).decode if split else None
    plain: list | None = None
    for n, rec in enumerate(records, n0 + 1):
        if decode is not None:
            raw = rec
            try:
                rec = decode(raw)
            except DECODE_ERRORS:
                _check_one(run, mapper, _loads_record(raw), n, out)
                continue
        text = line(rec)
        if text is not None:
            append(text)
        elif decode is not None:
            _check_one(run, mapper, _loads_record(raw), n, out)
        elif as_dicts is not None:
            if plain is None:
                plain = as_dicts()
            _check_one(run, mapper, plain[n - n0 - 1], n, out)
        else:
            _check_one(run, mapper, to_dict(rec), n, out)
    return out


def _check_one(run: "Run", mapper: Mapper, obj: Any, n: int, out: PageOut) -> None:
    """The strict check of one record (plain JSON data, record number ``n``): rows, or a quarantine row with
    its reason, or dropped (erased pupil), or skipped (not a record we keep)."""
    try:
        rows = mapper.check(run, obj, out)
    except Reject as exc:
        detail = f"field={exc.field_name}" if exc.field_name else None
        out.rejects.append(QuarantineRow(exc.reason, row_number=n, record_ref=mapper.ref(run, obj), detail=detail,
                                         content_hash=run.content_hash(exc.reason, detail, obj)))
        return
    except Drop:
        out.dropped += 1
        return
    except Skip as exc:
        out.counts[exc.what] += 1
        return
    for table, table_rows in rows.items():
        out.text.setdefault(table, []).extend(copy_line(r) for r in table_rows)


# --------------------------------------------------------------------------------------------------------
# The database thread
# --------------------------------------------------------------------------------------------------------
class _DbWorker:
    """Runs database jobs in submission order on one thread, so COPY (and PostgreSQL's work) overlaps the
    fetching and checking of the next page. While it runs, only this thread uses the connection."""

    _STOP = object()

    def __init__(self, depth: int = PIPELINE_DEPTH):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ss12000-db", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is self._STOP:
                return
            if self._error is None:
                try:
                    job()
                except BaseException as exc:  # handed to the producer
                    self._error = exc

    def submit(self, job: Callable[[], None]) -> None:
        if self._error is not None:
            raise self._error
        while True:
            try:
                self._q.put(job, timeout=0.2)
                return
            except queue.Full:
                if self._error is not None:
                    raise self._error from None
                if not self._thread.is_alive():
                    raise RuntimeError("the database thread stopped")

    def finish(self) -> None:
        self._q.put(self._STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(self._STOP)
        self._thread.join(timeout=60)


@contextlib.contextmanager
def _gc_relaxed() -> Iterator[None]:
    """Collect garbage rarely while pages stream: a parsed page is tens of thousands of young container
    objects, and the default thresholds would walk them again and again. Cycles (httpx keeps one per
    response) are still collected, a few pages later."""
    old = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, max(old[1], 20), max(old[2], 20))
    try:
        yield
    finally:
        gc.set_threshold(*old)


# --------------------------------------------------------------------------------------------------------
# One entity run
# --------------------------------------------------------------------------------------------------------
class Run:
    """State of one entity's extraction: connection, counts, caches of person refs and erasures."""

    def __init__(self, entity: str, conn: psycopg.Connection, load: LoadRun, pseudonymiser: Pseudonymiser,
                 source: str = SOURCE):
        self.entity = entity
        self.source = source
        self.conn = conn
        self.load = load
        self.run_id = load.run_id
        self.pseudo = pseudonymiser
        self.refs: dict[str, str] = {}
        self.erased_refs: set[str] = set()
        self.erased_keys: set[str] = set()
        self.read = 0
        self.quarantined = 0
        self.dropped = 0
        self.pages = 0
        self.fallback_pages = 0
        self.loaded_max: int | None = None  # largest meta.modified loaded (UTC microseconds)
        self.time_zone = "UTC"  # the zone naive timestamps are read in (the transaction's TIME ZONE)
        self.naive_seen = False
        self.target = ""  # the table typed lines go to (set by the entity's loader)
        self.term: terms_mod.TermDates | None = None
        self.first_date: str | None = None  # the server's Date on the first page
        self.last_date: str | None = None  # and on the latest page
        self.clock_margin = 300.0  # seconds a meta.modified may lie past the server's clock
        self.stream_seconds = 0.0
        self.copied: dict[str, int] = {}
        self.counts: Counter = Counter()  # records skipped or repaired, by what (persons_not_pupils, ...)
        self.windows: dict[str, int] = {}  # aggregatedAttendance: rows read per term window
        self.quarantine_new = 0  # rejections written to audit.quarantine (a repeat of an unchanged one is not)

    def person_ref(self, source_id: str) -> str:
        ref = self.refs.get(source_id)
        if ref is None:
            try:
                ref = self.pseudo.source_ref("person", source_id)
            except UnicodeEncodeError:  # a lone surrogate: keyed over its escaped form, still one ref per id
                ref = self.pseudo.source_ref("person", source_id.encode("utf-8", "surrogatepass").hex())
            self.refs[source_id] = ref
        return ref

    def content_hash(self, reason: str, detail: str | None, obj: Any) -> str:
        """A keyed hash of a rejected record as read (with the reason): the same record rejected the same
        way is quarantined once, until it changes. Keyed, so it reveals nothing about the record."""
        try:
            text = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(obj)
        return self.pseudo.source_ref("quarantine", f"{self.entity}|{reason}|{detail}|{text}")

    def quarantine(self, rows: list[QuarantineRow]) -> None:
        """Record rejections: each counts as quarantined this run; only those not quarantined before (same
        content hash) are written."""
        if not rows:
            return
        self.quarantined += len(rows)
        fresh = audit.new_quarantine(self.conn, self.source, self.entity, rows)
        if fresh:
            self.quarantine_new += audit.quarantine(self.conn, self.run_id, self.source, self.entity, fresh)

    def load_erasures(self) -> None:
        self.erased_refs = {r[0] for r in self.conn.execute("SELECT person_ref FROM audit.erased_ref")}
        self.erased_keys = {r[0] for r in self.conn.execute("SELECT student_key FROM audit.erased_key")}

    def stream(self, client: SS12000Client, mapper: Mapper, params: dict, limit: int, *,
               columns: dict[str, Sequence[str]]) -> None:
        """Fetch every page of ``mapper.path`` and load it (fetch thread, this thread, database thread)."""
        path = mapper.path
        decoder = page_decoder(mapper.page_type) if (mapper.page_type is not None and USE_TYPED_DECODERS) else None

        def fetched() -> Iterator[tuple[Any, Any, bool]]:  # runs in the prefetch thread
            for raw in client.raw_pages(path, params, limit=limit):
                decoded, split = None, False
                if decoder is not None:
                    for dec, is_split in ((decoder, False), (_RAW_RECORDS, True)):
                        try:
                            decoded = dec.decode(raw.body)
                        except DECODE_ERRORS:
                            continue
                        if decoded.pageToken == raw.token:
                            split = is_split
                            break
                        decoded = None
                yield raw, decoded, split

        worker = _DbWorker()
        t0 = time.perf_counter()
        try:
            with _gc_relaxed():
                for raw, decoded, split in prefetch(fetched(), PIPELINE_DEPTH):
                    if raw.number == 1:
                        self.first_date = raw.date
                    self.last_date = raw.date or self.last_date
                    if decoded is not None:
                        data = decoded.data

                        def as_dicts(body=raw.body) -> list:
                            return loads_lenient(body)["data"]
                    else:
                        data = client.parse_page(raw).data
                        if not isinstance(data, list):
                            raise SS12000Error(f"GET {path} page {raw.number}: data is not a list")

                        def as_dicts(data=data) -> list:
                            return data
                    if data:
                        self.note_zone(data[-1] if not split else None)
                    n0 = self.read
                    self.read += len(data)
                    self.pages += 1
                    out = process_page(self, mapper, data, n0, typed=decoded is not None and not split, split=split,
                                       as_dicts=as_dicts)
                    worker.submit(lambda out=out, as_dicts=as_dicts, n0=n0:
                                  self._write(out, as_dicts, n0, mapper, columns))
            worker.finish()
        except BaseException:
            worker.abort()
            raise
        finally:
            self.stream_seconds += time.perf_counter() - t0

    def _write(self, out: PageOut, as_dicts: Callable[[], list], n0: int, mapper: Mapper,
               columns: dict[str, Sequence[str]]) -> None:
        """Database thread: COPY a page under a savepoint; if PostgreSQL refuses it, the strict check."""
        conn = self.conn
        try:
            with conn.transaction():
                for table, lines in out.text.items():
                    if lines:
                        copy_text(conn, table, columns[table], "".join(lines))
        except (pg_errors.DataError, pg_errors.IntegrityError, UnicodeEncodeError):
            self.fallback_pages += 1
            out = process_page(self, mapper, as_dicts(), n0)
            with conn.transaction():
                for table, lines in out.text.items():
                    if lines:
                        copy_text(conn, table, columns[table], "".join(lines))
        for table, lines in out.text.items():
            self.copied[table] = self.copied.get(table, 0) + len(lines)
        self.quarantine(out.rejects)
        self.counts.update(out.counts)
        for ref in out.erased_refs:
            if ref not in self.erased_refs:
                self.erased_refs.add(ref)
                conn.execute("INSERT INTO audit.erased_ref (person_ref) VALUES (%s) ON CONFLICT DO NOTHING", (ref,))
        self.dropped += out.dropped

    def note_loaded(self, micros: int | None) -> None:
        if micros is not None and (self.loaded_max is None or micros > self.loaded_max):
            self.loaded_max = micros

    def note_zone(self, record: Any) -> None:
        """Say once per run that timestamps without a zone are read in the source's zone (one record a page
        is looked at: servers write all their timestamps one way)."""
        if self.naive_seen:
            return
        modified = get(record, "meta.modified") if isinstance(record, dict) else getattr(
            getattr(record, "meta", None), "modified", None)
        if isinstance(modified, str) and not has_zone(modified):
            self.naive_seen = True
            log.warning("ss12000 %s: timestamps without a time zone; read as %s", self.entity, self.time_zone)
