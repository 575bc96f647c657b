"""Writing one term of the aggregate marts as CSV files (with a README) or one Excel workbook.

CSV follows Swedish Excel: ``;`` between fields, decimal comma, UTF-8 with a byte-order mark, one file per
mart and ``README_<term>.txt`` explaining every column. The workbook has one sheet per mart and a
``Kolumner`` sheet with the same explanations. Numbers keep their full precision; a suppressed group's
measures are empty cells, as NULL in the mart; ``suppressed`` is ``ja``/``nej``.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import os
from pathlib import Path
from typing import Any, Iterable

from .tables import EXPORTABLE, NEVER_EXPORTED, SHEET_NAMES, column_docs, heading, table_grain

FORMATS = ("csv", "xlsx")


try:  # the project's error base (fail fast, no retries), once skolsam.errors exists
    from ..errors import DeterministicError as _Deterministic
except ImportError:  # pragma: no cover - before the error hierarchy lands
    _Deterministic = RuntimeError


class ExportError(_Deterministic):
    """Nothing can be exported (no such term, an unknown format or table): retrying cannot help."""


def _read(conn, table: str, term: str) -> tuple[list[str], list[tuple]]:
    schema, name = table.split(".")
    columns = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", (schema, name))]
    order = [c for c in EXPORTABLE[table] if c in columns]
    from psycopg import sql

    query = sql.SQL("SELECT {} FROM {} WHERE term = %s ORDER BY {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(schema, name),
        sql.SQL(", ").join(sql.Identifier(c) for c in order) if order else sql.SQL("1"))
    return columns, conn.execute(query, (term,)).fetchall()


def read_marts(warehouse_url: str, term: str, tables: Iterable[str] | None = None) -> dict[str, tuple[list[str], list[tuple]]]:
    """The term's rows of every exportable mart that exists and has rows for it: {table: (columns, rows)}."""
    from ..warehouse.connection import connect

    wanted = list(tables or EXPORTABLE)
    for t in wanted:
        if t in NEVER_EXPORTED or t not in EXPORTABLE:
            raise ExportError(f"{t} is not exportable (only {', '.join(EXPORTABLE)})")
    out = {}
    with connect(warehouse_url) as conn:
        for table in wanted:
            if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
                columns, rows = _read(conn, table, term)
                # An optional mart without rows for the term (not built yet) adds an empty file: left out.
                if rows or table == "mart.group_term":
                    out[table] = (columns, rows)
    if "mart.group_term" in wanted and not out.get("mart.group_term", ([], []))[1]:
        raise ExportError(f"mart.group_term has no rows for {term}")
    return out


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, (float, decimal.Decimal)):
        return str(value).replace(".", ",")
    return str(value)


def xlsx_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    return value


def _stem(table: str, term: str) -> str:
    return f"{table.split('.')[1]}_{term}"


def readme_text(term: str, marts: dict[str, tuple[list[str], list[tuple]]], notes: list[str]) -> str:
    lines = [f"skolsam: exporterade tabeller för {term} / exported tables for {term}",
             f"Skapad / made {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC", *notes, "",
             "Filer: ; mellan fälten, decimalkomma, UTF-8. Tomma celler i en dold grupp (Dold = ja) är dolda "
             "för att gruppen har för få elever; tomma celler annars saknar värde.",
             "Files: ';' separated, decimal comma, UTF-8. Empty cells in a suppressed group (Dold = ja) are "
             "hidden because the group is too small; elsewhere an empty cell has no value.", ""]
    for table, (columns, rows) in marts.items():
        lines += [f"== {_stem(table, term)}.csv ({table}, {len(rows)} rows)", table_grain(table), ""]
        for doc in column_docs(table, columns):
            unit = f" [{doc.unit}]" if doc.unit else ""
            lines.append(f"- {doc.heading} ({doc.column}){unit}: {doc.meaning}. {doc.rule}".rstrip())
        lines.append("")
    return "\n".join(lines)


def _atomic(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_csv(out_dir: Path, term: str, marts: dict, notes: list[str]) -> list[Path]:
    written = []
    for table, (columns, rows) in marts.items():
        path = out_dir / f"{_stem(table, term)}.csv"
        tmp = _atomic(path)
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow([heading(c) for c in columns])
            w.writerows([csv_value(v) for v in row] for row in rows)
        os.replace(tmp, path)
        written.append(path)
    readme = out_dir / f"README_{term}.txt"
    readme.write_text(readme_text(term, marts, notes), encoding="utf-8")
    return [*written, readme]


def write_xlsx(out_dir: Path, term: str, marts: dict, notes: list[str]) -> list[Path]:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for table, (columns, rows) in marts.items():
        ws = wb.create_sheet(SHEET_NAMES.get(table, table.split(".")[1])[:31])
        ws.append([heading(c) for c in columns])
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append([xlsx_value(v) for v in row])
        ws.freeze_panes = "A2"
        for i, c in enumerate(columns, 1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(40, len(heading(c)) + 2))
    doc = wb.create_sheet("Kolumner")
    doc.append(["Blad", "Rubrik", "Kolumn i lagret", "Enhet", "Betydelse", "Regel"])
    for cell in doc[1]:
        cell.font = bold
    for table, (columns, _rows) in marts.items():
        for d in column_docs(table, columns):
            doc.append([SHEET_NAMES.get(table, table), d.heading, f"{table}.{d.column}", d.unit, d.meaning, d.rule])
    doc.append([])
    for line in [f"Termin {term}", *notes, "Tomma celler i en dold grupp (Dold = ja) är dolda för att gruppen har "
                 "för få elever; tomma celler annars saknar värde."]:
        doc.append([line])
    for letter, width in zip("ABCDEF", (12, 40, 40, 14, 50, 80)):
        doc.column_dimensions[letter].width = width
    path = out_dir / f"skolsam_{term}.xlsx"
    tmp = _atomic(path)
    wb.save(tmp)
    os.replace(tmp, path)
    return [path]


def export_term(warehouse_url: str, term: str, fmt: str, out_dir: Path, *, notes: list[str] | None = None,
                tables: Iterable[str] | None = None) -> list[Path]:
    """Write the term's aggregate marts to ``out_dir`` as ``fmt`` (csv or xlsx); returns the files written."""
    from ..terms import parse_term

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (csv or xlsx)")
    term = parse_term(term).name
    marts = read_marts(warehouse_url, term, tables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = write_csv if fmt == "csv" else write_xlsx
    return writer(out_dir, term, marts, list(notes or []))
