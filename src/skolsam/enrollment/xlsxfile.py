"""Reading a delivered Excel workbook (``.xlsx``, issue 13 item 1): the same rows out as csvfile gives.

The workbook must have exactly one sheet, the header (the columns of DESIGN 3.2) on its first row. Cells
are typed as Excel stores them, and each becomes the text a CSV export would have held:

- a number: its integer digits (``201205170051``, ``12345678``); a personnummer stored as a number loses a
  leading zero (``0512171234`` → 512171234), so a 9-digit one gets it back, as a school unit code of fewer
  than 8 digits does; a fraction stays as Python prints it (and fails validation);
- a date cell (a number with a date format, which openpyxl returns as a datetime): ``YYYY-MM-DD``;
- text: as typed, so a text date or a personnummer typed with a dash parses as in a CSV;
- a formula: the value Excel cached when it saved the file (``data_only``), never the formula.

Read with openpyxl in read-only mode (rows streamed from the sheet XML, through defusedxml when installed).
Refused before openpyxl sees the file, each with a reason code: not a zip (``not_xlsx``), an encrypted
workbook (an OLE container with ``EncryptionInfo``: ``workbook_encrypted``; any other OLE file is an old
``.xls``: ``workbook_unsupported``), macros (``xl/vbaProject.bin`` or a macro content type:
``workbook_macros``), a sheet whose XML unpacks to more than UNPACKED_MAX bytes (``workbook_too_large``, a
zip bomb), and after opening: several sheets (``workbook_several_sheets``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import zipfile
from typing import BinaryIO, Callable, Iterator

from . import csvfile
from .csvfile import ENROLLMENT, FileRejected, ParsedFile, RawRow

NOT_XLSX = "not_xlsx"
ENCRYPTED = "workbook_encrypted"
UNSUPPORTED = "workbook_unsupported"
MACROS = "workbook_macros"
SEVERAL_SHEETS = "workbook_several_sheets"
TOO_LARGE = "workbook_too_large"
REASONS = (NOT_XLSX, ENCRYPTED, UNSUPPORTED, MACROS, SEVERAL_SHEETS, TOO_LARGE)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
# Unpacked size of the workbook's parts: a real list of a few thousand rows unpacks to a few MB.
UNPACKED_MAX = 200_000_000
_MACRO_TYPES = (b"vnd.ms-office.vbaProject", b"macroEnabled")
# Columns whose numeric cells get back the leading zeros a number drops.
_DIGITS = {"personnummer": (9, 10), "skolenhetskod": (None, 8)}

Opener = Callable[[], BinaryIO]


def _is_encrypted(open_stream: Opener) -> bool:
    tail = b""
    with open_stream() as fh:
        while chunk := fh.read(1 << 16):
            if _ENCRYPTION_INFO in tail + chunk:
                return True
            tail = chunk[-len(_ENCRYPTION_INFO):]
    return False


def _check_container(open_stream: Opener) -> None:
    with open_stream() as fh:
        head = fh.read(8)
    if head.startswith(_OLE):
        raise FileRejected(ENCRYPTED if _is_encrypted(open_stream) else UNSUPPORTED)
    if not head.startswith(b"PK"):
        raise FileRejected(NOT_XLSX)
    with open_stream() as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                names = zf.namelist()
                if any(n.lower().endswith("vbaproject.bin") for n in names):
                    raise FileRejected(MACROS, "the workbook holds a VBA project")
                if "[Content_Types].xml" in names:
                    with zf.open("[Content_Types].xml") as ct:
                        types = ct.read(1 << 20)
                    if any(t in types for t in _MACRO_TYPES):
                        raise FileRejected(MACROS, "a macro-enabled workbook")
                if sum(i.file_size for i in zf.infolist()) > UNPACKED_MAX:
                    raise FileRejected(TOO_LARGE, f"unpacks to more than {UNPACKED_MAX} bytes")
        except FileRejected:
            raise
        except Exception:  # BadZipFile, zlib.error, NotImplementedError (a bogus zip version), EOFError, ...
            raise FileRejected(NOT_XLSX) from None


def cell_text(value: object, column: str | None = None) -> str:
    """A cell's value as the text a CSV export would hold (see the module doc)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        pad_from, width = _DIGITS.get(column or "", (None, None))
        if width and value >= 0 and (len(text) == pad_from or (pad_from is None and len(text) < width)):
            text = text.zfill(width)
        return text
    if isinstance(value, (dt.time, dt.timedelta)):
        return str(value)
    return str(value)


def _rows(sheet) -> Iterator[tuple]:
    yield from sheet.iter_rows(values_only=True)


def parse_stream(open_stream: Opener, kind: str = ENROLLMENT) -> ParsedFile:
    """Read the first (and only) sheet of a workbook into the rows csvfile.parse_stream gives for a CSV."""
    if kind not in csvfile.REQUIRED:
        raise ValueError(f"unknown list kind {kind!r}")
    _check_container(open_stream)
    import openpyxl

    with open_stream() as fh:
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False)
        except FileRejected:
            raise
        except Exception:  # openpyxl raises many kinds for a broken workbook; none names a cell value here
            raise FileRejected(NOT_XLSX) from None
        try:
            if len(wb.sheetnames) != 1:
                raise FileRejected(SEVERAL_SHEETS, f"{len(wb.sheetnames)} sheets; deliver one")
            rows = _rows(wb.worksheets[0])
            try:
                header = next(rows, None)
                if header is None or all(cell_text(c).strip() == "" for c in header):
                    raise FileRejected("empty_file", "no header on the first row")
                cells = [cell_text(c) for c in header]
                while cells and not cells[-1].strip():
                    cells.pop()
                names = [csvfile.normalise_header(c) for c in cells]
                columns, positions = csvfile.columns_of(names, kind)
                parsed = ParsedFile(kind=kind, encoding="xlsx", delimiter="", columns=columns)
                by_position = {i: c for c, i in positions.items()}
                width = len(names)
                number = 0
                for record in rows:
                    number += 1
                    text = [cell_text(v, by_position.get(i)) for i, v in enumerate(record)]
                    if not any(t.strip() for t in text):
                        continue
                    malformed = len(text) > width and any(t.strip() for t in text[width:])
                    values = {c: (unicodedata.normalize("NFC", text[i]) if i < len(text) else "")
                              for c, i in positions.items()}
                    parsed.rows.append(RawRow(number, values, malformed))
            except FileRejected:
                raise
            except Exception:
                raise FileRejected(NOT_XLSX) from None
        finally:
            wb.close()
    return parsed
