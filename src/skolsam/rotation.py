"""Rotating the pseudonym key (issue 17 item 7): re-key staging, core, the marts and the audit trail from an
old key to a new one in ONE transaction, after which every join still works.

Why it needs the raw numbers again. ``student_key`` = HMAC(key, personnummer) cannot be inverted and the
warehouse never stores the number, so an old key cannot be turned into a new one from the warehouse alone.
Rotation therefore re-pseudonymises the *sources*: it reads every personnummer it can get, computes the old
and the new key of each in memory, and uses that old→new map to rewrite the warehouse:

- the SS 12000 persons (each source's ``/persons``, or a dataset folder): their civic numbers give the
  ``student_key`` map, their ids the ``person_ref`` map (also an HMAC under the same key);
- the enrollment lists still in the landing folder (waiting, ``archive/``, ``rejected/``): the pupils of
  the social-services lists who are not in any school system, and the erasure requests.

A key in the warehouse that no source yields cannot be re-keyed. Such rows are counted per table and the
rotation refuses (nothing changes) unless ``drop_unmapped`` is given, in which case they are deleted: under
the new key they could never be joined again anyway. An *erased* pupil's key that no source yields always
refuses the rotation: dropping it would let the pupil come back under the new key the next time a list
names them. (Deliver the erasure requests again, into the landing folder's archive, then rotate.)

The per-term keys of mart.participant_term are HMACs of the warehouse key: they are recomputed (with the
same mart key, or a new one when that is rotated too). Foreign keys over the keyed columns are dropped and
re-created inside the transaction, so parents and children change together. The transaction holds the
intake's and the build's advisory locks; pause the DAGs around it and put the new key in the Connection
before they run again (docs/security.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import psycopg
from psycopg import sql

from . import identity
from .mart_pseudonym import TERM_KEYED
from .pseudonym import Pseudonymiser, TermPseudonymiser
from .warehouse.audit import LoadRun
from .warehouse.bulk import copy_rows
from .warehouse.connection import connect

log = logging.getLogger(__name__)

SCHEMAS = ("staging", "core", "mart", "mart_candidate", "audit")
KEY_COLUMNS = {"student_key": "key_map", "person_ref": "ref_map"}
# Advisory locks of the intake (enrollment.intake) and of the build (warehouse.build).
LOCKS = (731_200_101, 731_200_005)


class RotationError(RuntimeError):
    """The rotation was refused; nothing changed. The message holds counts and table names only."""


@dataclass
class KeyMap:
    keys: dict[str, str] = field(default_factory=dict)  # old student_key -> new
    refs: dict[str, str] = field(default_factory=dict)  # old person_ref -> new
    numbers_seen: int = 0
    invalid_numbers: int = 0

    def add_number(self, raw: object, old: Pseudonymiser, new: Pseudonymiser) -> None:
        try:
            ident = identity.parse(raw)
        except identity.InvalidIdentity:
            self.invalid_numbers += 1
            return
        self.numbers_seen += 1
        self.keys[old.student_key(ident.normalised)] = new.student_key(ident.normalised)

    def add_person(self, person: dict, old: Pseudonymiser, new: Pseudonymiser) -> None:
        pid = person.get("id")
        if isinstance(pid, str) and pid:
            self.refs[old.source_ref("person", pid)] = new.source_ref("person", pid)
        civic = person.get("civicNo")
        if isinstance(civic, dict) and civic.get("value"):
            self.add_number(civic["value"], old, new)


# ---------------------------------------------------------------------------------------------------------
# sources of raw numbers


def persons_from_dataset(dataset: Path) -> Iterator[dict]:
    """The persons of a dataset folder (one source or several, DESIGN 3.1.1)."""
    folders = [dataset / "ss12000"] + sorted((dataset / "sources").glob("*/ss12000"))
    for folder in folders:
        if (folder / "persons.jsonl").exists():
            with open(folder / "persons.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)
        elif (folder / "persons.json").exists():
            yield from json.loads((folder / "persons.json").read_text(encoding="utf-8"))["data"]


def persons_from_api(api: Any) -> Iterator[dict]:
    """Every person of an SS 12000 API (an ss12000.extract.ApiConfig), page by page."""
    with api.client() as client:
        for page in client.pages("/persons", limit=api.page_size):
            yield from page.data


def numbers_from_landing(landing: Any) -> Iterator[str]:
    """Every personnummer cell of the lists still in the landing folder, its archive and rejected/."""
    from .enrollment import csvfile
    from .enrollment.intake import _LIST_NAME, file_kind, landing_handler, parse_delivery
    from .enrollment.landing import ARCHIVE, REJECTED

    folder = landing_handler(landing)
    if not folder.exists():
        return
    openers = [(e.name, folder.opener(e.name)) for e in folder.entries() if e.regular]
    for sub in (ARCHIVE, REJECTED):
        openers += [(n, folder.sub_opener(sub, n)) for n in folder.archived(sub)]
    for name, opener in openers:
        if not _LIST_NAME.match(name):
            continue
        try:
            parsed = parse_delivery(name, opener, file_kind(name))
        except (csvfile.FileRejected, OSError):
            continue
        for row in parsed.rows:
            yield row.values.get("personnummer", "")


# ---------------------------------------------------------------------------------------------------------
# the rewrite


def _keyed_columns(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        """SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = ANY(%s) AND t.table_type = 'BASE TABLE'
              AND c.column_name IN ('student_key', 'person_ref', 'record_ref')
            ORDER BY 1, 2, 3""", (list(SCHEMAS),)).fetchall()
    return [r for r in rows if (r[0], r[1]) not in TERM_KEYED]


def _foreign_keys(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """(schema, table, constraint, definition) of the foreign keys over keyed columns in our schemas."""
    return conn.execute(
        """SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'f' AND n.nspname = ANY(%s)
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
                          AND a.attname IN ('student_key', 'person_ref'))
            ORDER BY 1, 2, 3""", (list(SCHEMAS),)).fetchall()


def _unmapped(conn, schema: str, table: str, column: str) -> int:
    t = sql.Identifier(schema, table)
    c = sql.Identifier(column)
    if column == "record_ref":  # a key, a ref or an SS 12000 object id: only keys and refs are rewritten
        return 0
    m = sql.Identifier(KEY_COLUMNS[column])
    return conn.execute(sql.SQL("SELECT count(*) FROM {t} x WHERE x.{c} IS NOT NULL AND NOT EXISTS "
                                "(SELECT 1 FROM {m} m WHERE m.old = x.{c})").format(t=t, c=c, m=m)).fetchone()[0]


def rotate(url: str, old: Pseudonymiser, new: Pseudonymiser, key_map: KeyMap, *,
           old_mart: TermPseudonymiser, new_mart: TermPseudonymiser | None = None,
           drop_unmapped: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Re-key the warehouse with ``key_map`` in one transaction; returns counts per table (no key).

    Raises RotationError (and changes nothing) when rows cannot be re-keyed and ``drop_unmapped`` is not
    set, or when an erased pupil's key is not in the map. ``dry_run`` does everything, then rolls back."""
    if old.same_key(new):
        raise RotationError("the new key is the old key")
    new_mart = new_mart or old_mart
    run = LoadRun(url, "security", "rotate-key").open()
    report: dict[str, Any] = {"mapped_keys": len(key_map.keys), "mapped_refs": len(key_map.refs),
                              "numbers_seen": key_map.numbers_seen, "rewritten": {}, "dropped": {},
                              "dry_run": dry_run}
    try:
        with connect(url) as conn:
            with conn.transaction() as tx:
                for lock in LOCKS:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                for name in KEY_COLUMNS.values():
                    conn.execute(f"CREATE TEMP TABLE {name} (old text PRIMARY KEY, new text NOT NULL) ON COMMIT DROP")
                copy_rows(conn, "pg_temp.key_map", ("old", "new"), key_map.keys.items())
                copy_rows(conn, "pg_temp.ref_map", ("old", "new"), key_map.refs.items())
                columns = _keyed_columns(conn)

                unmapped = {f"{s}.{t}.{c}": n for s, t, c in columns if (n := _unmapped(conn, s, t, c))}
                erased = {k: v for k, v in unmapped.items() if k.startswith(("audit.erased_key", "audit.erased_ref"))}
                if erased:
                    raise RotationError(f"erased pupils whose number or person id no source yields: {erased}; "
                                        "read every school system's persons and deliver their erasure "
                                        "requests into the landing archive again, then rotate")
                if unmapped and not drop_unmapped:
                    raise RotationError(f"rows no source yields a number for: {unmapped}; give drop_unmapped "
                                        "to delete them (they could not be joined under the new key)")

                fks = _foreign_keys(conn)
                for schema, table, name, _ in fks:
                    conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(schema, table), sql.Identifier(name)))
                for schema, table, column in columns:
                    t, c = sql.Identifier(schema, table), sql.Identifier(column)
                    maps = list(KEY_COLUMNS.values()) if column == "record_ref" else [KEY_COLUMNS[column]]
                    if column != "record_ref" and unmapped.get(f"{schema}.{table}.{column}"):
                        report["dropped"][f"{schema}.{table}"] = conn.execute(sql.SQL(
                            "DELETE FROM {t} x WHERE x.{c} IS NOT NULL AND NOT EXISTS "
                            "(SELECT 1 FROM {m} m WHERE m.old = x.{c})").format(
                            t=t, c=c, m=sql.Identifier(maps[0]))).rowcount
                    n = 0
                    for m in maps:
                        n += conn.execute(sql.SQL("UPDATE {t} x SET {c} = m.new FROM {m} m WHERE x.{c} = m.old").format(
                            t=t, c=c, m=sql.Identifier(m))).rowcount
                    report["rewritten"][f"{schema}.{table}.{column}"] = n
                report["rewritten"].update(_rekey_term_tables(conn, key_map, old_mart, new_mart, report,
                                                             drop_unmapped))
                for schema, table, name, definition in fks:
                    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                        sql.Identifier(schema, table), sql.Identifier(name)) + sql.SQL(definition))
                if dry_run:
                    raise _DryRun
    except _DryRun:
        run.close("skipped", "dry run: rolled back")
        return report
    except BaseException as exc:
        run.close("failed", type(exc).__name__)
        raise
    run.rows_loaded = sum(report["rewritten"].values())
    run.rows_deleted = sum(report["dropped"].values())
    run.close("success", f"re-keyed {len(key_map.keys)} pupils")
    log.info("pseudonym key rotated: %d rows rewritten, %d dropped", run.rows_loaded, run.rows_deleted)
    return report


class _DryRun(Exception):
    pass


def _rekey_term_tables(conn, key_map: KeyMap, old_mart: TermPseudonymiser, new_mart: TermPseudonymiser,
                       report: dict, drop_unmapped: bool) -> dict[str, int]:
    out = {}
    for schema, table in TERM_KEYED:
        t = sql.Identifier(schema, table)
        if conn.execute("SELECT to_regclass(%s) IS NULL", (f"{schema}.{table}",)).fetchone()[0]:
            continue
        terms = [r for (r,) in conn.execute(sql.SQL("SELECT DISTINCT term FROM {}").format(t))]
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS term_map (old text PRIMARY KEY, new text NOT NULL) ON COMMIT DROP")
        conn.execute("TRUNCATE term_map")
        copy_rows(conn, "pg_temp.term_map", ("old", "new"),
                  ((old_mart.term_key(o, term), new_mart.term_key(n, term))
                   for o, n in key_map.keys.items() for term in terms))
        dropped = conn.execute(sql.SQL("DELETE FROM {} x WHERE NOT EXISTS (SELECT 1 FROM term_map m "
                                       "WHERE m.old = x.student_key)").format(t)).rowcount
        if dropped and not drop_unmapped:
            raise RotationError(f"{dropped} rows of {schema}.{table} have no source; give drop_unmapped")
        if dropped:
            report["dropped"][f"{schema}.{table}"] = dropped
        out[f"{schema}.{table}.student_key"] = conn.execute(sql.SQL(
            "UPDATE {} x SET student_key = m.new FROM term_map m WHERE x.student_key = m.old").format(t)).rowcount
    return out


def build_map(old: Pseudonymiser, new: Pseudonymiser, *, persons: Iterable[dict] = (),
              numbers: Iterable[str] = ()) -> KeyMap:
    key_map = KeyMap()
    for p in persons:
        key_map.add_person(p, old, new)
    for n in numbers:
        key_map.add_number(n, old, new)
    return key_map
