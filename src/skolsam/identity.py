"""Swedish personal identity numbers (personnummer and samordningsnummer).

Parsing and the check digit come from the maintained ``personnummer`` library; this module only decides
what we accept and the one normal form (12 digits, no separator) that the pseudonym is computed over.
Nothing here logs or raises with the number in the message.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from personnummer import personnummer as _pnr

from .errors import DeterministicError

_STRIP = re.compile(r"[\s]")
_FORM = re.compile(r"(\d{6}|\d{8})[-+]?\d{4}")


class InvalidIdentity(DeterministicError, ValueError):
    """Raised with a reason code, never with the number itself."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Identity(NamedTuple):  # immutable; a tuple because it is made once per person of every extract
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
    text = raw if type(raw) is str else str(raw)
    if len(text) == 12 and text.isascii() and text.isdigit():  # the register's own form: no pattern to match
        return _parse_long(text, today)
    text = _STRIP.sub("", text)
    if not text:
        raise InvalidIdentity("pnr_empty")
    if not _FORM.fullmatch(text):
        raise InvalidIdentity("pnr_format")
    if len(text) >= 12:  # the century is given: nothing to infer from today's date
        return _parse_long(text.replace("-", "").replace("+", ""), today)
    return _parse_with_library(text, today)


def _parse_long(digits: str, today: dt.date | None) -> Identity:
    """The 12-digit form (YYYYMMDDNNNC), as the library reads it (its own check order: serial 000 is a format
    error, then the check digit, then the date), without the library's object and regular expressions:
    every person of every extract passes here, and the library's parse was 60 % of a person's cost.
    ``tests/test_identity.py`` holds it equal to :func:`_parse_with_library` on generated numbers."""
    serial = digits[8:11]
    if serial == "000":
        raise InvalidIdentity("pnr_format")
    if luhn_check_digit(digits[2:11]) != ord(digits[11]) - 48:
        raise InvalidIdentity("pnr_checksum")
    day = int(digits[6:8])
    coordination = day > 60
    try:
        birth = dt.date(int(digits[:4]), int(digits[4:6]), day - 60 if coordination else day)
    except ValueError:
        raise InvalidIdentity("pnr_date") from None
    if today is not None and birth > today:
        raise InvalidIdentity("pnr_date")
    return Identity(normalised=digits, birth_date=birth, coordination=coordination,
                    sex="Man" if (ord(serial[2]) - 48) % 2 else "Kvinna")


def _parse_with_library(text: str, today: dt.date | None) -> Identity:
    """Any accepted form through the ``personnummer`` library (10 digits: the century from today's date and
    the separator, ``+`` for a hundred years or more)."""
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


# A digit doubled, digits summed: the Luhn weight of a digit in an even position (0-based).
_DOUBLED = tuple(2 * d - 9 if d > 4 else 2 * d for d in range(10))


def luhn_check_digit(nine_digits: str) -> int:
    """Check digit over YYMMDDNNN (also for generating synthetic numbers)."""
    total = 0
    for i, ch in enumerate(nine_digits):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i % 2 == 0 else d
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
