"""Reading mart.participant_term in tests: its student_key is a per-term pseudonym (DESIGN 5) under the test
mart key; these helpers translate it back to the warehouse key the test built its staging with."""

from __future__ import annotations

from typing import Iterable

from conftest import TEST_MART_KEY
from skolsam.pseudonym import TermPseudonymiser

MART = TermPseudonymiser(TEST_MART_KEY)


def term_key(student_key: str, term: str) -> str:
    return MART.term_key(student_key, term)


def unmask(rows: Iterable[dict], student_keys: Iterable[str]) -> list[dict]:
    """Rows with ``student_key`` replaced by the warehouse key it was derived from (KeyError if none)."""
    keys = list(student_keys)
    rows = list(rows)
    terms = {r["term"] for r in rows}
    back = {term_key(k, t): k for k in keys for t in terms}
    return [{**r, "student_key": back[r["student_key"]]} for r in rows]


def participant_rows(url: str, where: str = "") -> list[dict]:
    """mart.participant_term as dicts with warehouse keys (those of staging.enrollment)."""
    from skolsam.warehouse.connection import connect

    with connect(url) as conn:
        cur = conn.execute(f"SELECT * FROM mart.participant_term {where}")
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        keys = [k for (k,) in conn.execute("SELECT DISTINCT student_key FROM staging.enrollment")]
    return unmask(rows, keys)
