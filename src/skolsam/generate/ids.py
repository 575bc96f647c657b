"""Deterministic identifiers: uuids from a seeded generator or from a name, and synthetic civic numbers."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from ..identity import luhn_check_digit

# Namespace for name-based (uuid5) ids of things that must be stable within a dataset: syllabuses,
# organisations, activities, teachers.
NAMESPACE = uuid.UUID("5b0c7a52-8f1e-4d0c-9a57-2f6c1d3e9b10")

_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def random_uuid(rng: random.Random) -> str:
    """A version-4 uuid drawn from ``rng`` (so a seed gives the same ids every run)."""
    h = f"{(rng.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def name_uuid(seed: int, *parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join([str(seed), *map(str, parts)])))


def civic_number(
    rng: random.Random, birth: dt.date, male: bool, coordination: bool, used: set[str]
) -> str:
    """A valid 12-digit personnummer (or samordningsnummer, day + 60) not yet in ``used``.

    The serial number's parity gives the sex (odd = man), as identity.parse reads it back. Serial 000
    is never used (the personnummer library rejects it).
    """
    day = birth.day + (60 if coordination else 0)
    yymmdd = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}"
    century = f"{birth.year // 100:02d}"
    for _ in range(10_000):
        serial = rng.randrange(0, 500) * 2 + 1 if male else rng.randrange(1, 500) * 2
        nine = f"{yymmdd}{serial:03d}"
        full = f"{century}{nine}{luhn_check_digit(nine)}"
        if full not in used:
            used.add(full)
            return full
    raise RuntimeError("no free serial number left for a birth date")


def format_civic(civic12: str, form: str) -> str:
    """A 12-digit number written the ways lists carry it: 10dash, 10, 12 or 12dash."""
    if form == "10dash":
        return f"{civic12[2:8]}-{civic12[8:]}"
    if form == "10":
        return civic12[2:]
    if form == "12dash":
        return f"{civic12[:8]}-{civic12[8:]}"
    return civic12
