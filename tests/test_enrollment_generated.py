"""The intake on the synthetic city's lists (skolsam.generate): every kind of dirt the generator plants is
caught with the right reason, the rest lands, the match rate is realistic, and a second run changes nothing."""

from __future__ import annotations

import collections
import shutil

import pytest

import enrollment_files as ef
from skolsam import districts, identity
from skolsam.enrollment import validate
from skolsam.enrollment.intake import ingest_landing
from skolsam.enrollment.match import MatchRateTooLow, check_match_rate, match_rate
from skolsam.generate import generate_dataset
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres


def q(url: str, sql: str, params=()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def expected_identities(folder) -> tuple[set[tuple], set[str]]:
    """(normalised number, programme, start) the lists should leave in staging, and the erased numbers."""
    kept: set[tuple] = set()
    erased: set[str] = set()
    for path in sorted(folder.glob("*.csv")):
        for r in ef.read_list(path):
            try:
                number = identity.parse(r["personnummer"]).normalised
            except identity.InvalidIdentity:
                continue
            if path.name.startswith("radering"):
                erased.add(number)
                continue
            if r.get("samtycke", "").strip().lower() == "nej":
                erased.add(number)
                continue
            facts, reasons = validate.check_row(r)
            if not reasons:
                kept.add((number, facts.programme, facts.start_date))
    return {k for k in kept if k[0] not in erased}, erased


def test_generated_lists(tmp_path, warehouse_url, pseudonymiser):
    dataset = tmp_path / "ds"
    manifest = generate_dataset(dataset, pupils=600, seed=7, terms=["HT2025", "VT2026"])  # förskoleklass to year 9: ~30 participants
    ef.seed_persons(warehouse_url, dataset, pseudonymiser)
    landing = tmp_path / "landing"
    shutil.copytree(dataset / "enrollment", landing)
    expected, erased_numbers = expected_identities(landing)

    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    files = summary["files"]
    assert len(files) == manifest.counts["enrollment_files"] + 1
    assert {f["status"] for f in files} == {"loaded"}
    assert {f["encoding"] for f in files} == {"utf-8", "utf-8-sig", "cp1252"}
    assert {f["delimiter"] for f in files} == {";", ","}
    assert [f["kind"] for f in files if f["name"].startswith("radering")] == ["erasure"]
    assert summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]
    reasons = collections.Counter()
    for f in files:
        reasons.update(f["reasons"] or {})
    pnr = sum(reasons[r] for r in validate.PNR_REASONS)
    assert pnr == manifest.counts["enrollment_invalid_numbers"]
    assert reasons["end_before_start"] == 1 and reasons["programme_unknown"] == 1
    assert reasons["duplicate_in_file"] >= 2
    assert reasons["consent_withdrawn"] >= 1
    assert set(reasons) <= set(validate.REASON_CODES)
    assert any(f["rows_updated"] for f in files if f["name"].endswith("_avslut.csv"))

    got = {r for r in q(warehouse_url, "SELECT student_key, programme, start_date FROM staging.enrollment")}
    assert got == {(pseudonymiser.student_key(n), p, s) for n, p, s in expected}
    erased_keys = {k for (k,) in q(warehouse_url, "SELECT student_key FROM audit.erased_key")}
    assert erased_keys == {pseudonymiser.student_key(n) for n in erased_numbers}
    assert len(erased_keys) >= manifest.counts["consent_refused"]
    assert not erased_keys & {k for k, _, _ in got}
    assert q(warehouse_url, "SELECT count(*) FROM staging.ss12000_person WHERE student_key = ANY(%s)",
             (sorted(erased_keys),)) == [(0,)]
    for delivered, current in q(warehouse_url, "SELECT DISTINCT district_delivered, district FROM staging.enrollment"):
        assert districts.current_name(delivered) == current and current in districts.CURRENT

    # The match-rate gate: passes on the city; a clear stop (counts only) on a truncated person extract.
    rate = match_rate(warehouse_url)
    assert rate.enrolled == len({k for k, _, _ in got}) and 0.8 <= rate.rate <= 1.0
    assert check_match_rate(warehouse_url, Settings()) == rate
    with connect(warehouse_url) as conn:
        conn.execute("""DELETE FROM staging.ss12000_person WHERE student_key IN (
                            SELECT DISTINCT student_key FROM staging.enrollment ORDER BY 1 LIMIT %s)""",
                     (rate.enrolled // 2 + 1,))
        conn.commit()
    low = match_rate(warehouse_url)
    assert low.enrolled == rate.enrolled and low.rate < 0.5
    with pytest.raises(MatchRateTooLow) as err:
        check_match_rate(warehouse_url, Settings(match_rate_min=0.8))
    message = str(err.value)
    assert f"{low.matched} of {low.enrolled}" in message and "80.0%" in message and f"{low.rate:.1%}" in message
    assert not any(k in message for k, _, _ in got)
    assert err.value.result == low and err.value.threshold == 0.8

    # Everything delivered again: nothing changes.
    before = q(warehouse_url, "SELECT * FROM staging.enrollment ORDER BY 1, 2, 3")
    quarantined = q(warehouse_url, "SELECT count(*) FROM audit.quarantine")
    for p in (landing / "archive").iterdir():
        shutil.copy2(p, landing / p.name)
    again = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert {f["status"] for f in again["files"]} == {"skipped"} and not again["changed"]
    assert q(warehouse_url, "SELECT * FROM staging.enrollment ORDER BY 1, 2, 3") == before
    assert q(warehouse_url, "SELECT count(*) FROM audit.quarantine") == quarantined


def test_match_rate_without_lists(warehouse_url):
    rate = check_match_rate(warehouse_url, Settings(match_rate_min=0.95))
    assert (rate.enrolled, rate.matched, rate.rate) == (0, 0, None)
    assert rate.as_dict() == {"enrolled": 0, "matched": 0, "rate": None}
