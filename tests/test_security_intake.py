"""Issue 17 findings 3, 5, 6, 7 and 8: each test here failed on the code before the fix.

- 3: symbolic links in the landing folder (archive/, rejected/, a delivered link, a planted reason file, the purge)
- 5: settings copied verbatim into core.build_parameter and the build's XCom (a landing URL with a password)
- 6: no size limit, the whole file read into memory
- 7: a personnummer in a file name stored, logged and archived
- 8: weak pseudonym keys accepted
Every number here is synthetic (enrollment_files.pnr).
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import tracemalloc

import pytest

import enrollment_files as ef
from skolsam import maintenance
from skolsam.enrollment import csvfile
from skolsam.enrollment.intake import ingest_landing
from skolsam.enrollment.landing import UnsafeLanding
from skolsam.pseudonym import Pseudonymiser, TermPseudonymiser, WeakKey, check_key
from skolsam.redact import url_without_userinfo
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect


def q(url: str, sql: str, params=()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


# ---------------------------------------------------------------------------------------------------------
# finding 3: symbolic links


@pytest.fixture
def victim(tmp_path):
    """A folder outside the landing folder that a depositor should never reach."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pseudonym.key").write_text("do not touch\n")
    return outside


@pytest.mark.parametrize("sub", ["archive", "rejected"])
def test_symlinked_archive_or_rejected_folder_is_refused(tmp_path, victim, warehouse_url, pseudonymiser, sub):
    landing = tmp_path / "landing"
    ef.write(landing, "lista.csv", [ef.row(1)])
    ef.write(landing, "trasig.csv", [], header=["namn"])  # rejected whole
    (landing / sub).symlink_to(victim, target_is_directory=True)
    with pytest.raises(UnsafeLanding):
        ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert sorted(p.name for p in victim.iterdir()) == ["pseudonym.key"]  # nothing moved or written there
    assert (landing / "lista.csv").exists() and (landing / "trasig.csv").exists()
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(0,)]


def test_a_delivered_symlink_is_not_read(tmp_path, victim, warehouse_url, pseudonymiser):
    other = victim / "annan_stadsdel.csv"
    other.write_bytes(ef.render([ef.row(7)]))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "lista.csv").symlink_to(other)
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    [f] = summary["files"]
    assert (f["status"], f["reason"]) == ("rejected", "not_regular_file")
    assert other.read_bytes() == ef.render([ef.row(7)])  # the other district's list stays where it was
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(0,)]
    moved = landing / f["moved_to"]
    assert moved.is_symlink()  # the link itself was set aside, its target untouched
    assert "not_regular_file" in (landing / (f["moved_to"] + ".reason.txt")).read_text()


def test_a_planted_reason_file_link_is_not_followed(tmp_path, victim, warehouse_url, pseudonymiser):
    landing = tmp_path / "landing"
    ef.write(landing, "trasig.csv", [], header=["namn"])
    (landing / "rejected").mkdir()
    (landing / "rejected" / "trasig.csv.reason.txt").symlink_to(victim / "pseudonym.key")
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert (victim / "pseudonym.key").read_text() == "do not touch\n"


def test_purge_deletes_only_regular_files_and_follows_no_link(tmp_path, victim):
    landing = tmp_path / "landing"
    archive = landing / "archive"
    archive.mkdir(parents=True)
    old = time.time() - 400 * 86400
    (archive / "gammal.csv").write_text("x")
    (archive / "lank.csv").symlink_to(victim / "pseudonym.key")
    os.utime(archive / "gammal.csv", (old, old))
    os.utime(victim / "pseudonym.key", (old, old))
    assert maintenance.purge_landing_archive(str(landing), 90) == 1
    assert not (archive / "gammal.csv").exists()
    assert (victim / "pseudonym.key").exists() and (archive / "lank.csv").is_symlink()

    # A symlinked rejected/ pointing at the secrets: the purge refuses to work through it.
    (landing / "rejected").symlink_to(victim, target_is_directory=True)
    with pytest.raises(UnsafeLanding):
        maintenance.purge_landing_archive(str(landing), 90)
    assert (victim / "pseudonym.key").exists()


# ---------------------------------------------------------------------------------------------------------
# finding 6: size limit and streaming


def test_oversize_list_is_rejected_without_being_parsed(tmp_path, warehouse_url, pseudonymiser, monkeypatch):
    landing = tmp_path / "landing"
    ef.write(landing, "stor.csv", [ef.row(i) for i in range(1, 60)])
    size = (landing / "stor.csv").stat().st_size

    def never(*a, **k):
        raise AssertionError("an oversize file must not be parsed")

    monkeypatch.setattr(csvfile, "parse_stream", never)
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser,
                             Settings(enrollment_max_file_bytes=size - 1))
    [f] = summary["files"]
    assert (f["status"], f["reason"], f["moved_to"]) == ("rejected", "file_too_large", "rejected/stor.csv")
    reason = (landing / "rejected" / "stor.csv.reason.txt").read_text()
    assert "file_too_large" in reason and f"limit {size - 1}" in reason
    assert q(warehouse_url, "SELECT status, reject_reason FROM staging.enrollment_file") == [
        ("rejected", "file_too_large")]
    assert q(warehouse_url, "SELECT count(*) FROM staging.enrollment") == [(0,)]


class _Counting(io.BytesIO):
    """A stream that records the largest read asked of it."""

    largest = 0

    def read(self, n=-1):
        _Counting.largest = max(_Counting.largest, n if n is not None and n >= 0 else 1 << 40)
        return super().read(n)

    def read1(self, n=-1):
        return self.read(n)

    def readinto(self, b):
        _Counting.largest = max(_Counting.largest, len(b))
        return super().readinto(b)


def test_parse_reads_in_chunks_and_keeps_only_known_columns():
    # 3,000 rows with a 2 kB comment each (a ~6.5 MB file): the parse must not hold the file.
    rows = [ef.row(1 + i % 999, start="2025-09-01", kommentar="k" * 2000) for i in range(3000)]
    data = ef.render(rows)
    assert len(data) > 6_000_000
    _Counting.largest = 0
    tracemalloc.start()
    try:
        parsed = csvfile.parse_stream(lambda: _Counting(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.rows) == 3000
    assert _Counting.largest <= 1 << 16  # never asked for the whole file
    assert peak < 3_000_000  # about 2.5 MB for the kept rows; the 6.5 MB file was never in memory at once


# ---------------------------------------------------------------------------------------------------------
# finding 7: a personnummer in a file name


def test_personnummer_in_a_file_name_is_scrubbed_everywhere(tmp_path, warehouse_url, pseudonymiser, caplog):
    number = ef.pnr(5, form="12dash")  # e.g. 20120517-0051
    digits = number.replace("-", "")
    landing = tmp_path / "landing"
    ef.write(landing, f"lista_{number}.csv", [ef.row(5), ef.row(6, number="12345")])
    ef.erasure_request(landing, f"radering_{number}.csv", [number])
    with caplog.at_level(logging.DEBUG):
        summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert {f["status"] for f in summary["files"]} == {"loaded"}
    kinds = sorted(f["kind"] for f in summary["files"])
    assert kinds == ["enrollment", "erasure"]  # the erasure request is still recognised by its name

    stored = json.dumps([
        q(warehouse_url, "SELECT file_name FROM staging.enrollment_file"),
        q(warehouse_url, "SELECT entity, message FROM audit.load_run"),
        q(warehouse_url, "SELECT entity, detail FROM audit.quarantine"),
    ]) + json.dumps(summary) + caplog.text + " ".join(os.listdir(landing / "archive"))
    for needle in (number, digits, digits[2:], number[2:]):
        assert needle not in stored
    assert "lista_XXXXXXXX-XXXX.csv" in stored


# ---------------------------------------------------------------------------------------------------------
# finding 8: weak keys


@pytest.mark.parametrize("weak", [
    "a" * 16,
    "test-key-not-a-secret-0123456789abcdef",  # the old test key: 38 characters
    "a" * 64,
    "0123456789abcdef" * 4,
    "deadbeef" * 8,
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ01",
    "0" * 64,
])
def test_weak_keys_are_refused(weak):
    with pytest.raises(WeakKey) as err:
        Pseudonymiser(weak)
    assert weak not in str(err.value)
    with pytest.raises(WeakKey):
        TermPseudonymiser(weak)


def test_random_keys_pass_and_the_demo_key_file_is_strong(tmp_path, monkeypatch):
    import secrets

    for _ in range(200):
        check_key(secrets.token_hex(32))
    check_key(secrets.token_urlsafe(48))
    from skolsam.pseudonym import load_key, load_mart_key

    monkeypatch.delenv("SKOLSAM_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("SKOLSAM_MART_PSEUDONYM_KEY", raising=False)
    key, mart_key = load_key(home=tmp_path), load_mart_key(home=tmp_path)
    assert len(key) == 64 and int(key, 16) >= 0 and key != mart_key
    Pseudonymiser(key), TermPseudonymiser(mart_key)


def test_a_weak_key_in_the_environment_stops_the_intake(monkeypatch):
    from skolsam import pseudonym

    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", "aaaaaaaaaaaaaaaa")
    with pytest.raises(WeakKey):
        pseudonym.default()


# ---------------------------------------------------------------------------------------------------------
# finding 5: only thresholds in core.build_parameter and XComs


SECRET_URL = "sftp://depositor:s3cret-pw@files.example.org/landing"


def test_build_parameters_are_thresholds_only():
    from skolsam.warehouse.build import build_parameters

    params = build_parameters(Settings(enrollment_landing=SECRET_URL, term_calendar="/etc/skolsam/terms.csv"))
    assert "enrollment_landing" not in params and "term_calendar" not in params
    assert "s3cret-pw" not in json.dumps(params)
    assert params["suppression_min_n"] == "10" and params["absence_high"] == "0.1"


def test_build_stores_and_returns_no_url(warehouse_url):
    from skolsam.warehouse import build

    result = build.prepare(warehouse_url, Settings(enrollment_landing=SECRET_URL)).as_dict()
    stored = q(warehouse_url, "SELECT name, value FROM core.build_parameter")
    assert stored and "s3cret-pw" not in json.dumps(stored) + json.dumps(result)
    assert "depositor" not in json.dumps(stored) + json.dumps(result)


def test_urls_lose_their_userinfo():
    assert url_without_userinfo(SECRET_URL) == "sftp://***@files.example.org/landing"
    assert url_without_userinfo("error at postgresql://u:p@db:5432/x and s3://bucket/a") == \
        "error at postgresql://***@db:5432/x and s3://bucket/a"
