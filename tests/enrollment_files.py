"""Helpers building enrollment lists for tests: synthetic numbers, invented names, any encoding and layout.

Numbers are made with skolsam.identity.luhn_check_digit from an invented birth date and serial; names are
obviously made up. Nothing here resembles a real person.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from skolsam.identity import luhn_check_digit

HEADER = ["förnamn", "efternamn", "personnummer", "insats", "stadsdelsförvaltning", "skolenhetskod",
          "startdatum", "slutdatum", "samtycke", "handläggare", "kommentar"]
# Invented names, spelt with å/ä/ö so the encodings are tested on them too.
GIVEN = ("Testa", "Provå", "Exempla", "Låtsas", "Fiktiva", "Påhitta", "Övnings", "Dummyä")
FAMILY = ("Testsson", "Provsdöttir", "Exempelström", "Låtsasberg", "Fiktivåker", "Påhittlund")
CASEWORKER = "Handläggar Testsdotter"


def pnr(seq: int, *, year: int = 2012, month: int = 5, day: int = 17, coordination: bool = False,
        form: str = "10dash") -> str:
    """A synthetic, check-digit-valid number; ``seq`` (1..999) picks the serial. Forms: 10dash, 10, 12, 12dash."""
    assert 1 <= seq <= 999
    d = day + (60 if coordination else 0)
    nine = f"{year % 100:02d}{month:02d}{d:02d}{seq:03d}"
    ten = nine + str(luhn_check_digit(nine))
    full = f"{year // 100:02d}{ten}"
    return {"10dash": f"{ten[:6]}-{ten[6:]}", "10": ten, "12": full, "12dash": f"{full[:8]}-{full[8:]}"}[form]


def normalised(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits if len(digits) == 12 else "20" + digits


def bad_checksum(number: str) -> str:
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)


def row(seq: int, programme: str = "PPSS", district: str = "Järva", start: str = "2025-09-01", end: str = "",
        unit: str = "12345678", consent: str = "", *, number: str | None = None, **kw) -> dict[str, str]:
    """A list row for pupil ``seq`` with an invented name; override any column by keyword."""
    r = {
        "förnamn": GIVEN[seq % len(GIVEN)],
        "efternamn": FAMILY[seq % len(FAMILY)],
        "personnummer": number if number is not None else pnr(seq),
        "insats": programme,
        "stadsdelsförvaltning": district,
        "skolenhetskod": unit,
        "startdatum": start,
        "slutdatum": end,
        "samtycke": consent,
        "handläggare": CASEWORKER,
        "kommentar": f"Anteckning om {GIVEN[seq % len(GIVEN)]}",
    }
    r.update(kw)
    return r


def render(rows: list[dict[str, str]], *, header: list[str] | None = None, header_names: dict[str, str] | None = None,
           delimiter: str = ";", encoding: str = "utf-8", quote_all: bool = False, trailing_blank: int = 0,
           separator_line: bool = False, crlf: bool = True) -> bytes:
    """The bytes of a list. ``header_names`` respells header cells (e.g. {"insats": " INSATS "});
    ``encoding`` is utf-8, utf-8-sig (with BOM) or cp1252."""
    cols = header or HEADER
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n",
                   quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    names = header_names or {}
    w.writerow([names.get(c, c) for c in cols])
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    eol = "\r\n" if crlf else "\n"
    if separator_line:
        buf.write(delimiter * (len(cols) - 1) + eol)
    buf.write(eol * trailing_blank)
    return buf.getvalue().encode(encoding)


def write(folder: Path, name: str, rows: list[dict[str, str]], **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(render(rows, **kw))
    return path


def erasure_request(folder: Path, name: str, numbers: list[str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["personnummer;orsak"] + [f"{n};Begäran om radering" for n in numbers]
    path = folder / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def iso(day: dt.date) -> str:
    return day.isoformat()


def seed_persons(url: str, dataset: Path, pseudonymiser) -> int:
    """staging.ss12000_person from a generated dataset's persons, pseudonymised as the extractor does it."""
    import json

    from skolsam.warehouse.bulk import copy_rows
    from skolsam.warehouse.connection import transaction

    rows = []
    with open(dataset / "ss12000" / "persons.jsonl", encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            key, ident = pseudonymiser.key_for(p["civicNo"]["value"])
            rows.append((pseudonymiser.source_ref("person", p["id"]), key, p["sex"], ident.birth_year,
                         p["securityMarking"] != "Ingen", p["meta"]["modified"]))
    with transaction(url) as conn:
        return copy_rows(conn, "staging.ss12000_person",
                         ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at"), rows)


def read_list(path: Path) -> list[dict[str, str]]:
    """A list's rows as header (lower-cased, stripped) -> value, for checking what went in."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
    first = text.splitlines()[0]
    delim = "," if first.count(",") > first.count(";") else ";"
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    header = [h.strip().lower() for h in records[0]]
    return [dict(zip(header, r)) for r in records[1:] if any(c.strip() for c in r)]
