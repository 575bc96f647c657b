"""Reading a delivered list: bytes in, header-mapped rows out, or the whole file rejected with a reason.

Lists come as Swedish Excel writes them (DESIGN 3.2): ``;`` or ``,`` separated, UTF-8 with or without a
byte-order mark, or Windows-1252. The encoding is decided by trying strict UTF-8 first, then strict
Windows-1252; a file that is neither, or holds control characters, is not a text file. The separator is
the one that makes the most known column names out of the header line. Header names match in any case and
with stray spaces. Columns other than the known ones (names, case worker, comments) are dropped here, while
the file is read, and never leave this module.

Nothing here logs, and no exception or reason carries a value from the file.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from ..errors import DeterministicError

ENROLLMENT = "enrollment"
ERASURE = "erasure"

# Canonical column names per kind of file; the first group is required.
REQUIRED = {
    ENROLLMENT: ("personnummer", "insats", "stadsdelsförvaltning", "startdatum"),
    ERASURE: ("personnummer",),
}
OPTIONAL = {
    ENROLLMENT: ("skolenhetskod", "slutdatum", "samtycke"),
    ERASURE: (),  # 'orsak' is free text written by a person: read past, never kept
}
# Spellings seen when a list has passed through a system without å/ä/ö.
ALIASES = {
    "stadsdelsforvaltning": "stadsdelsförvaltning",
    "stadsdelsfoervaltning": "stadsdelsförvaltning",
}
DELIMITERS = (";", ",", "\t")

_BOM = b"\xef\xbb\xbf"
# C0 control characters other than tab, line feed, form feed and carriage return, and DEL: not in a text list.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


class FileRejected(DeterministicError):
    """The file as a whole cannot be read as a list. ``reason`` is a code; ``detail`` never holds file content."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(repr=False)
class RawRow:
    """One data record of a list: known columns only, values as delivered (stripped of nothing).

    ``number`` is the 1-based record number after the header, so record 1 is the second row in Excel.
    The values include the personnummer: this object lives in memory only, and its repr shows no value.
    """

    number: int
    values: dict[str, str]
    malformed: bool = False

    def __repr__(self) -> str:
        return f"RawRow(number={self.number}, <values hidden>)"


@dataclass(repr=False)
class ParsedFile:
    kind: str
    encoding: str
    delimiter: str
    columns: tuple[str, ...]  # the known columns present, canonical names
    rows: list[RawRow] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ParsedFile(kind={self.kind!r}, encoding={self.encoding!r}, delimiter={self.delimiter!r}, "
                f"rows={len(self.rows)})")


def normalise_header(name: str) -> str:
    text = unicodedata.normalize("NFC", name).replace("\ufeff", "")
    text = _SPACE.sub(" ", text).strip().casefold()
    return ALIASES.get(text, text)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) by strict UTF-8 (BOM or not), then strict Windows-1252; else FileRejected."""
    if not data.strip(b" \t\r\n" + _BOM):
        raise FileRejected("empty_file")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FileRejected("encoding_unsupported", "UTF-16")
    if b"\x00" in data:
        raise FileRejected("not_text")
    if data.startswith(_BOM):
        try:
            text, encoding = data[len(_BOM):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise FileRejected("not_text") from None
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                raise FileRejected("not_text") from None
    if _CONTROL.search(text):
        raise FileRejected("not_text")
    return unicodedata.normalize("NFC", text), encoding


def _blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _records(text: str, delimiter: str):
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                      skipinitialspace=False, strict=False)


def _header(text: str, delimiter: str) -> list[str] | None:
    for record in _records(text, delimiter):
        if not _blank(record):
            return record
    return None


def parse(data: bytes, kind: str = ENROLLMENT) -> ParsedFile:
    """Read a list; raises FileRejected (empty_file, not_text, encoding_unsupported, unreadable_csv,
    missing_columns, duplicate_columns) when the file as a whole is unusable."""
    if kind not in REQUIRED:
        raise ValueError(f"unknown list kind {kind!r}")
    text, encoding = decode(data)
    known = set(REQUIRED[kind]) | set(OPTIONAL[kind])

    best: tuple[int, int, str, list[str]] | None = None
    try:
        for delimiter in DELIMITERS:
            header = _header(text, delimiter)
            if header is None:
                raise FileRejected("empty_file")
            names = [normalise_header(h) for h in header]
            score = sum(1 for n in set(names) if n in known)
            candidate = (score, len(header), delimiter, names)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    except csv.Error:
        raise FileRejected("unreadable_csv") from None
    assert best is not None
    _, _, delimiter, names = best

    missing = [c for c in REQUIRED[kind] if c not in names]
    if missing:
        raise FileRejected("missing_columns", "missing " + ", ".join(missing))
    duplicated = sorted({n for n in names if n in known and names.count(n) > 1})
    if duplicated:
        raise FileRejected("duplicate_columns", "repeated " + ", ".join(duplicated))
    positions = {n: i for i, n in enumerate(names) if n in known}

    parsed = ParsedFile(kind=kind, encoding=encoding, delimiter=delimiter,
                        columns=tuple(c for c in (*REQUIRED[kind], *OPTIONAL[kind]) if c in positions))
    width = len(names)
    try:
        records = _records(text, delimiter)
        seen_header = False
        number = 0
        for record in records:
            if not seen_header:
                if _blank(record):
                    continue
                seen_header = True
                continue
            number += 1
            if _blank(record):
                continue  # blank line, or a line of separators only (Excel)
            # Extra cells that hold something mean the row does not line up with the header.
            malformed = len(record) > width and not _blank(record[width:])
            values = {c: (record[i] if i < len(record) else "") for c, i in positions.items()}
            parsed.rows.append(RawRow(number, values, malformed))
    except csv.Error:
        raise FileRejected("unreadable_csv") from None
    return parsed
