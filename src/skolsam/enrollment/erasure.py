"""Erasure: remove every row about a pupil from every schema (DESIGN 4; ``samtycke = nej`` or a request).

The pupil is named by ``student_key`` only. Their SS 12000 ``person_ref`` values are looked up in
``staging.ss12000_person`` before anything is deleted; then every base table in the data schemas with a
``student_key`` or ``person_ref`` column loses the matching rows (tables that reference others first, so the
counts are exact even where a foreign key cascades). The keys go to ``audit.erased_key`` and the refs to
``audit.erased_ref`` so later loads drop the pupil, quarantine rows pointing at them lose that pointer, and
``audit.erasure`` records the reason and the rows removed per table: no identity beyond the erased-key list.

``mart.participant_term`` holds per-term pseudonyms (skolsam.mart_pseudonym): its rows are found by
computing the pupil's term keys with the mart key (``mart_pseudonymiser``, default the configured one).

Runs inside the caller's transaction: the erasure and whatever triggered it commit or roll back together.
Aggregates without a key (``mart.group_term``) are recomputed by the next warehouse build, which the
intake triggers through its Asset.
"""

from __future__ import annotations

import logging
from typing import Iterable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

DATA_SCHEMAS = ("staging", "core", "mart", "mart_candidate")
REASONS = ("consent_withdrawn", "erasure_request")


def _key_tables(conn: psycopg.Connection) -> list[tuple[str, str, set[str]]]:
    """(schema, table, {student_key, person_ref} ∩ columns) for every base table of the data schemas,
    referencing tables before the tables they reference."""
    rows = conn.execute(
        """SELECT n.nspname, c.relname, a.attname, c.oid
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND a.attname IN ('student_key', 'person_ref')
           ORDER BY 1, 2, 3""",
        (list(DATA_SCHEMAS),),
    ).fetchall()
    tables: dict[int, tuple[str, str, set[str]]] = {}
    for schema, table, column, oid in rows:
        tables.setdefault(oid, (schema, table, set()))[2].add(column)
    edges = conn.execute(
        "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid"
    ).fetchall()
    referenced_by: dict[int, set[int]] = {oid: set() for oid in tables}
    for child, parent in edges:
        if child in tables and parent in tables:
            referenced_by[parent].add(child)
    ordered: list[int] = []
    done: set[int] = set()

    def visit(oid: int, stack: frozenset[int]) -> None:
        if oid in done or oid in stack:
            return
        for child in sorted(referenced_by[oid]):
            visit(child, stack | {oid})
        done.add(oid)
        ordered.append(oid)

    for oid in sorted(tables, key=lambda o: tables[o][:2]):
        visit(oid, frozenset())
    return [tables[oid] for oid in ordered]


def erase(
    conn: psycopg.Connection,
    student_keys: Iterable[str],
    reason: str,
    run_id: int | None = None,
    *,
    mart_pseudonymiser=None,
) -> dict[str, int]:
    """Erase the pupils with these keys everywhere; returns rows removed per table ("schema.table": n).

    ``reason`` is 'consent_withdrawn' or 'erasure_request'. Nothing happens (and nothing is recorded)
    for an empty key list.
    """
    if reason not in REASONS:
        raise ValueError(f"erasure reason must be one of {REASONS}")
    keys = sorted({k for k in student_keys if k})
    if not keys:
        return {}
    has_person = conn.execute("SELECT to_regclass('staging.ss12000_person') IS NOT NULL").fetchone()[0]
    refs: list[str] = []
    if has_person:
        refs = [r for (r,) in conn.execute(
            "SELECT DISTINCT person_ref FROM staging.ss12000_person WHERE student_key = ANY(%s) ORDER BY 1",
            (keys,),
        )]

    from ..mart_pseudonym import TERM_KEYED, erase_term_keyed

    removed: dict[str, int] = {}
    for schema, table, columns in _key_tables(conn):
        if (schema, table) in TERM_KEYED:
            continue  # per-term pseudonyms: below
        conditions = []
        params: list[list[str]] = []
        if "student_key" in columns:
            conditions.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier("student_key")))
            params.append(keys)
        if "person_ref" in columns and refs:
            conditions.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier("person_ref")))
            params.append(refs)
        if not conditions:
            removed[f"{schema}.{table}"] = 0
            continue
        stmt = sql.SQL("DELETE FROM {} WHERE {}").format(
            sql.Identifier(schema, table), sql.SQL(" OR ").join(conditions)
        )
        removed[f"{schema}.{table}"] = conn.execute(stmt, params).rowcount
    removed.update(erase_term_keyed(conn, keys, mart_pseudonymiser))

    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO audit.erased_key (student_key, reason) VALUES (%s, %s)
               ON CONFLICT (student_key) DO NOTHING""",
            [(k, reason) for k in keys],
        )
        if refs:
            cur.executemany(
                "INSERT INTO audit.erased_ref (person_ref) VALUES (%s) ON CONFLICT (person_ref) DO NOTHING",
                [(r,) for r in refs],
            )
    # Quarantine rows keep their reason, file and row number, not the pointer to the pupil.
    conn.execute("UPDATE audit.quarantine SET record_ref = NULL WHERE record_ref = ANY(%s)", (keys + refs,))
    conn.execute(
        "INSERT INTO audit.erasure (run_id, reason, rows_removed, erased_xid) VALUES (%s, %s, %s, txid_current())",
        (run_id, reason, Jsonb(removed)),
    )
    log.info("erasure (%s): %d pupil(s), %d row(s) removed", reason, len(keys), sum(removed.values()))
    return removed
