"""Loading one parsed list into the warehouse, inside the caller's transaction.

Enrollment list: each row's personnummer becomes a ``student_key`` (Pseudonymiser.key_for) and is then
forgotten; rows are validated, pupils with ``samtycke = nej`` are erased, rows of erased pupils dropped,
duplicates inside the file found, and the rest COPYed into a temporary table and merged into
``staging.enrollment`` on (student_key, programme, start_date):

- a new identity is inserted;
- an existing one whose content is unchanged is quarantined as ``duplicate_across_files``;
- an existing one with new content is updated (``updated_file_checksum``, ``updated_at``). A later file
  closes a period by giving its ``slutdatum``; an empty ``slutdatum`` or ``skolenhetskod`` in a later file
  means "not reported" and never clears a known value; the district as delivered last wins.

Erasure request list: each valid personnummer becomes a key and the pupil is erased (reason
'erasure_request'); the ``orsak`` column is never read.

Quarantine rows carry the reason code, the row number and, only when the number was valid and the pupil
is not erased, the ``student_key``. Their ``detail`` holds further reason codes, never input values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from .. import identity
from ..pseudonym import Pseudonymiser
from ..warehouse.audit import QuarantineRow, quarantine
from ..warehouse.bulk import copy_rows, create_temp_like
from . import validate as v
from .csvfile import ENROLLMENT, ERASURE, ParsedFile
from .erasure import erase

SOURCE = "enrollment"
TEMP = "enrollment_incoming"
TEMP_COLUMNS = ("student_key", "programme", "start_date", "end_date", "district_delivered", "district",
                "school_unit_code", "birth_year", "coordination_number", "file_checksum", "source_row", "run_id")


@dataclass
class LoadOutcome:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    erased_pupils: int = 0
    rows_erased: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return self.inserted + self.updated


@dataclass
class _Candidate:
    number: int
    key: str
    birth_year: int
    coordination: bool
    consent: str
    facts: v.RowFacts | None
    reasons: list[str]


def load_parsed(conn: psycopg.Connection, parsed: ParsedFile, pseudonymiser: Pseudonymiser, *,
                file_name: str, file_checksum: str, run_id: int | None, mart_pseudonymiser=None) -> LoadOutcome:
    """``mart_pseudonymiser`` (pseudonym.TermPseudonymiser) lets an erasure find the pupil's per-term rows
    in mart.participant_term; without it the default mart key is used (see erasure.erase)."""
    if parsed.kind == ERASURE:
        return _load_erasure(conn, parsed, pseudonymiser, file_name=file_name, file_checksum=file_checksum,
                             run_id=run_id, mart_pseudonymiser=mart_pseudonymiser)
    assert parsed.kind == ENROLLMENT
    return _load_enrollment(conn, parsed, pseudonymiser, file_name=file_name, file_checksum=file_checksum,
                            run_id=run_id, mart_pseudonymiser=mart_pseudonymiser)


def _quarantine(conn, out: LoadOutcome, rows: list[QuarantineRow], run_id, file_name, file_checksum) -> None:
    for r in rows:
        out.reasons[r.reason_code] = out.reasons.get(r.reason_code, 0) + 1
    out.quarantined += quarantine(conn, run_id, SOURCE, file_name, rows, file_checksum=file_checksum)


def _erased_among(conn: psycopg.Connection, keys: set[str]) -> set[str]:
    if not keys:
        return set()
    return {k for (k,) in conn.execute(
        "SELECT student_key FROM audit.erased_key WHERE student_key = ANY(%s)", (sorted(keys),))}


def _load_enrollment(conn, parsed: ParsedFile, pseudonymiser: Pseudonymiser, *, file_name: str,
                     file_checksum: str, run_id: int | None, mart_pseudonymiser=None) -> LoadOutcome:
    out = LoadOutcome(rows_read=len(parsed.rows))
    rejected: list[QuarantineRow] = []
    candidates: list[_Candidate] = []
    for row in parsed.rows:
        try:  # the number leaves the row here and is not kept past this call
            key, ident = pseudonymiser.key_for(row.values.pop("personnummer", None))
        except identity.InvalidIdentity as exc:
            rejected.append(QuarantineRow(exc.reason, row.number))
            continue
        consent = v.consent(row.values.get("samtycke"))
        if row.malformed:
            facts, reasons = None, [v.ROW_MALFORMED]
        else:
            facts, reasons = v.check_row(row.values)
        candidates.append(_Candidate(row.number, key, ident.birth_year, ident.coordination, consent, facts,
                                     reasons))
    parsed.rows.clear()  # drop the delivered values (names never got this far; see csvfile)

    refused = {c.key for c in candidates if c.consent == v.CONSENT_REFUSED}
    if refused:
        removed = erase(conn, refused, "consent_withdrawn", run_id, mart_pseudonymiser=mart_pseudonymiser)
        out.rows_erased += sum(removed.values())
    erased = _erased_among(conn, {c.key for c in candidates})
    out.erased_pupils = len(refused)

    accepted: list[_Candidate] = []
    first_seen: dict[tuple, _Candidate] = {}
    for c in candidates:
        if c.key in erased:
            # No pointer to the pupil: the erased-key list is the only trace they leave.
            code = v.CONSENT_WITHDRAWN if c.consent == v.CONSENT_REFUSED else v.ERASED
            rejected.append(QuarantineRow(code, c.number))
            continue
        if c.consent == v.CONSENT_UNCLEAR:
            rejected.append(QuarantineRow(v.CONSENT_INVALID, c.number, c.key, _also(c.reasons)))
            continue
        if c.facts is None:
            rejected.append(QuarantineRow(c.reasons[0], c.number, c.key, _also(c.reasons[1:])))
            continue
        identity_key = (c.key, c.facts.programme, c.facts.start_date)
        earlier = first_seen.get(identity_key)
        if earlier is not None:
            same = earlier.facts == c.facts
            rejected.append(QuarantineRow(v.DUPLICATE_IN_FILE, c.number, c.key,
                                          f"of row {earlier.number}, " + ("identical" if same else "conflicting")))
            continue
        first_seen[identity_key] = c
        accepted.append(c)

    if accepted:
        create_temp_like(conn, "staging.enrollment", TEMP)
        copy_rows(conn, f"pg_temp.{TEMP}", TEMP_COLUMNS, (
            (c.key, c.facts.programme, c.facts.start_date, c.facts.end_date, c.facts.district_delivered,
             c.facts.district, c.facts.school_unit_code, c.birth_year, c.coordination, file_checksum, c.number,
             run_id)
            for c in accepted
        ))
        dups = conn.execute(
            f"""DELETE FROM pg_temp.{TEMP} i USING staging.enrollment e
                WHERE e.student_key = i.student_key AND e.programme = i.programme AND e.start_date = i.start_date
                  AND coalesce(i.end_date, e.end_date) IS NOT DISTINCT FROM e.end_date
                  AND coalesce(i.school_unit_code, e.school_unit_code) IS NOT DISTINCT FROM e.school_unit_code
                  AND i.district_delivered = e.district_delivered AND i.district = e.district
                RETURNING i.source_row, i.student_key"""
        ).fetchall()
        for number, key in sorted(dups):
            rejected.append(QuarantineRow(v.DUPLICATE_ACROSS_FILES, number, key))
        flags = conn.execute(
            f"""INSERT INTO staging.enrollment AS e ({", ".join(TEMP_COLUMNS)})
                SELECT {", ".join(TEMP_COLUMNS)} FROM pg_temp.{TEMP}
                ON CONFLICT (student_key, programme, start_date) DO UPDATE SET
                    end_date = coalesce(EXCLUDED.end_date, e.end_date),
                    school_unit_code = coalesce(EXCLUDED.school_unit_code, e.school_unit_code),
                    district_delivered = EXCLUDED.district_delivered,
                    district = EXCLUDED.district,
                    updated_file_checksum = EXCLUDED.file_checksum,
                    updated_at = now()
                RETURNING (xmax = 0)"""
        ).fetchall()
        out.inserted = sum(1 for (new,) in flags if new)
        out.updated = len(flags) - out.inserted

    rejected.sort(key=lambda r: r.row_number or 0)
    _quarantine(conn, out, rejected, run_id, file_name, file_checksum)
    return out


def _also(reasons: list[str]) -> str | None:
    return ("also " + ", ".join(reasons)) if reasons else None


def _load_erasure(conn, parsed: ParsedFile, pseudonymiser: Pseudonymiser, *, file_name: str,
                  file_checksum: str, run_id: int | None, mart_pseudonymiser=None) -> LoadOutcome:
    out = LoadOutcome(rows_read=len(parsed.rows))
    rejected: list[QuarantineRow] = []
    keys: set[str] = set()
    for row in parsed.rows:
        try:
            key, _ = pseudonymiser.key_for(row.values.pop("personnummer", None))
        except identity.InvalidIdentity as exc:
            rejected.append(QuarantineRow(exc.reason, row.number))
            continue
        keys.add(key)
        out.inserted += 1  # a request row acted upon
    parsed.rows.clear()
    if keys:
        removed = erase(conn, keys, "erasure_request", run_id, mart_pseudonymiser=mart_pseudonymiser)
        out.rows_erased = sum(removed.values())
        out.erased_pupils = len(keys)
    _quarantine(conn, out, rejected, run_id, file_name, file_checksum)
    return out
