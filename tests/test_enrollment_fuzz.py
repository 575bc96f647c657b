"""Issue 17 item 4: fuzzed lists (Hypothesis). Thousands of generated files never crash the intake, never
load a bad row, give every rejection a reason code, and never echo a raw value into a log or the audit.

Derandomised with bounded examples so CI time stays modest: about 3,000 files through the parser alone,
300 through the whole intake against PostgreSQL, 150 corrupted workbooks. Every number is synthetic
(enrollment_files.pnr) and every other value carries a marker (``ZQ`` + letters) that must never come back.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import enrollment_files as ef
from skolsam.enrollment import csvfile, validate, xlsxfile
from skolsam.enrollment.intake import process_bytes
from skolsam.warehouse.connection import connect
from test_build_core import fresh_warehouse, query

FILE_REASONS = {"empty_file", "not_text", "encoding_unsupported", "unreadable_csv", "missing_columns",
                "duplicate_columns", "file_too_large", *xlsxfile.REASONS}
ROW_REASONS = set(validate.REASON_CODES)
def bounded(n: int) -> settings:
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# ---------------------------------------------------------------------------------------------------------
# the parser alone: any bytes, and valid lists with junk spliced in


def _valid_list() -> bytes:
    return ef.render([ef.row(i) for i in range(1, 6)])


@bounded(1500)
@given(st.binary(max_size=4000))
def test_any_bytes_parse_or_are_rejected_with_a_reason(data):
    _parse_or_reason(data)


@bounded(1500)
@given(st.integers(0, 10_000), st.binary(min_size=1, max_size=64), st.booleans())
def test_junk_spliced_into_a_list_parses_or_is_rejected_with_a_reason(at, junk, replace):
    data = _valid_list()
    at %= len(data)
    data = data[:at] + junk + data[at + (len(junk) if replace else 0):]
    _parse_or_reason(data)


def _parse_or_reason(data: bytes) -> None:
    for kind in (csvfile.ENROLLMENT, csvfile.ERASURE):
        try:
            parsed = csvfile.parse(data, kind)
        except csvfile.FileRejected as exc:
            assert exc.reason in FILE_REASONS
            continue
        known = set(csvfile.REQUIRED[kind]) | set(csvfile.OPTIONAL[kind])
        for row in parsed.rows:
            assert set(row.values) <= known and "<values hidden>" in repr(row)


@bounded(150)
@given(st.integers(0, 100_000), st.binary(min_size=1, max_size=32))
def test_corrupted_workbooks_are_rejected_with_a_reason(at, junk):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["personnummer", "insats", "stadsdelsförvaltning", "startdatum"])
    wb.active.append([ef.pnr(1), "PPSS", "Järva", "2025-09-01"])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    at %= len(data)
    data = data[:at] + junk + data[at + len(junk):]
    try:
        xlsxfile.parse_stream(lambda: io.BytesIO(data))
    except csvfile.FileRejected as exc:
        assert exc.reason in FILE_REASONS


# ---------------------------------------------------------------------------------------------------------
# the whole intake against PostgreSQL

_marker = st.text("ABCDEFGHJKLMNPRSTUVWXYZ", min_size=6, max_size=6).map(lambda s: "ZQ" + s)
_noise = st.text(st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=12)


@st.composite
def _field(draw, good_values, bad_values):
    """(text, good?) — a clearly valid or a clearly invalid value, the invalid ones marked."""
    if draw(st.booleans()):
        return draw(st.sampled_from(good_values)), True
    kind = draw(st.sampled_from(["marker", "formula", "quoted", "huge"]))
    m = draw(_marker)
    text = {"marker": m + draw(_noise), "formula": f'=HYPERLINK("http://x/{m}";"{m}")',
            "quoted": f'"{m}";,"\n{m}', "huge": m * 200}[kind]
    return text, False


@st.composite
def lists(draw):
    n = draw(st.integers(0, 12))
    rows, expected = [], set()
    for i in range(n):
        seq = 100 + i  # one pupil per row: no duplicates, so the oracle is the row's own validity
        form = draw(st.sampled_from(["10dash", "10", "12", "12dash"]))
        pnr_ok = draw(st.booleans())
        m = draw(_marker)
        number = ef.pnr(seq, form=form) if pnr_ok else draw(st.sampled_from(
            [ef.bad_checksum(ef.pnr(seq)), "", m, f"=HYPERLINK(\"{m}\")", ef.pnr(seq, month=13)]))
        programme, p_ok = draw(_field(["PPSS", " ppss ", "SkolFam", "kp / kf", "KP/KF"], None))
        district, d_ok = draw(_field(["Järva", "Östermalm", "södermalm", "Hägersten-Liljeholmen"], None))
        start, s_ok = draw(_field(["2025-09-01", "20250901", "2026-01-12"], None))
        consent = draw(st.sampled_from(["", "ja", "JA"]))
        r = ef.row(seq, programme=programme, district=district, start=start, end="", unit="", consent=consent,
                   number=number, förnamn=draw(_marker), efternamn=draw(_marker),
                   kommentar=draw(_marker) + draw(_noise))
        rows.append(r)
        if pnr_ok and p_ok and d_ok and s_ok:
            expected.add(ef.normalised(ef.pnr(seq)))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    header = list(ef.HEADER)
    if draw(st.booleans()):
        header.append(draw(_marker))  # an extra column with values of its own
        for r in rows:
            r[header[-1]] = draw(_marker)
    damage = draw(st.sampled_from(["none"] * 6 + ["drop_column", "junk", "huge_cell"]))
    if damage == "drop_column":
        header.remove(draw(st.sampled_from(["insats", "startdatum", "personnummer"])))
    try:
        data = ef.render(rows, header=header, delimiter=delimiter, encoding=encoding,
                         quote_all=draw(st.booleans()))
    except UnicodeEncodeError:
        data = ef.render(rows, header=header, delimiter=delimiter, encoding="utf-8")
    if damage == "junk":
        data += b"\x00\x01" + bytes(draw(st.binary(min_size=1, max_size=32)))
    elif damage == "huge_cell":
        data += (draw(_marker) * 30_000).encode() + b"\r\n"
    raw_values = {v for r in rows for k, v in r.items() if k not in ("insats", "samtycke", "skolenhetskod",
                                                                     "slutdatum", "stadsdelsförvaltning",
                                                                     "startdatum") and len(v) >= 6}
    raw_values |= {v for r in rows for v in r.values() if "ZQ" in v}
    return data, expected, (damage != "none"), raw_values


@pytest.fixture(scope="module")
def fuzz_url(pg_admin_url):
    with fresh_warehouse(pg_admin_url) as url:
        yield url


@bounded(300)
@given(case=lists())
def test_generated_lists_never_crash_never_load_a_bad_row_never_echo_a_value(case, fuzz_url, pseudonymiser,
                                                                             caplog):
    data, expected, damaged, raw_values = case
    with connect(fuzz_url) as conn:
        conn.execute("TRUNCATE staging.enrollment, staging.enrollment_file, audit.quarantine, audit.erasure")
        conn.execute("DELETE FROM audit.load_run")
        conn.commit()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result, detail = process_bytes("lista.csv", data, fuzz_url, pseudonymiser)
    event(f"{result.status}: {result.reason or 'ok'}; rows expected {'some' if expected else 'none'}")
    loaded = {k for (k,) in query(fuzz_url, "SELECT student_key FROM staging.enrollment")}
    if damaged:  # a dropped required column, binary junk, a cell beyond the CSV field limit
        assert result.status == "rejected" and result.reason in FILE_REASONS
        assert not loaded
    else:
        assert result.status == "loaded"
        assert loaded == {pseudonymiser.student_key(n) for n in expected}  # every good row, never a bad one
        reasons = [r for (r,) in query(fuzz_url, "SELECT reason_code FROM audit.quarantine")]
        assert set(reasons) <= ROW_REASONS and None not in reasons
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
    echoed = json.dumps(query(fuzz_url, "SELECT entity, detail, record_ref FROM audit.quarantine"), default=str)
    echoed += json.dumps(query(fuzz_url, "SELECT entity, message FROM audit.load_run"), default=str)
    echoed += json.dumps(result.as_dict()) + str(detail) + caplog.text
    leaked = [v for v in raw_values if v and v.strip() and v in echoed]
    assert not leaked
