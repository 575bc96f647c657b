"""Enrollment lists without a database: encodings, separators, headers, row rules, reason codes."""

from __future__ import annotations

import datetime as dt

import pytest

import enrollment_files as ef
from skolsam.enrollment import csvfile, validate
from skolsam.enrollment.intake import file_kind


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_encodings_and_separators(encoding, delimiter):
    rows = [ef.row(1, district="Hägersten-Älvsjö"), ef.row(2, district="Östermalm", programme="kp / kf")]
    data = ef.render(rows, encoding=encoding, delimiter=delimiter, quote_all=delimiter == ",",
                     header_names={"stadsdelsförvaltning": " Stadsdelsförvaltning ", "insats": "INSATS"},
                     trailing_blank=2, separator_line=True)
    parsed = csvfile.parse(data)
    assert parsed.encoding == encoding and parsed.delimiter == delimiter
    assert [r.number for r in parsed.rows] == [1, 2]
    assert parsed.rows[0].values["stadsdelsförvaltning"] == "Hägersten-Älvsjö"
    facts, reasons = validate.check_row(parsed.rows[1].values)
    assert reasons == [] and facts.programme == "KP/KF"
    assert (facts.district_delivered, facts.district) == ("Östermalm", "Norra innerstaden")


def test_extra_columns_are_dropped_while_reading():
    parsed = csvfile.parse(ef.render([ef.row(1)]))
    assert set(parsed.columns) == {"personnummer", "insats", "stadsdelsförvaltning", "skolenhetskod",
                                   "startdatum", "slutdatum", "samtycke"}
    assert set(parsed.rows[0].values) == set(parsed.columns)
    assert "Testsson" not in repr(parsed) + repr(parsed.rows[0])
    assert ef.pnr(1) not in repr(parsed.rows[0])


def test_quoted_fields_with_separators_and_line_breaks():
    r = ef.row(1, kommentar='Sa "hej"; sedan\nny rad, och mer')
    parsed = csvfile.parse(ef.render([r, ef.row(2)], delimiter=","))
    assert [x.number for x in parsed.rows] == [1, 2]
    assert not any(x.malformed for x in parsed.rows)


def test_row_longer_than_header_is_malformed():
    data = ("personnummer;insats;stadsdelsförvaltning;startdatum\r\n"
            f"{ef.pnr(1)};PPSS;Farsta;2025-09-01;oväntat\r\n"
            f"{ef.pnr(2)};PPSS;Farsta;2025-09-01;;\r\n").encode()
    parsed = csvfile.parse(data)
    assert [r.malformed for r in parsed.rows] == [True, False]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty_file"),
    (b"\xef\xbb\xbf\r\n\r\n", "empty_file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not_text"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "not_text"),
    ("personnummer;insats\r\n".encode("utf-16"), "encoding_unsupported"),
    (b"namn;adress\r\nTesta;Gatan 1\r\n", "missing_columns"),
    ("personnummer;insats;stadsdel;startdatum\r\n".encode(), "missing_columns"),
    ("personnummer;Personnummer;insats;stadsdelsförvaltning;startdatum\r\n".encode(), "duplicate_columns"),
])
def test_unreadable_files_are_rejected_whole(data, reason):
    with pytest.raises(csvfile.FileRejected) as err:
        csvfile.parse(data)
    assert err.value.reason == reason
    assert "Testa" not in str(err.value) + str(err.value.detail)


def test_missing_columns_detail_names_only_our_columns():
    with pytest.raises(csvfile.FileRejected) as err:
        csvfile.parse("förnamn;personnummer;insats\r\nTesta;x;y\r\n".encode())
    assert err.value.detail == "missing stadsdelsförvaltning, startdatum"


def test_header_only_file_is_a_list_without_rows():
    parsed = csvfile.parse(ef.render([]))
    assert parsed.rows == []


def test_erasure_list_reads_personnummer_only():
    parsed = csvfile.parse("personnummer;orsak\r\n201205170051;Begäran\r\n".encode("cp1252"), csvfile.ERASURE)
    assert parsed.columns == ("personnummer",)
    assert list(parsed.rows[0].values) == ["personnummer"]
    assert file_kind("radering_2026-02-26.csv") == "erasure"
    assert file_kind("Erasure-request.CSV") == "erasure"
    assert file_kind("ppss_jarva_2025-09.csv") == "enrollment"


@pytest.mark.parametrize("raw, expected", [
    ("PPSS", "PPSS"), ("ppss", "PPSS"), (" Ppss ", "PPSS"), ("SkolFam", "SkolFam"), (" SKOLFAM ", "SkolFam"),
    ("KP/KF", "KP/KF"), ("kp / kf", "KP/KF"), ("Kp/ kf", "KP/KF"), ("Mentorsprogram", None), ("", None),
    ("KP", None),
])
def test_programme_normalisation(raw, expected):
    assert validate.programme(raw) == expected


def test_dates():
    assert validate.parse_date("2025-09-01") == dt.date(2025, 9, 1)
    assert validate.parse_date(" 20250901 ") == dt.date(2025, 9, 1)
    assert validate.parse_date("") is None
    for bad in ("2025-13-01", "2025/09/01", "01-09-2025", "2025-9-1", "20250231", "18990101"):
        with pytest.raises(ValueError) as err:
            validate.parse_date(bad)
        assert bad not in str(err.value)


def test_row_reasons_in_rule_order():
    def reasons(**kw):
        return validate.check_row(ef.row(1, **kw))[1]

    assert reasons() == []
    assert reasons(programme="Mentorsprogram") == ["programme_unknown"]
    assert reasons(district="Solna") == ["district_unknown"]
    assert reasons(district="") == ["district_unknown"]
    assert reasons(start="") == ["start_date_invalid"]
    assert reasons(start="2025-02-30") == ["start_date_invalid"]
    assert reasons(end="31/12/2025") == ["end_date_invalid"]
    assert reasons(start="2025-09-01", end="20250815") == ["end_before_start"]
    assert reasons(start="2025-09-01", end="2025-09-01") == []
    assert reasons(unit="1234567") == ["school_unit_code_invalid"]
    assert reasons(unit="1234567A") == ["school_unit_code_invalid"]
    assert reasons(unit="") == []
    assert reasons(programme="x", district="y", unit="z") == [
        "programme_unknown", "district_unknown", "school_unit_code_invalid"]
    facts, _ = validate.check_row(ef.row(1, district="spånga-tensta stadsdelsförvaltning", unit=" 87654321 "))
    assert (facts.district_delivered, facts.district, facts.school_unit_code) == ("Spånga-Tensta", "Järva", "87654321")


@pytest.mark.parametrize("raw, expected", [
    ("", "given"), ("ja", "given"), (" JA ", "given"), ("nej", "refused"), ("Nej ", "refused"),
    ("vet ej", "unclear"), ("n", "unclear"),
])
def test_consent(raw, expected):
    assert validate.consent(raw) == expected
