"""The enrollment intake against PostgreSQL: landing folder, encodings, bad rows, re-delivery, closing files,
rejected files, erasure by consent and by request. Every number and name here is synthetic."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import enrollment_files as ef
from skolsam.enrollment.intake import ingest_file, ingest_landing
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres


def q(url: str, sql: str, params=()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def key(pseudonymiser, seq: int, **kw) -> str:
    return pseudonymiser.key_for(ef.pnr(seq, **kw))[0]


def by_name(summary: dict) -> dict[str, dict]:
    return {f["name"]: f for f in summary["files"]}


def snapshot(url: str) -> dict[str, list]:
    return {
        "enrollment": q(url, """SELECT student_key, programme, start_date, end_date, district_delivered, district,
                                       school_unit_code, birth_year, coordination_number, file_checksum, source_row,
                                       updated_file_checksum, updated_at FROM staging.enrollment ORDER BY 1, 2, 3"""),
        "files": q(url, "SELECT file_checksum, file_name, status, rows_read, rows_loaded, rows_quarantined "
                        "FROM staging.enrollment_file ORDER BY 1"),
        "quarantine": q(url, "SELECT file_checksum, row_number, record_ref, reason_code, detail "
                             "FROM audit.quarantine ORDER BY 1, 2"),
        "erasure": q(url, "SELECT reason, rows_removed FROM audit.erasure ORDER BY erasure_id"),
        "erased_key": q(url, "SELECT student_key FROM audit.erased_key ORDER BY 1"),
    }


# ---------------------------------------------------------------------------------------------------------


def test_every_encoding_and_separator_loads(tmp_path, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    ef.write(landing, "a_utf8_semicolon.csv", [ef.row(1, district="Hägersten-Älvsjö", start="20250901")],
             encoding="utf-8")
    ef.write(landing, "b_bom_comma.csv", [ef.row(2, district="Skärholmen", programme=" SkolFam ",
                                                 number=ef.pnr(2, form="12"))],
             encoding="utf-8-sig", delimiter=",", quote_all=True)
    ef.write(landing, "c_cp1252_semicolon.csv",
             [ef.row(3, district="Östermalm stadsdelsförvaltning", programme="kp / kf",
                     number=ef.pnr(3, form="12dash"), end="2026-01-31")],
             encoding="cp1252", header_names={"stadsdelsförvaltning": " STADSDELSFÖRVALTNING", "personnummer":
                                              "Personnummer "}, trailing_blank=3, separator_line=True)
    ef.write(landing, "d_cp1252_comma.csv",
             [ef.row(4, district="södermalm", number=ef.pnr(4, coordination=True, form="10"), unit="")],
             encoding="cp1252", delimiter=",", crlf=False)

    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    files = by_name(summary)
    assert {n: (f["status"], f["encoding"], f["delimiter"], f["rows_loaded"]) for n, f in files.items()} == {
        "a_utf8_semicolon.csv": ("loaded", "utf-8", ";", 1),
        "b_bom_comma.csv": ("loaded", "utf-8-sig", ",", 1),
        "c_cp1252_semicolon.csv": ("loaded", "cp1252", ";", 1),
        "d_cp1252_comma.csv": ("loaded", "cp1252", ",", 1),
    }
    assert summary["changed"] and summary["rows_quarantined"] == 0
    json.dumps(summary)  # XCom-safe
    got = {r[0]: r[1:] for r in q(warehouse_url, """
        SELECT student_key, programme, start_date, end_date, district_delivered, district, school_unit_code,
               birth_year, coordination_number FROM staging.enrollment""")}
    assert got == {
        key(pseudonymiser, 1): ("PPSS", dt.date(2025, 9, 1), None, "Hägersten-Älvsjö", "Hägersten-Älvsjö",
                                "12345678", 2012, False),
        key(pseudonymiser, 2): ("SkolFam", dt.date(2025, 9, 1), None, "Skärholmen", "Skärholmen", "12345678",
                                2012, False),
        key(pseudonymiser, 3): ("KP/KF", dt.date(2025, 9, 1), dt.date(2026, 1, 31), "Östermalm",
                                "Norra innerstaden", "12345678", 2012, False),
        key(pseudonymiser, 4, coordination=True): ("PPSS", dt.date(2025, 9, 1), None, "Södermalm", "Södermalm",
                                                   None, 2012, True),
    }
    assert sorted(p.name for p in (landing / "archive").iterdir()) == sorted(files)
    assert not list(landing.glob("*.csv"))
    runs = q(warehouse_url, "SELECT entity, status, rows_read, rows_loaded FROM audit.load_run ORDER BY entity")
    assert runs == [(n, "success", 1, 1) for n in sorted(files)]


def test_bad_rows_are_quarantined_with_reason_codes(tmp_path, warehouse_url, pseudonymiser):
    rows = [
        ef.row(1),                                                        # 1 ok
        ef.row(2, number=""),                                             # 2 pnr_empty
        ef.row(3, number="12345"),                                        # 3 pnr_format
        ef.row(4, number=ef.bad_checksum(ef.pnr(4))),                     # 4 pnr_checksum
        ef.row(5, number=ef.pnr(5, month=13)),                            # 5 pnr_date
        ef.row(6, programme="Mentorsprogram"),                            # 6 programme_unknown
        ef.row(7, district="Solna"),                                      # 7 district_unknown
        ef.row(8, start="2025-02-30"),                                    # 8 start_date_invalid
        ef.row(9, end="31/12/2025"),                                      # 9 end_date_invalid
        ef.row(10, start="2025-09-01", end="2025-08-01"),                 # 10 end_before_start
        ef.row(11, unit="1234"),                                          # 11 school_unit_code_invalid
        ef.row(1),                                                        # 12 duplicate_in_file (of row 1)
        ef.row(12, programme="x", district="y"),                          # 13 programme_unknown + district
        ef.row(13, consent="kanske"),                                     # 14 consent_invalid
        ef.row(14, programme="SkolFam"),                                  # 15 ok
        ef.row(14, programme="SkolFam", end="2025-12-01"),                # 16 duplicate_in_file, conflicting
        ef.row(15, number=ef.pnr(15, coordination=True)),                 # 17 ok: samordningsnummer
    ]
    path = ef.write(tmp_path / "landing", "lista.csv", rows)
    summary = ingest_landing(str(path.parent), warehouse_url, pseudonymiser)
    f = by_name(summary)["lista.csv"]
    assert (f["status"], f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == ("loaded", 17, 3, 14)
    got = q(warehouse_url, "SELECT row_number, reason_code, record_ref, detail, entity, file_checksum, source "
                           "FROM audit.quarantine ORDER BY row_number")
    expected = {
        2: ("pnr_empty", None), 3: ("pnr_format", None), 4: ("pnr_checksum", None), 5: ("pnr_date", None),
        6: ("programme_unknown", 6), 7: ("district_unknown", 7), 8: ("start_date_invalid", 8),
        9: ("end_date_invalid", 9), 10: ("end_before_start", 10), 11: ("school_unit_code_invalid", 11),
        12: ("duplicate_in_file", 1), 13: ("programme_unknown", 12), 14: ("consent_invalid", 13),
        16: ("duplicate_in_file", 14),
    }
    assert {r[0]: (r[1], r[2]) for r in got} == {
        n: (code, key(pseudonymiser, seq) if seq else None) for n, (code, seq) in expected.items()}
    details = {r[0]: r[3] for r in got}
    assert details[12] == "of row 1, identical"
    assert details[16] == "of row 15, conflicting"
    assert details[13] == "also district_unknown"
    assert {(r[4], r[5], r[6]) for r in got} == {("lista.csv", f["checksum"], "enrollment")}
    loaded = q(warehouse_url, "SELECT student_key, programme, source_row, coordination_number "
                              "FROM staging.enrollment ORDER BY source_row")
    assert loaded == [(key(pseudonymiser, 1), "PPSS", 1, False), (key(pseudonymiser, 14), "SkolFam", 15, False),
                      (key(pseudonymiser, 15, coordination=True), "PPSS", 17, True)]
    assert q(warehouse_url, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM audit.load_run") == [
        ("success", 17, 3, 14)]
    assert q(warehouse_url, "SELECT status, rows_read, rows_loaded, rows_quarantined, encoding, delimiter "
                            "FROM staging.enrollment_file") == [("loaded", 17, 3, 14, "utf-8", ";")]


def test_redelivered_file_changes_nothing(tmp_path, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    rows = [ef.row(1), ef.row(2, programme="KP/KF"), ef.row(3, district="Solna")]
    data = ef.render(rows, encoding="cp1252")
    (landing).mkdir()
    (landing / "ppss_2025-09.csv").write_bytes(data)
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    before = snapshot(warehouse_url)

    (landing / "ppss_2025-09.csv").write_bytes(data)  # the same name again
    (landing / "omskickad.csv").write_bytes(data)  # and under another name
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    assert {f["name"]: (f["status"], f["reason"]) for f in summary["files"]} == {
        "omskickad.csv": ("skipped", "already_loaded"), "ppss_2025-09.csv": ("skipped", "already_loaded")}
    assert not summary["changed"]
    assert snapshot(warehouse_url) == before
    archived = sorted(p.name for p in (landing / "archive").iterdir())
    assert len(archived) == 3 and "ppss_2025-09.csv" in archived and "omskickad.csv" in archived
    assert q(warehouse_url, "SELECT status, count(*) FROM audit.load_run GROUP BY 1 ORDER BY 1") == [
        ("skipped", 2), ("success", 1)]
    # The same through ingest_file: skipped, the file left where it is.
    again = tmp_path / "again.csv"
    again.write_bytes(data)
    assert ingest_file(str(again), warehouse_url, pseudonymiser)["status"] == "skipped"
    assert again.exists() and snapshot(warehouse_url) == before


def test_closing_file_sets_end_dates(tmp_path, warehouse_url, pseudonymiser):
    first = ef.write(tmp_path, "ppss_farsta_2025-09.csv", [
        ef.row(1, district="Farsta"), ef.row(2, district="Farsta"), ef.row(3, district="Farsta", end="2025-12-19"),
    ])
    closing = ef.write(tmp_path, "ppss_farsta_2026-06_avslut.csv", [
        ef.row(1, district="Farsta", end="20260612"),            # closes row 1: an update
        ef.row(2, district="Farsta"),                            # unchanged: duplicate_across_files
        ef.row(3, district="Farsta", end=""),                    # empty end never clears a known one: duplicate
        ef.row(4, district="Farsta", start="2026-03-02"),        # new
    ], encoding="utf-8-sig")
    s1 = ingest_file(str(first), warehouse_url, pseudonymiser)
    s2 = ingest_file(str(closing), warehouse_url, pseudonymiser)
    assert (s1["rows_inserted"], s1["rows_updated"]) == (3, 0)
    assert (s2["rows_read"], s2["rows_inserted"], s2["rows_updated"], s2["rows_loaded"], s2["rows_quarantined"]) == (
        4, 1, 1, 2, 2)
    rows = {r[0]: r[1:] for r in q(warehouse_url, """
        SELECT student_key, end_date, file_checksum, updated_file_checksum, updated_at > loaded_at
        FROM staging.enrollment""")}
    assert rows[key(pseudonymiser, 1)] == (dt.date(2026, 6, 12), s1["checksum"], s2["checksum"], True)
    assert rows[key(pseudonymiser, 2)] == (None, s1["checksum"], None, False)
    assert rows[key(pseudonymiser, 3)] == (dt.date(2025, 12, 19), s1["checksum"], None, False)
    assert rows[key(pseudonymiser, 4)] == (None, s2["checksum"], None, False)
    assert q(warehouse_url, "SELECT row_number, reason_code, record_ref FROM audit.quarantine ORDER BY 1") == [
        (2, "duplicate_across_files", key(pseudonymiser, 2)), (3, "duplicate_across_files", key(pseudonymiser, 3))]


def test_rejected_files_while_the_others_load(tmp_path, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    ef.write(landing, "bra.csv", [ef.row(1)])
    (landing / "bild.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (landing / "tom.csv").write_bytes(b"")
    ef.write(landing, "fel_kolumner.csv", [ef.row(2)], header=["förnamn", "efternamn", "personnummer", "insats"])
    (landing / "radering_fel.csv").write_bytes("namn;orsak\r\nTesta Testsson;Begäran\r\n".encode())
    (landing / "inte_en_lista.txt").write_bytes(b"ignored")

    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    assert {f["name"]: (f["status"], f["reason"]) for f in summary["files"]} == {
        "bild.csv": ("rejected", "not_text"),
        "bra.csv": ("loaded", None),
        "fel_kolumner.csv": ("rejected", "missing_columns"),
        "radering_fel.csv": ("rejected", "missing_columns"),
        "tom.csv": ("rejected", "empty_file"),
    }
    assert summary["changed"] and (summary["loaded"], summary["rejected"]) == (1, 4)
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(1,)]
    rejected = landing / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == sorted(
        [n for n in ("bild.csv", "fel_kolumner.csv", "radering_fel.csv", "tom.csv")]
        + [n + ".reason.txt" for n in ("bild.csv", "fel_kolumner.csv", "radering_fel.csv", "tom.csv")])
    reason = (rejected / "fel_kolumner.csv.reason.txt").read_text()
    assert "reason: missing_columns" in reason and "missing stadsdelsförvaltning, startdatum" in reason
    for p in rejected.glob("*.reason.txt"):
        text = p.read_text()
        assert "Testa" not in text and "Testsson" not in text and ef.pnr(2) not in text
    assert (landing / "inte_en_lista.txt").exists()
    assert q(warehouse_url, "SELECT file_name, status, reject_reason FROM staging.enrollment_file ORDER BY 1") == [
        ("bild.csv", "rejected", "not_text"), ("bra.csv", "loaded", None),
        ("fel_kolumner.csv", "rejected", "missing_columns"), ("radering_fel.csv", "rejected", "missing_columns"),
        ("tom.csv", "rejected", "empty_file")]
    assert q(warehouse_url, "SELECT entity, status, message FROM audit.load_run WHERE status = 'rejected' "
                            "ORDER BY 1") == [("bild.csv", "rejected", "not_text"),
                                              ("fel_kolumner.csv", "rejected", "missing_columns"),
                                              ("radering_fel.csv", "rejected", "missing_columns"),
                                              ("tom.csv", "rejected", "empty_file")]
    # Delivered again, a rejected file is recognised and rejected again without touching the warehouse.
    (landing / "bild.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    again = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert [(f["status"], f["reason"]) for f in again["files"]] == [("skipped", "already_rejected")]
    assert len(list(rejected.glob("bild*.csv"))) == 2
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment_file") == [(5,)]


def test_failed_file_stays_in_landing(tmp_path, pseudonymiser):
    landing = tmp_path / "landing"
    ef.write(landing, "a.csv", [ef.row(1)])
    bad_url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=1"
    summary = ingest_landing(str(landing), bad_url, pseudonymiser)
    assert [(f["name"], f["status"], f["reason"]) for f in summary["files"]] == [("a.csv", "failed", "load_failed")]
    assert (landing / "a.csv").exists() and not summary["changed"]
    assert "secret" not in json.dumps(summary)


def test_landing_on_an_fsspec_url(warehouse_url, pseudonymiser):
    import fsspec

    fs = fsspec.filesystem("memory")
    root = "/skolsam-landing-test"
    fs.pipe_file(f"{root}/ppss.csv", ef.render([ef.row(1), ef.row(2)], encoding="cp1252"))
    fs.pipe_file(f"{root}/tom.csv", b"")
    try:
        summary = ingest_landing(f"memory://{root}", warehouse_url, pseudonymiser)
        assert {f["name"]: f["status"] for f in summary["files"]} == {"ppss.csv": "loaded", "tom.csv": "rejected"}
        assert fs.exists(f"{root}/archive/ppss.csv")
        assert fs.exists(f"{root}/rejected/tom.csv") and fs.exists(f"{root}/rejected/tom.csv.reason.txt")
        assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(2,)]
    finally:
        fs.rm(root, recursive=True)


def test_missing_landing_folder(tmp_path, warehouse_url, pseudonymiser):
    from skolsam.enrollment.intake import LandingNotFound

    with pytest.raises(LandingNotFound):
        ingest_landing(str(tmp_path / "nowhere"), warehouse_url, pseudonymiser)
    summary = ingest_landing(str(tmp_path / "made"), warehouse_url, pseudonymiser, create=True)
    assert summary["files"] == [] and (tmp_path / "made").is_dir()


def test_command_line(tmp_path, warehouse_url, pseudonymiser, capsys):
    from skolsam import cli

    landing = tmp_path / "landing"
    ef.write(landing, "ppss.csv", [ef.row(1), ef.row(2, district="Solna")])
    assert cli.main(["ingest", "--landing", str(landing), "--warehouse-url", warehouse_url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["loaded"], out["rows_loaded"], out["rows_quarantined"]) == (1, 1, 1)
    single = ef.write(tmp_path, "kpkf.csv", [ef.row(3, programme="KP/KF")])
    assert cli.main(["ingest", "--file", str(single), "--warehouse-url", warehouse_url]) == 0
    text = capsys.readouterr().out
    assert "kpkf.csv: loaded: 1 read, 1 loaded, 0 quarantined, 0 erased" in text
    assert single.exists()
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(2,)]
