"""Extraction throughput: the stand-in server over a dataset (in a child process, so it does not share
this process's GIL), a full extract of every entity into a warehouse, records per second.

``records`` counts the records the API answered with (what the extract reads: objects, deletion ids and
the per-window attendance sums), ``seconds`` the wall time of the whole extract (fetch, checks,
pseudonymisation, COPY, merge, commit) without the server's one-time indexing, which is reported apart.

``make_daily_dataset``: a dataset one school day later (new attendance, a share of grades changed with a
newer ``meta.modified``), for ``skolsam bench --daily``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import resource
import shutil
import time
from pathlib import Path
from typing import Sequence

import orjson

from ..pseudonym import Pseudonymiser, default
from ..warehouse import migrate
from ..ss12000.extract import ENTITIES, ApiConfig, extract_entity
from .dataset import SUBDIR
from .running import running_server

log = logging.getLogger(__name__)


def dataset_terms(dataset: Path) -> list[str] | None:
    """The terms the generator wrote the dataset for (its manifest), if known."""
    manifest = Path(dataset) / "manifest.json"
    if manifest.exists():
        terms = orjson.loads(manifest.read_bytes()).get("terms")
        if terms:
            return list(terms)
    return None


def run_extract_benchmark(
    dataset: Path,
    warehouse_url: str,
    *,
    page_size: int = 10_000,
    pseudonymiser: Pseudonymiser | None = None,
    terms: Sequence[str] | None = None,
    entities: Sequence[str] = ENTITIES,
    in_process_server: bool = False,
) -> dict:
    """Full extract (``full_refresh``) of ``dataset`` into ``warehouse_url`` through the stand-in server.

    Returns {"records", "seconds", "records_per_second", "index_seconds", "page_size", "peak_rss_mb",
    "entities": {entity: {"records", "loaded", "seconds", "records_per_second", "pages"}}}.
    """
    dataset = Path(dataset).resolve()
    pseudonymiser = pseudonymiser or default()
    terms = list(terms) if terms else dataset_terms(dataset)
    migrate.migrate(warehouse_url)
    t_index = time.perf_counter()
    with running_server(dataset, in_process=in_process_server, max_page_size=max(page_size, 10_000),
                        demo=True) as base_url:
        index_seconds = time.perf_counter() - t_index
        api = ApiConfig(base_url, base_url + "/token", "skolsam", "skolsam", page_size)
        per_entity: dict[str, dict] = {}
        t0 = time.perf_counter()
        with api.client() as client:
            for entity in entities:
                summary = extract_entity(entity, warehouse_url, api, pseudonymiser, full_refresh=True,
                                         terms=terms, client=client)
                per_entity[entity] = {
                    "records": summary["rows_read"],
                    "loaded": summary["rows_loaded"],
                    "quarantined": summary["rows_quarantined"],
                    "seconds": summary["seconds"],
                    "stream_seconds": summary.get("stream_seconds"),
                    "records_per_second": round(summary["rows_read"] / summary["seconds"]) if summary["seconds"] else None,
                    "pages": summary["pages"],
                }
        seconds = time.perf_counter() - t0
    records = sum(e["records"] for e in per_entity.values())
    result = {
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_second": round(records / seconds) if seconds else None,
        "index_seconds": round(index_seconds, 3),
        "page_size": page_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "entities": per_entity,
    }
    log.info("extract benchmark: %d records in %.1fs = %d records/s", records, seconds,
             result["records_per_second"] or 0)
    return result


# --------------------------------------------------------------------------------------------------------
# The daily run's dataset: yesterday's city plus one school day
# --------------------------------------------------------------------------------------------------------
_NEXT_GRADE = {"A": "B", "B": "C", "C": "D", "D": "E", "E": "F", "F": "E", "-": "F"}


def _rfc3339_utc(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _field(line: bytes, name: bytes) -> bytes | None:
    """The string value of ``"name":"..."`` in a generator's line, without parsing it (None if absent)."""
    at = line.find(b'"' + name + b'":"')
    if at < 0:
        return None
    start = at + len(name) + 4
    return line[start:line.index(b'"', start)]


def make_daily_dataset(base: Path, out: Path, *, grade_share: float = 0.005, seed: int = 1,
                       now: dt.datetime | None = None) -> dict:
    """``out``: the dataset ``base`` one school day later, for the bench's daily run.

    * grades: a share ``grade_share`` of them (drawn with ``seed``) changed to a neighbouring grade value
      with ``meta.modified`` = ``now`` (default: a minute ago, inside the server's clock), so an incremental
      extract past its watermark reads exactly those;
    * attendance: one new record per pupil and activity of the dataset's last attendance window, for its
      last day (``startDate`` = ``endDate``), about a twentieth of that month's minutes with the month's
      share of absence: the day's registrations. (The month's record already spans that day, so the term's
      sums rise by one day: the figures are synthetic, what matters is that every term sum changes.)
    * everything else (persons, organisations, syllabuses, deletions, enrollment lists) hard-linked.

    Returns {"grades_changed", "attendance_added", "day", "modified"}.
    """
    base, out = Path(base), Path(out)
    now = now or (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    stamp = _rfc3339_utc(now).encode()
    if out.exists():
        shutil.rmtree(out)
    for src in base.rglob("*"):
        dst = out / src.relative_to(base)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.parent.name == SUBDIR and src.name in ("grades.jsonl", "aggregatedAttendance.jsonl"):
            continue
        os.link(src, dst)
    rng = random.Random(f"skolsam:{seed}:daily")
    changed = 0
    with open(base / SUBDIR / "grades.jsonl", "rb") as src, open(out / SUBDIR / "grades.jsonl", "wb") as dst:
        for line in src:
            if line.strip() and rng.random() < grade_share:
                obj = orjson.loads(line)
                obj["gradeValue"] = _NEXT_GRADE.get(obj.get("gradeValue"), "E")
                obj.setdefault("meta", {})["modified"] = stamp.decode()
                line = orjson.dumps(obj) + b"\n"
                changed += 1
            dst.write(line)
    attendance = base / SUBDIR / "aggregatedAttendance.jsonl"
    last = b""
    with open(attendance, "rb") as fh:
        for line in fh:
            end = _field(line, b"endDate")
            if end is not None and end > last:
                last = end
    shutil.copyfile(attendance, out / SUBDIR / "aggregatedAttendance.jsonl")
    added = 0
    with open(attendance, "rb") as src, open(out / SUBDIR / "aggregatedAttendance.jsonl", "ab") as dst:
        day = last.decode()
        for line in src:
            if _field(line, b"endDate") != last:
                continue
            rec = orjson.loads(line)
            offered = int(rec.get("offeredSum") or 0)
            if offered <= 0:
                continue
            part = max(5, int(offered / 20 / 5 + 0.5) * 5)
            valid = int(int(rec.get("validAbsenceSum") or 0) * part / offered / 5 + 0.5) * 5
            invalid = min(part - valid, int(int(rec.get("invalidAbsenceSum") or 0) * part / offered / 5 + 0.5) * 5)
            rec.update(startDate=day, endDate=day, offeredSum=part, attendanceSum=part - valid - invalid,
                       validAbsenceSum=valid, invalidAbsenceSum=invalid, otherAttendanceSum=0, reportedSum=part)
            dst.write(orjson.dumps(rec) + b"\n")
            added += 1
    return {"grades_changed": changed, "attendance_added": added, "day": last.decode(), "modified": stamp.decode()}


# --------------------------------------------------------------------------------------------------------
# National scale: the generator streamed into the index, the big files never kept on disk
# --------------------------------------------------------------------------------------------------------
def _generate_into_fifo(out: str, pupils: int, seed: int, terms: list[str], fifo: str) -> None:
    """Child process: the generator as it is, except that aggregatedAttendance.jsonl goes into ``fifo``."""
    from ..generate import generate_dataset, output, ss12000 as gen

    class AttendanceToFifo(output.HashingWriter):
        def __init__(self, root: Path, relpath: str):
            if relpath.endswith("/aggregatedAttendance.jsonl"):
                super().__init__(Path(fifo).parent, Path(fifo).name)
                self.relpath = relpath  # the manifest names the file the dataset would have held
            else:
                super().__init__(root, relpath)

    gen.HashingWriter = AttendanceToFifo
    generate_dataset(Path(out), pupils=pupils, seed=seed, terms=terms)


def _placeholder(path: Path, size: int) -> None:
    """A sparse file of ``size`` bytes (zeros, no disk blocks) where an indexed source file was: the index's
    name keeps the files' size and mtime, and a server that had to re-read it would fail on line 1."""
    with open(path, "wb") as fh:
        fh.truncate(size)


def generate_streamed(out: Path, pupils: int, seed: int, terms: list[str], *, index_dir: Path | None = None,
                      keep_grades: bool = False, log=print) -> dict:
    """Generate ``out`` and its stand-in index at once, for a dataset too big for the disk twice over.

    The generator runs in a child process writing aggregatedAttendance.jsonl into a FIFO that this process
    reads straight into the index (the attendance file is never written); once the generator is done, the
    other entities are indexed from their files as usual. Then the attendance file (and, unless
    ``keep_grades``, grades.jsonl) becomes a sparse placeholder of its size, and the index is put where a
    server over ``out`` looks for it (named after the files' size and mtime). The manifest is the
    generator's own (its checksums are those of the streamed bytes). Returns the index's counts and where
    the time went.
    """
    import gc
    import multiprocessing
    import tempfile
    import threading

    from . import index as idx
    from .dataset import source_files, source_state

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="stream-", dir=out.parent))
    fifo = work / "aggregatedAttendance.jsonl"
    os.mkfifo(fifo)
    building = work / "index.sqlite"
    proc = multiprocessing.get_context("fork").Process(
        target=_generate_into_fifo, args=(str(out), pupils, seed, list(terms), str(fifo)), name="generate")
    t0 = time.perf_counter()
    proc.start()

    def unblock_if_dead() -> None:  # a generator that dies before opening the FIFO must not hang the reader
        proc.join()
        if proc.exitcode:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    threading.Thread(target=unblock_if_dead, daemon=True).start()
    gc.disable()
    conn = idx.new_index(building)
    counts: dict[str, int] = {}
    try:
        counts["aggregatedAttendance"] = idx._build_attendance(conn, fifo)
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"the generator failed (exit {proc.exitcode})")
        t_gen = time.perf_counter() - t0
        log(f"generated {pupils} pupils, attendance streamed into the index: {counts['aggregatedAttendance']} "
            f"records ({t_gen:.0f} s)")
        files = source_files(out)
        idx._build_objects(conn, files, counts)
        counts["deletedEntities"] = idx._build_deleted(conn, files["deletedEntities"])
        idx.finish_index(conn, counts)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        conn.close()
        gc.enable()
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    sizes = {path: entry["bytes"] for path, entry in manifest["files"].items()}
    _placeholder(out / SUBDIR / "aggregatedAttendance.jsonl", sizes[f"{SUBDIR}/aggregatedAttendance.jsonl"])
    if not keep_grades:
        _placeholder(out / SUBDIR / "grades.jsonl", sizes[f"{SUBDIR}/grades.jsonl"])
    target = idx.DatasetIndex(out, index_dir)._file_for(source_state(out))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, target)
    shutil.rmtree(work, ignore_errors=True)
    seconds = round(time.perf_counter() - t0, 1)
    log(f"indexed into {target} ({seconds} s in all)")
    return {"counts": counts, "generate_seconds": round(t_gen, 1), "seconds": seconds,
            "index_bytes": target.stat().st_size, "placeholders": ["aggregatedAttendance.jsonl"]
            + ([] if keep_grades else ["grades.jsonl"])}


def main(argv: list[str] | None = None) -> int:
    """``python -m skolsam.standin.bench DATASET [--warehouse-url URL] [--page-size N]``: prints the JSON."""
    import argparse
    import json

    from ..warehouse.connection import resolve_url

    p = argparse.ArgumentParser(prog="python -m skolsam.standin.bench", description=main.__doc__)
    p.add_argument("dataset", type=Path)
    p.add_argument("--warehouse-url", help="a migrated (or empty) database; default SKOLSAM_WAREHOUSE_URL or embedded")
    p.add_argument("--page-size", type=int, default=10_000)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run_extract_benchmark(args.dataset, resolve_url(args.warehouse_url), page_size=args.page_size)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
