"""Reading a delivered list: bytes in, header-mapped rows out, or the whole file rejected with a reason.

Lists come as Swedish Excel writes them (DESIGN 3.2): ``;`` or ``,`` separated, UTF-8 with or without a
byte-order mark, or Windows-1252. The encoding is decided by trying strict UTF-8 first, then strict
Windows-1252; a file that is neither, or holds control characters, is not a text file. The separator is
the one that makes the most known column names out of the header line. Header names match in any case and
with stray spaces. Columns other than the known ones (names, case worker, comments) are dropped here, while
the file is read, and never leave this module.

The file is read as a stream, never whole (issue 17, finding 6): :func:`sniff` makes one pass in
chunks for the encoding (and the checksum the caller wants), :func:`parse_stream` a second pass through
``csv.reader``; only the known columns of each row are kept, so memory grows with the rows, not the bytes.

Nothing here logs, and no exception or reason carries a value from the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

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


class FileRejected(Exception):
    """The file as a whole cannot be read as a list. ``reason`` is a code; ``detail`` never holds file content."""

    def __init__(self, reason: str, detail: str | None = None, *, checksum: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.checksum = checksum  # the file's sha256 when it was computed before the rejection


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


CHUNK = 1 << 16  # bytes read at a time
HEADER_PREFIX = 1 << 16  # characters read to find the header line and the separator
Opener = Callable[[], BinaryIO]


@dataclass
class Sniffed:
    encoding: str  # utf-8 | utf-8-sig | cp1252
    checksum: str
    size: int


def _check_text(chunk: str) -> None:
    if _CONTROL.search(chunk):
        raise FileRejected("not_text")


def _decodes(stream: BinaryIO, codec: str, first: bytes) -> bool:
    """Whether the whole stream (after ``first``, already read) decodes strictly in ``codec``."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        _check_text(decoder.decode(first))
        while chunk := stream.read(CHUNK):
            _check_text(decoder.decode(chunk))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(open_stream: Opener, *, max_bytes: int | None = None, digest=None) -> Sniffed:
    """One pass over the file in chunks: sha256, size, encoding (strict UTF-8 with or without BOM, then strict
    Windows-1252). Raises FileRejected (file_too_large, empty_file, encoding_unsupported, not_text).

    The checksum is taken over the first pass only; a too-large file is still checksummed (in chunks) so
    its rejection can be recorded and a re-delivery recognised."""
    import hashlib

    sha = digest or hashlib.sha256()
    size = 0
    head = b""
    nul = False
    blank = True
    with open_stream() as stream:
        while chunk := stream.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
            if len(head) < 4:
                head += chunk[:4]
            nul = nul or b"\x00" in chunk
            blank = blank and not chunk.replace(_BOM, b"").strip(b" \t\r\n")
    result_checksum = sha.hexdigest()
    if max_bytes is not None and size > max_bytes:
        raise FileRejected("file_too_large", f"{size} bytes, limit {max_bytes}", checksum=result_checksum)
    if blank:
        raise FileRejected("empty_file", checksum=result_checksum)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FileRejected("encoding_unsupported", "UTF-16", checksum=result_checksum)
    if nul:
        raise FileRejected("not_text", checksum=result_checksum)
    bom = head.startswith(_BOM)
    candidates = ("utf-8",) if bom else ("utf-8", "cp1252")
    for codec in candidates:
        with open_stream() as stream:
            if bom:
                stream.read(len(_BOM))
            try:
                ok = _decodes(stream, codec, b"")
            except FileRejected as exc:
                exc.checksum = result_checksum
                raise
        if ok:
            return Sniffed("utf-8-sig" if bom else codec, result_checksum, size)
    raise FileRejected("not_text", checksum=result_checksum)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) of a list held in memory (small inputs, tests); see :func:`sniff`."""
    sniffed = sniff(lambda: io.BytesIO(data))
    text = data[len(_BOM):].decode("utf-8") if sniffed.encoding == "utf-8-sig" else data.decode(sniffed.encoding)
    return unicodedata.normalize("NFC", text), sniffed.encoding


def _blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _records(lines, delimiter: str):
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True,
                      skipinitialspace=False, strict=False)


def _header(text: str, delimiter: str) -> list[str] | None:
    try:
        for record in _records(io.StringIO(text, newline=""), delimiter):
            if not _blank(record):
                return record
    except csv.Error:
        return None
    return None


def _text_stream(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    codec = "utf-8-sig" if encoding == "utf-8-sig" else encoding
    return io.TextIOWrapper(stream, encoding=codec, errors="strict", newline="")


def choose_header(names_by_delimiter: dict[str, list[str]], kind: str) -> tuple[str, list[str]]:
    """The separator whose header makes the most known column names (ties: more columns, then order)."""
    known = set(REQUIRED[kind]) | set(OPTIONAL[kind])
    best: tuple[int, int, str, list[str]] | None = None
    for delimiter, header in names_by_delimiter.items():
        names = [normalise_header(h) for h in header]
        score = sum(1 for n in set(names) if n in known)
        candidate = (score, len(header), delimiter, names)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise FileRejected("empty_file")
    return best[2], best[3]


def columns_of(names: list[str], kind: str) -> tuple[tuple[str, ...], dict[str, int]]:
    """(known columns present in canonical order, position of each); FileRejected when required ones are
    missing or a known one is repeated. Shared by the CSV and the workbook readers."""
    known = set(REQUIRED[kind]) | set(OPTIONAL[kind])
    missing = [c for c in REQUIRED[kind] if c not in names]
    if missing:
        raise FileRejected("missing_columns", "missing " + ", ".join(missing))
    duplicated = sorted({n for n in names if n in known and names.count(n) > 1})
    if duplicated:
        raise FileRejected("duplicate_columns", "repeated " + ", ".join(duplicated))
    positions = {n: i for i, n in enumerate(names) if n in known}
    return tuple(c for c in (*REQUIRED[kind], *OPTIONAL[kind]) if c in positions), positions


def rows_from_records(records: Iterator[list[str]], positions: dict[str, int], width: int) -> Iterator[RawRow]:
    """RawRows from the records after the header: known columns only, NFC, blank records skipped but counted."""
    number = 0
    for record in records:
        number += 1
        if _blank(record):
            continue  # blank line, or a line of separators only (Excel)
        # Extra cells that hold something mean the row does not line up with the header.
        malformed = len(record) > width and not _blank(record[width:])
        values = {c: (unicodedata.normalize("NFC", record[i]) if i < len(record) else "")
                  for c, i in positions.items()}
        yield RawRow(number, values, malformed)


def parse_stream(open_stream: Opener, kind: str = ENROLLMENT, *, encoding: str | None = None,
                 max_bytes: int | None = None) -> ParsedFile:
    """Read a list from a binary stream (opened by ``open_stream``, called once or twice), in chunks.

    Raises FileRejected (file_too_large, empty_file, not_text, encoding_unsupported, unreadable_csv,
    missing_columns, duplicate_columns) when the file as a whole is unusable. ``encoding`` skips the
    sniffing pass when the caller has made it already."""
    if kind not in REQUIRED:
        raise ValueError(f"unknown list kind {kind!r}")
    if encoding is None:
        encoding = sniff(open_stream, max_bytes=max_bytes).encoding
    with open_stream() as stream:
        text = _text_stream(stream, encoding)
        prefix = text.read(HEADER_PREFIX)
        headers = {}
        for delimiter in DELIMITERS:
            header = _header(unicodedata.normalize("NFC", prefix), delimiter)
            if header is None:
                raise FileRejected("unreadable_csv" if prefix.strip() else "empty_file")
            headers[delimiter] = header
        delimiter, names = choose_header(headers, kind)
        columns, positions = columns_of(names, kind)
        parsed = ParsedFile(kind=kind, encoding=encoding, delimiter=delimiter, columns=columns)

    with open_stream() as stream:
        text = _text_stream(stream, encoding)
        try:
            records = _records(text, delimiter)
            for record in records:  # up to and including the header
                if not _blank(record):
                    break
            parsed.rows.extend(rows_from_records(records, positions, len(names)))
        except csv.Error:
            raise FileRejected("unreadable_csv") from None
        except UnicodeDecodeError:
            raise FileRejected("not_text") from None
    return parsed


def parse(data: bytes, kind: str = ENROLLMENT) -> ParsedFile:
    """Read a list held in memory (see :func:`parse_stream`)."""
    return parse_stream(lambda: io.BytesIO(data), kind)
