"""Social-services enrollment lists (DESIGN 3.2) as coordinators really deliver them: a little dirty.

Deliveries: one list per coordinator and term, dated four weeks into the term
(``<programme>_<district>_<YYYY-MM>.csv``; SkolFam is run city-wide: ``skolfam_stad_<YYYY-MM>.csv``),
and a closing list ten days after the last term (``..._<YYYY-MM>_avslut.csv``) that repeats the rows
whose ``slutdatum`` became known after they were first delivered, plus enrollments started after the last
regular delivery. A row appears in the first delivery on or after its ``startdatum``; its ``slutdatum``
is filled in when the end lies on or before the delivery date. Coordinators marked "cumulative" repeat
every still-open row in each delivery (exact duplicates across files).

Dirt, on purpose: Windows-1252, UTF-8 with BOM and plain UTF-8 files (each present whenever there are at
least three files); ``;`` separators except one ``,`` file with every field quoted; header names in varying
case with stray spaces; programme spellings (``ppss``, `` SkolFam ``, ``kp / kf``); historical district names
and an ``… stadsdelsförvaltning`` suffix; personnummer as ``YYMMDD-NNNN``, ``YYMMDDNNNN``, ``YYYYMMDDNNNN``
or ``YYYYMMDD-NNNN``; dates as ``YYYY-MM-DD`` or ``YYYYMMDD``; extra columns (names, case worker, comment);
invalid numbers (bad check digit, impossible date, wrong length); exact duplicate rows within a file;
one row whose ``slutdatum`` is before its ``startdatum``; an unknown programme; unknown districts; one or
two ``samtycke = nej``; trailing blank lines (and one Excel-style line of separators only); CRLF line ends.
Plus ``radering_<YYYY-MM-DD>.csv`` (``personnummer;orsak``), an erasure request for one or two pupils.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..identity import luhn_check_digit
from . import catalogue as cat
from .city import City, Enrollment
from .ids import format_civic
from .output import FileEntry, HashingWriter

DIR = "enrollment"
ENCODINGS = ("cp1252", "utf-8-sig", "utf-8")
PROG_SLUG = {"PPSS": "ppss", "SkolFam": "skolfam", "KP/KF": "kpkf"}
PROG_SPELLING = {
    "PPSS": ("PPSS", "ppss", "Ppss", " PPSS"),
    "SkolFam": ("SkolFam", " SkolFam ", "SKOLFAM", "skolfam"),
    "KP/KF": ("KP/KF", "kp / kf", "KP / KF", "kp/kf"),
}
UNKNOWN_PROGRAMME = "Mentorsprogram"
HEADERS = (
    {"given": "förnamn", "family": "efternamn", "pnr": "personnummer", "prog": "insats",
     "district": "stadsdelsförvaltning", "unit": "skolenhetskod", "start": "startdatum", "end": "slutdatum",
     "consent": "samtycke", "worker": "handläggare", "comment": "kommentar"},
    {"given": "Förnamn", "family": "Efternamn", "pnr": " Personnummer ", "prog": "INSATS",
     "district": "Stadsdelsförvaltning ", "unit": "Skolenhetskod", "start": "Startdatum", "end": "Slutdatum",
     "consent": "Samtycke", "worker": "Handläggare", "comment": "Kommentar"},
    {"given": "FÖRNAMN", "family": "EFTERNAMN", "pnr": "PERSONNUMMER", "prog": "Insats",
     "district": " stadsdelsförvaltning", "unit": "skolenhetskod ", "start": "STARTDATUM", "end": "SLUTDATUM",
     "consent": "SAMTYCKE", "worker": "HANDLÄGGARE", "comment": "KOMMENTAR"},
    {"given": "Förnamn", "family": "Efternamn", "pnr": "Personnummer", "prog": " Insats",
     "district": "Stadsdelsförvaltning", "unit": " Skolenhetskod ", "start": "Startdatum ", "end": " Slutdatum",
     "consent": "Samtycke ", "worker": "Handläggare", "comment": "Kommentar"},
)
DISTRICT_SLUG = {name: slug for name, _, slug, _ in cat.DISTRICTS}
HISTORICAL = {name: hist for name, _, _, hist in cat.DISTRICTS}


@dataclass
class Style:
    encoding: str
    header: int
    names: bool
    caseworker: bool
    consent: bool
    pnr: str  # 10dash | 10 | 12 | 12dash | mixed
    dates: str  # iso | compact | mixed
    historical: float  # share of rows that carry a pre-merger district name (where there is one)
    district_form: str  # plain | suffix | lower
    programme: dict[str, str]
    cumulative: bool
    trailing: int
    workers: list[str]


@dataclass
class CsvFile:
    name: str
    style: Style
    rows: list[dict[str, str]] = field(default_factory=list)
    delimiter: str = ";"
    quote_all: bool = False
    separator_line: bool = False
    encoding: str = "utf-8"


def _fmt_date(day: dt.date, form: str) -> str:
    return day.strftime("%Y%m%d") if form == "compact" else day.isoformat()


def _style(rng: random.Random) -> Style:
    workers = []
    for _ in range(rng.randrange(1, 4)):
        male, female, family = cat.NAMES["sv" if rng.random() < 0.8 else rng.choice(sorted(cat.NAMES))]
        workers.append(f"{rng.choice(male + female)} {rng.choice(family)}")
    return Style(
        encoding=rng.choices(ENCODINGS, weights=[35, 35, 30])[0],
        header=rng.choices(range(len(HEADERS)), weights=[40, 25, 15, 20])[0],
        names=rng.random() < 0.6,
        caseworker=rng.random() < 0.5,
        consent=rng.random() < 0.85,
        pnr=rng.choices(["10dash", "12", "12dash", "10", "mixed"], weights=[40, 25, 15, 10, 10])[0],
        dates=rng.choices(["iso", "compact", "mixed"], weights=[70, 20, 10])[0],
        historical=rng.choice([0.0, 0.0, 0.3, 1.0]),
        district_form=rng.choices(["plain", "suffix", "lower"], weights=[80, 12, 8])[0],
        programme={p: rng.choice(v) for p, v in PROG_SPELLING.items()},
        cumulative=rng.random() < 0.3,
        trailing=rng.choice([0, 0, 0, 1, 2]),
        workers=workers,
    )


def _district_text(e: Enrollment, style: Style, rng: random.Random) -> str:
    if e.district not in DISTRICT_SLUG:
        return e.district  # not a Stockholm district (dirt)
    name = e.district
    hist = HISTORICAL.get(name, ())
    if hist and rng.random() < style.historical:
        name = rng.choice(hist)
    if style.district_form == "suffix":
        return f"{name} stadsdelsförvaltning"
    if style.district_form == "lower":
        return name.lower()
    return name


def _render(e: Enrollment, style: Style, rng: random.Random) -> dict[str, str]:
    pnr_form = style.pnr if style.pnr != "mixed" else rng.choice(["10dash", "12", "12dash", "10"])
    date_form = style.dates if style.dates != "mixed" else rng.choice(["iso", "compact"])
    if e.consent_no:
        consent = rng.choice(["nej", "Nej"])
    else:
        consent = rng.choices(["", "ja", "Ja", "JA"], weights=[40, 40, 15, 5])[0]
    return {
        "given": e.given,
        "family": e.family,
        "pnr": format_civic(e.civic, pnr_form),
        "prog": style.programme[e.programme],
        "district": _district_text(e, style, rng),
        "unit": e.unit_code,
        "start": _fmt_date(e.start, date_form),
        "end": "",
        "consent": consent,
        "worker": rng.choice(style.workers),
        "comment": rng.choice(cat.COMMENTS),
        "_date_form": date_form,
        "_pnr_form": pnr_form,
        "_civic": e.civic,  # in memory only (the writer writes the named columns)
    }


def _with_end(row: dict[str, str], end: dt.date | None) -> dict[str, str]:
    out = dict(row)
    out["end"] = _fmt_date(end, row["_date_form"]) if end else ""
    return out


def build_files(city: City) -> tuple[list[CsvFile], dict[str, int]]:
    rng = random.Random(f"skolsam:{city.seed}:enrollment-files")
    deliveries = [(t.dates.start + dt.timedelta(days=28)) for t in city.terms]
    closing = city.terms[-1].dates.end + dt.timedelta(days=10)
    current = [d.name for d in city.districts]

    def coordinator(e: Enrollment) -> tuple[str, str]:
        if e.programme == "SkolFam":
            return ("SkolFam", "stad")
        district = e.district if e.district in DISTRICT_SLUG else current[int(e.civic[-4:]) % len(current)]
        return (e.programme, DISTRICT_SLUG[district])

    groups: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(city.enrollments):
        groups.setdefault(coordinator(e), []).append(i)
    keys = sorted(groups)
    styles = {key: _style(rng) for key in keys}
    _cover(styles, keys)
    files: list[CsvFile] = []
    for key in keys:
        style = styles[key]
        idxs = groups[key]
        if any(city.enrollments[i].consent_no for i in idxs):
            style.consent = True
        rendered = {i: _render(city.enrollments[i], style, rng) for i in idxs}
        first: dict[int, int] = {}
        for i in idxs:
            s = city.enrollments[i].start
            first[i] = next((k for k, d in enumerate(deliveries) if s <= d), len(deliveries))
        last_end: dict[int, str] = {}  # slutdatum text last delivered
        delivered: list[int] = []
        prefix = f"{PROG_SLUG[key[0]]}_{key[1]}"
        for k, day in enumerate(deliveries):
            rows = []
            if style.cumulative:
                for i in delivered:
                    e = city.enrollments[i]
                    if last_end[i] and e.end and e.end <= deliveries[k - 1]:
                        continue  # closed and already reported closed
                    row = _with_end(rendered[i], e.end if e.end and e.end <= day else None)
                    last_end[i] = row["end"]
                    rows.append(row)
            for i in idxs:
                if first[i] == k:
                    e = city.enrollments[i]
                    row = _with_end(rendered[i], e.end if e.end and e.end <= day else None)
                    last_end[i] = row["end"]
                    delivered.append(i)
                    rows.append(row)
            if rows:
                files.append(CsvFile(f"{prefix}_{day:%Y-%m}.csv", style, rows))
        rows = []
        for i in delivered:
            e = city.enrollments[i]
            if not last_end[i] and e.end and e.end <= closing:
                rows.append(_with_end(rendered[i], e.end))
        for i in idxs:
            if first[i] == len(deliveries):
                e = city.enrollments[i]
                rows.append(_with_end(rendered[i], e.end if e.end and e.end <= closing else None))
        if rows:
            files.append(CsvFile(f"{prefix}_{closing:%Y-%m}_avslut.csv", style, rows))
    stats = _dirty(files, rng, city)
    return files, stats


def _cover(styles: dict[tuple[str, str], Style], keys: list[tuple[str, str]]) -> None:
    """Make sure the dirt the intake must handle is there even in a small city."""
    if not keys:
        return
    if len(keys) == 1:
        styles[keys[0]].pnr = "mixed"
        styles[keys[0]].dates = "mixed"
    if not any(styles[k].dates in ("compact", "mixed") for k in keys):
        styles[keys[-1]].dates = "compact"
    if not any(styles[k].pnr in ("10dash", "10", "mixed") for k in keys):
        styles[keys[0]].pnr = "10dash"
    if not any(styles[k].pnr in ("12", "12dash", "mixed") for k in keys):
        styles[keys[-1]].pnr = "12"
    if len(keys) >= 2 and not any(styles[k].cumulative for k in keys):
        styles[keys[0]].cumulative = True  # exact duplicates across files
    merged = {DISTRICT_SLUG[d] for d, h in HISTORICAL.items() if h}
    candidates = [k for k in keys if k[1] in merged] or [k for k in keys if k[1] == "stad"]
    if candidates and not any(styles[k].historical > 0 for k in candidates):
        styles[candidates[0]].historical = 1.0 if candidates[0][1] in merged else 0.3


def _mangle(row: dict[str, str], kind: str, rng: random.Random) -> dict[str, str]:
    out = dict(row)
    digits = "".join(ch for ch in row["pnr"] if ch.isdigit())
    full = digits if len(digits) == 12 else ("20" + digits)
    if kind == "checksum":
        bad = full[:-1] + str((int(full[-1]) + rng.randrange(1, 10)) % 10)
        out["pnr"] = format_civic(bad, row["_pnr_form"])
    elif kind == "date":
        nine = full[2:4] + "13" + full[6:11]  # month 13, check digit right
        bad = full[:2] + nine + str(luhn_check_digit(nine))
        out["pnr"] = format_civic(bad, row["_pnr_form"])
    else:  # wrong length: a digit lost
        text = row["pnr"]
        cut = len(text) - 1 - rng.randrange(4)
        out["pnr"] = text[:cut] + text[cut + 1 :]
    return out


def _dirty(files: list[CsvFile], rng: random.Random, city: City) -> dict[str, int]:
    stats = {"invalid_numbers": 0, "duplicate_rows": 0, "end_before_start": 0, "unknown_programme": 0}
    if not files:
        return stats
    regular = [f for f in files if not f.name.endswith("_avslut.csv")] or files
    n_rows = sum(len(f.rows) for f in files)
    kinds = ["checksum"] * max(1, n_rows // 400) + ["date"] * max(1, n_rows // 1000) + ["length"] * max(
        1, n_rows // 1000
    )
    # Dirt is planted on rows of pupils who stay (not refusing consent, not erased), so each kind is
    # quarantined for its own reason rather than dropped with the pupil's erasure.
    leaving = {e.civic for e in city.enrollments if e.consent_no} | set(city.erasures)

    def clean(f: CsvFile) -> list[dict[str, str]]:
        rows = [r for r in f.rows if "_dirt" not in r]
        return [r for r in rows if r.get("_civic") not in leaving] or rows

    for kind in kinds:
        f = rng.choice(regular)
        row = _mangle(rng.choice(clean(f)), kind, rng)
        row["_dirt"] = kind
        f.rows.insert(rng.randrange(len(f.rows) + 1), row)
        stats["invalid_numbers"] += 1
    for f in rng.sample(regular, min(2, len(regular))):
        row = rng.choice(clean(f))
        f.rows.insert(f.rows.index(row) + 1, dict(row, _dirt="duplicate"))
        stats["duplicate_rows"] += 1
    f = rng.choice(regular)
    row = dict(rng.choice(clean(f)), _dirt="end_before_start")
    form = row["_date_form"]
    start = _parse(row["start"]) + dt.timedelta(days=30)
    row["start"] = _fmt_date(start, form)
    row["end"] = _fmt_date(start - dt.timedelta(days=14), form)
    f.rows.append(row)
    stats["end_before_start"] += 1
    f = rng.choice(regular)
    row = dict(rng.choice(clean(f)), _dirt="unknown_programme")
    row["prog"] = UNKNOWN_PROGRAMME
    f.rows.insert(rng.randrange(len(f.rows) + 1), row)
    stats["unknown_programme"] += 1
    # Encodings: make sure each of the three is present when there are three files or more.
    order = list(range(len(files)))
    for f in files:
        f.encoding = f.style.encoding
    for enc in ENCODINGS:
        if not any(f.encoding == enc for f in files):
            counts = {e: sum(1 for f in files if f.encoding == e) for e in ENCODINGS}
            for i in order:
                if counts[files[i].encoding] > 1:
                    files[i].encoding = enc
                    break
    # Header spelled with stray spaces and upper case at least once.
    if not any(f.style.header == 1 for f in files):
        files[0].style.header = 1
    # One comma-separated file with every field quoted.
    comma = rng.choice(regular)
    comma.delimiter = ","
    comma.quote_all = True
    # Trailing blank lines in at least one file; one Excel line of separators only.
    if not any(f.style.trailing for f in files):
        files[-1].style.trailing = 2
    rng.choice(files).separator_line = True
    return stats


def _parse(text: str) -> dt.date:
    return dt.date.fromisoformat(text) if "-" in text else dt.datetime.strptime(text, "%Y%m%d").date()


def _columns(f: CsvFile) -> list[str]:
    cols = ["given", "family"] if f.style.names else []
    cols += ["pnr", "prog", "district", "unit", "start", "end"]
    if f.style.consent:
        cols.append("consent")
    if f.style.caseworker:
        cols += ["worker", "comment"]
    return cols


def write_files(root: Path, city: City) -> tuple[list[FileEntry], dict[str, int]]:
    files, stats = build_files(city)
    entries = []
    for f in sorted(files, key=lambda f: f.name):
        cols = _columns(f)
        buf = io.StringIO()
        w = csv.writer(
            buf,
            delimiter=f.delimiter,
            lineterminator="\r\n",
            quoting=csv.QUOTE_ALL if f.quote_all else csv.QUOTE_MINIMAL,
        )
        w.writerow([HEADERS[f.style.header][c] for c in cols])
        for row in f.rows:
            w.writerow([row[c] for c in cols])
        if f.separator_line:
            buf.write(f.delimiter * (len(cols) - 1) + "\r\n")
        buf.write("\r\n" * f.style.trailing)
        with HashingWriter(root, f"{DIR}/{f.name}") as out:
            out.write(buf.getvalue().encode(f.encoding), len(f.rows))
            entries.append(out.close())
    stats["files"] = len(files)
    stats["rows"] = sum(len(f.rows) for f in files)
    stats["erasure_requests"] = len(city.erasures)
    if city.erasures:
        day = city.terms[-1].dates.start + dt.timedelta(days=49)
        rng = random.Random(f"skolsam:{city.seed}:erasure")
        lines = ["personnummer;orsak"]
        for civic in city.erasures:
            lines.append(f"{format_civic(civic, '12dash')};{rng.choice(cat.ERASURE_REASONS)}")
        with HashingWriter(root, f"{DIR}/radering_{day.isoformat()}.csv") as out:
            out.write(("\r\n".join(lines) + "\r\n").encode("utf-8"), len(city.erasures))
            entries.append(out.close())
    return entries, stats
