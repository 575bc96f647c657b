"""Swedish personal identity numbers (personnummer and samordningsnummer).

Parsing and the check digit come from the maintained ``personnummer`` library; this module only decides
what we accept and the one normal form (12 digits, no separator) that the pseudonym is computed over.
Nothing here logs or raises with the number in the message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from personnummer import personnummer as _pnr

_STRIP = re.compile(r"[\s]")


class InvalidIdentity(ValueError):
    """Raised with a reason code, never with the number itself."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    normalised: str  # 12 digits, YYYYMMDDNNNC
    birth_date: dt.date
    coordination: bool
    sex: str  # "Man" | "Kvinna" (from the serial number's parity)

    @property
    def birth_year(self) -> int:
        return self.birth_date.year


def parse(raw: object, *, today: dt.date | None = None) -> Identity:
    """Validate and normalise a personnummer or samordningsnummer in any common format.

    Accepts 10 or 12 digits, with or without ``-``/``+``. Raises InvalidIdentity with reason
    ``pnr_empty``, ``pnr_format``, ``pnr_checksum`` or ``pnr_date``.
    """
    if raw is None:
        raise InvalidIdentity("pnr_empty")
    text = _STRIP.sub("", str(raw))
    if not text:
        raise InvalidIdentity("pnr_empty")
    if not re.fullmatch(r"(\d{6}|\d{8})[-+]?\d{4}", text):
        raise InvalidIdentity("pnr_format")
    try:
        parsed = _pnr.Personnummer(text)
    except _pnr.PersonnummerParseException:
        raise InvalidIdentity("pnr_format") from None
    except _pnr.PersonnummerInvalidException:
        raise InvalidIdentity(_invalid_reason(text)) from None
    try:
        birth = parsed.get_date()
    except ValueError:
        raise InvalidIdentity("pnr_date") from None
    if today is not None and birth > today:
        raise InvalidIdentity("pnr_date")
    return Identity(
        normalised=parsed.format(long_format=True),
        birth_date=birth,
        coordination=parsed.is_coordination_number(),
        sex="Man" if parsed.is_male() else "Kvinna",
    )


def _invalid_reason(text: str) -> str:
    ten = re.sub(r"\D", "", text)[-10:]
    if luhn_check_digit(ten[:9]) != int(ten[9]):
        return "pnr_checksum"
    return "pnr_date"


def is_valid(raw: object) -> bool:
    try:
        parse(raw)
    except InvalidIdentity:
        return False
    return True


def luhn_check_digit(nine_digits: str) -> int:
    """Check digit over YYMMDDNNN, for generating synthetic numbers."""
    total = 0
    for i, ch in enumerate(nine_digits):
        v = int(ch) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10


# Any run of digits that could be a personnummer, used by privacy scans in tests and tools.
CANDIDATE = re.compile(r"(?<!\d)(?:\d{8}|\d{6})[-+]?\d{4}(?!\d)")


# A personnummer-looking run in free text such as a file name: 6 or 8 digits, an optional separator
# (also ``_``, ``.`` or a space, as people type them in names), 4 digits. Wider than CANDIDATE on purpose:
# a date and time (``20250901_1200``) is scrubbed too, which costs nothing.
_TEXT_CANDIDATE = re.compile(r"(?<!\d)(?:\d{8}|\d{6})[-+_. ]?\d{4}(?!\d)")
SCRUBBED = "XXXXXXXX-XXXX"


def scrub(text: str) -> str:
    """``text`` with every run that could be a personnummer replaced by XXXXXXXX-XXXX (issue 17, finding 7)."""
    return _TEXT_CANDIDATE.sub(SCRUBBED, text)
