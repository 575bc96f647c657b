"""Row rules for enrollment lists and their reason codes (DESIGN 3.2).

Every function takes a value as delivered and returns a clean value or a reason code; none of them logs
or puts the value in an exception or a detail.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .. import districts

# Reason codes written to audit.quarantine.reason_code by the enrollment intake.
PNR_REASONS = ("pnr_empty", "pnr_format", "pnr_checksum", "pnr_date")  # from skolsam.identity.parse
PROGRAMME_UNKNOWN = "programme_unknown"
DISTRICT_UNKNOWN = "district_unknown"
START_DATE_INVALID = "start_date_invalid"
END_DATE_INVALID = "end_date_invalid"
END_BEFORE_START = "end_before_start"
SCHOOL_UNIT_CODE_INVALID = "school_unit_code_invalid"
CONSENT_INVALID = "consent_invalid"
ROW_MALFORMED = "row_malformed"
DUPLICATE_IN_FILE = "duplicate_in_file"
DUPLICATE_ACROSS_FILES = "duplicate_across_files"
CONSENT_WITHDRAWN = "consent_withdrawn"
ERASED = "erased"

REASON_CODES = (
    *PNR_REASONS, PROGRAMME_UNKNOWN, DISTRICT_UNKNOWN, START_DATE_INVALID, END_DATE_INVALID, END_BEFORE_START,
    SCHOOL_UNIT_CODE_INVALID, CONSENT_INVALID, ROW_MALFORMED, DUPLICATE_IN_FILE, DUPLICATE_ACROSS_FILES,
    CONSENT_WITHDRAWN, ERASED,
)

PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
_PROGRAMME_BY_FOLDED = {re.sub(r"\s+", "", p).casefold(): p for p in PROGRAMMES}

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Enrollment periods outside this range are typing errors, not programme periods.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)
_UNIT = re.compile(r"^\d{8}$")

CONSENT_GIVEN = "given"
CONSENT_REFUSED = "refused"
CONSENT_UNCLEAR = "unclear"


def programme(raw: str | None) -> str | None:
    """'PPSS', 'SkolFam' or 'KP/KF' whatever the case and spaces ('kp / kf', ' SkolFam '); else None."""
    if raw is None:
        return None
    return _PROGRAMME_BY_FOLDED.get(re.sub(r"\s+", "", raw).casefold())


def parse_date(raw: str | None) -> dt.date | None:
    """A date written YYYY-MM-DD or YYYYMMDD; None when empty. Raises ValueError (no value in it) otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    m = _ISO.match(text) or _COMPACT.match(text)
    if not m:
        raise ValueError("date format")
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError("date value") from None
    if not EARLIEST <= day <= LATEST:
        raise ValueError("date range")
    return day


def school_unit_code(raw: str | None) -> str | None:
    """8 digits, or None when empty; raises ValueError otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    if not _UNIT.match(text):
        raise ValueError("school unit code")
    return text


def consent(raw: str | None) -> str:
    """'given' (empty or ja), 'refused' (nej) or 'unclear' (anything else: the row is not used)."""
    text = (raw or "").strip().casefold()
    if text in ("", "ja"):
        return CONSENT_GIVEN
    if text == "nej":
        return CONSENT_REFUSED
    return CONSENT_UNCLEAR


@dataclass(frozen=True)
class RowFacts:
    """The validated, non-identifying content of one enrollment row."""

    programme: str
    start_date: dt.date
    end_date: dt.date | None
    district_delivered: str
    district: str
    school_unit_code: str | None


def check_row(values: dict[str, str]) -> tuple[RowFacts | None, list[str]]:
    """Validate everything but the personnummer. Returns (facts, []) or (None, reason codes in rule order)."""
    reasons: list[str] = []
    prog = programme(values.get("insats"))
    if prog is None:
        reasons.append(PROGRAMME_UNKNOWN)
    found = districts.lookup(values.get("stadsdelsförvaltning"))
    if found is None:
        reasons.append(DISTRICT_UNKNOWN)
    start = end = None
    start_ok = end_ok = True
    try:
        start = parse_date(values.get("startdatum"))
        if start is None:
            start_ok = False
    except ValueError:
        start_ok = False
    if not start_ok:
        reasons.append(START_DATE_INVALID)
    try:
        end = parse_date(values.get("slutdatum"))
    except ValueError:
        end_ok = False
        reasons.append(END_DATE_INVALID)
    if start_ok and end_ok and end is not None and end < start:
        reasons.append(END_BEFORE_START)
    unit = None
    try:
        unit = school_unit_code(values.get("skolenhetskod"))
    except ValueError:
        reasons.append(SCHOOL_UNIT_CODE_INVALID)
    if reasons:
        return None, reasons
    assert prog is not None and found is not None and start is not None
    return RowFacts(prog, start, end, found.name, found.current, unit), []
