"""Issue 13 item 1: Excel workbooks in the landing folder. A workbook made here with openpyxl (as Excel
stores cells: a date cell, a personnummer as a number, a text date) gives the same staging rows as the CSV
of the same list; bad workbooks are rejected whole with a reason. Every number here is synthetic."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

import enrollment_files as ef
from skolsam.enrollment import xlsxfile
from skolsam.enrollment.intake import ingest_landing
from test_build_core import fresh_warehouse, query

pytestmark = pytest.mark.postgres

COLUMNS = ["förnamn", "personnummer", "insats", "stadsdelsförvaltning", "skolenhetskod", "startdatum",
           "slutdatum", "samtycke", "kommentar"]


def the_list() -> list[dict]:
    """Rows as Excel holds them (typed) and as the CSV export writes them (text)."""
    born_2005 = ef.pnr(3, year=2005, month=1, day=7, form="10")  # starts with 0: a number drops it
    return [
        {"xlsx": ["Testa", int(ef.pnr(1, form="12")), "PPSS", "Järva", 12345678, dt.datetime(2025, 9, 1),
                  "2026-01-31", None, "Anteckning"],
         "csv": ["Testa", ef.pnr(1, form="12"), "PPSS", "Järva", "12345678", "2025-09-01", "2026-01-31", "",
                 "Anteckning"]},
        {"xlsx": ["Provå", ef.pnr(2), "skolfam", "Östermalm", None, "20250901", None, "ja", None],
         "csv": ["Provå", ef.pnr(2), "skolfam", "Östermalm", "", "20250901", "", "ja", ""]},
        {"xlsx": ["Exempla", int(born_2005), "KP/KF", "Farsta", "12345678", dt.date(2025, 10, 1),
                  dt.datetime(2025, 12, 20), None, "=HYPERLINK(\"x\")"],
         "csv": ["Exempla", born_2005, "KP/KF", "Farsta", "12345678", "2025-10-01", "2025-12-20", "",
                 "=HYPERLINK(\"x\")"]},
        {"xlsx": ["Låtsas", int(ef.bad_checksum(ef.pnr(4, form="12"))), "PPSS", "Järva", None,
                  dt.datetime(2025, 9, 1), None, None, None],
         "csv": ["Låtsas", ef.bad_checksum(ef.pnr(4, form="12")), "PPSS", "Järva", "", "2025-09-01", "", "", ""]},
        {"xlsx": ["Fiktiva", ef.pnr(5), "PPSS", "Solna", None, "2025-09-01", None, None, None],
         "csv": ["Fiktiva", ef.pnr(5), "PPSS", "Solna", "", "2025-09-01", "", "", ""]},
    ]


def workbook(rows: list[list], *, sheets: int = 1, header: list[str] = COLUMNS) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Lista"
    ws.append(header)
    for r in rows:
        ws.append(r)
    for c in ws["F"][1:] + ws["G"][1:]:
        if isinstance(c.value, (dt.date, dt.datetime)):
            c.number_format = "yyyy-mm-dd"
    for i in range(1, sheets):
        wb.create_sheet(f"Blad{i + 1}")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list]) -> bytes:
    lines = [";".join(COLUMNS)] + [";".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def staging(url: str) -> dict:
    return {
        "enrollment": query(url, """SELECT student_key, programme, start_date, end_date, district_delivered,
                                           district, school_unit_code, birth_year, coordination_number, source_row
                                    FROM staging.enrollment ORDER BY 1, 2, 3"""),
        "quarantine": query(url, "SELECT row_number, reason_code, record_ref FROM audit.quarantine ORDER BY 1"),
        "files": query(url, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM staging.enrollment_file"),
    }


def test_a_workbook_gives_the_same_staging_rows_as_its_csv(tmp_path, pg_admin_url, pseudonymiser):
    rows = the_list()
    got = {}
    for fmt, data in (("csv", csv_bytes([r["csv"] for r in rows])), ("xlsx", workbook([r["xlsx"] for r in rows]))):
        landing = tmp_path / fmt
        landing.mkdir()
        (landing / f"lista.{fmt}").write_bytes(data)
        with fresh_warehouse(pg_admin_url) as url:
            summary = ingest_landing(str(landing), url, pseudonymiser)
            [f] = summary["files"]
            assert f["status"] == "loaded" and f["moved_to"] == f"archive/lista.{fmt}"
            got[fmt] = staging(url)
    assert got["xlsx"] == got["csv"]
    assert len(got["xlsx"]["enrollment"]) == 3  # numeric 12 digits, text, numeric 10 digits with the zero back
    assert [r[1] for r in got["xlsx"]["quarantine"]] == ["pnr_checksum", "district_unknown"]
    born_2005 = ef.pnr(3, year=2005, month=1, day=7)
    assert {r[0] for r in got["xlsx"]["enrollment"]} == {
        pseudonymiser.key_for(n)[0] for n in (ef.pnr(1), ef.pnr(2), born_2005)}


def test_a_workbook_erasure_request_erases(tmp_path, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a_lista.xlsx").write_bytes(workbook([the_list()[0]["xlsx"]]))
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert query(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(1,)]
    (landing / "radering_1.xlsx").write_bytes(workbook([[int(ef.pnr(1, form="12")), "Begäran"]],
                                                      header=["personnummer", "orsak"]))
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    [f] = summary["files"]
    assert (f["kind"], f["status"], f["rows_erased"]) == ("erasure", "loaded", 1)
    assert query(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(0,)]


def _with_part(data: bytes, name: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(name, content)
    return out.getvalue()


def _encrypted_container() -> bytes:
    # An encrypted OOXML file is an OLE compound file with an EncryptionInfo stream (MS-OFFCRYPTO); this
    # is the shape of one (header and directory entry name), enough for what the reader looks at.
    return (xlsxfile._OLE + bytes(504) + "EncryptionInfo".encode("utf-16-le") + bytes(64)
            + "EncryptedPackage".encode("utf-16-le") + bytes(512))


@pytest.mark.parametrize("name, data, reason", [
    ("två_blad.xlsx", lambda: workbook([the_list()[0]["xlsx"]], sheets=2), "workbook_several_sheets"),
    ("makro.xlsm", lambda: workbook([the_list()[0]["xlsx"]]), "workbook_macros"),
    ("makro.xlsx", lambda: _with_part(workbook([the_list()[0]["xlsx"]]), "xl/vbaProject.bin", b"\x00" * 64),
     "workbook_macros"),
    ("krypterad.xlsx", _encrypted_container, "workbook_encrypted"),
    ("gammal.xlsx", lambda: xlsxfile._OLE + bytes(1024), "workbook_unsupported"),
    ("skräp.xlsx", lambda: b"PK\x03\x04 not really a zip", "not_xlsx"),
    ("text.xlsx", lambda: csv_bytes([the_list()[0]["csv"]]), "not_xlsx"),
    ("utan_kolumner.xlsx", lambda: workbook([["x"]], header=["namn"]), "missing_columns"),
])
def test_bad_workbooks_are_rejected_with_a_reason(tmp_path, warehouse_url, pseudonymiser, name, data, reason):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / name).write_bytes(data())
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    [f] = summary["files"]
    assert (f["status"], f["reason"]) == ("rejected", reason)
    assert f["moved_to"] == f"rejected/{name}"
    assert f"reason: {reason}" in (landing / "rejected" / f"{name}.reason.txt").read_text()
    assert query(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(0,)]
    assert query(warehouse_url, "SELECT status, reject_reason FROM staging.enrollment_file") == [("rejected", reason)]


def test_cell_text_is_what_a_csv_export_holds():
    assert xlsxfile.cell_text(201205170051) == "201205170051"
    assert xlsxfile.cell_text(201205170051.0) == "201205170051"
    assert xlsxfile.cell_text(501071234, "personnummer") == "0501071234"
    assert xlsxfile.cell_text(1234567, "skolenhetskod") == "01234567"
    assert xlsxfile.cell_text(dt.datetime(2025, 9, 1, 0, 0)) == "2025-09-01"
    assert xlsxfile.cell_text(None) == "" and xlsxfile.cell_text(" ja ") == " ja "
