"""Persons as schools register them (issue 11 item 3), through the stand-in into a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from ss12000_fixtures import api_config, broken_checksum, dataset, read_jsonl, rows, server, write_jsonl  # noqa: F401

from skolsam.ss12000.client import ApiConfig
from skolsam.ss12000.extract import extract_entity

pytestmark = pytest.mark.postgres


def _api(url: str) -> ApiConfig:
    return api_config(url, 10)


_rows = rows


def _edit(dataset: Path, edit) -> list[dict]:
    path = dataset / "ss12000" / "persons.jsonl"
    persons = read_jsonl(path)
    edit(persons)
    write_jsonl(path, persons)
    return persons


def test_registers_as_they_are_keep_the_pupil(warehouse_url, server, dataset, pseudonymiser):
    def edit(p):
        p[0]["sex"] = None
        p[1]["sex"] = "Annat"
        del p[2]["sex"]
        p[4]["securityMarking"] = "Skyddad"  # not a spec value: the safe side is protected
        p[5]["securityMarking"] = None
        p[6]["enrolments"][0]["schoolYear"] = 11
        p[7]["enrolments"][0]["schoolYear"] = -1
        p[8]["enrolments"][0]["schoolYear"] = "7"
    persons = _edit(dataset, edit)
    s = extract_entity("persons", warehouse_url, _api(server), pseudonymiser)
    assert (s["rows_loaded"], s["rows_quarantined"]) == (len(persons), 0)
    assert s["counts"] == {"sex_unknown": 3, "security_marking_unknown": 2, "school_year_unknown": 3}
    ref = lambda p: pseudonymiser.source_ref("person", p["id"])  # noqa: E731
    got = {r[0]: r[1:] for r in _rows(warehouse_url, """
        SELECT p.person_ref, p.sex, p.protected, e.school_year FROM staging.ss12000_person p
          JOIN staging.ss12000_enrolment e USING (person_ref)""")}
    assert [got[ref(p)][0] for p in persons[:3]] == ["Okänt"] * 3
    assert got[ref(persons[4])][1] is True and got[ref(persons[5])][1] is True
    assert [got[ref(p)][2] for p in persons[6:9]] == [None, None, None]
    assert got[ref(persons[9])][2] == persons[9]["enrolments"][0]["schoolYear"]


def test_staff_and_guardians_are_skipped_and_counted_not_quarantined(warehouse_url, server, dataset, pseudonymiser):
    staff = {"id": "a0000000-0000-4000-8000-00000000aaaa", "meta": {"modified": "2025-08-18T06:00:00+02:00"},
             "givenName": "Lärare", "familyName": "Ett"}
    guardian = {**staff, "id": "a0000000-0000-4000-8000-00000000bbbb", "civicNo": {"value": ""}, "enrolments": []}
    persons = _edit(dataset, lambda p: p.extend([staff, guardian]))
    for _ in range(2):
        s = extract_entity("persons", warehouse_url, _api(server), pseudonymiser, full_refresh=True)
        assert s["counts"] == {"persons_not_pupils": 2}
        assert (s["rows_loaded"], s["rows_quarantined"]) == (len(persons) - 2, 0)
    assert _rows(warehouse_url, "SELECT count(*) FROM audit.quarantine") == [(0,)]


def test_ten_digit_civic_numbers_get_their_century_and_are_counted(warehouse_url, server, dataset, pseudonymiser):
    originals = read_jsonl(dataset / "ss12000" / "persons.jsonl")

    def edit(p):
        c0 = p[0]["civicNo"]["value"]
        p[0]["civicNo"]["value"] = f"{c0[2:8]}-{c0[8:]}"  # birthDate gives the century
        c1 = p[1]["civicNo"]["value"]
        p[1]["civicNo"]["value"] = f"{c1[2:8]}{c1[8:]}"  # no separator
        del p[1]["birthDate"]  # the separator rule: younger than 100
    persons = _edit(dataset, edit)
    s = extract_entity("persons", warehouse_url, _api(server), pseudonymiser)
    assert s["counts"] == {"civic_century_inferred": 2} and s["rows_quarantined"] == 0
    keys = dict(_rows(warehouse_url, "SELECT person_ref, student_key FROM staging.ss12000_person"))
    for p in originals[:2]:
        expected, _ = pseudonymiser.key_for(p["civicNo"]["value"])
        assert keys[pseudonymiser.source_ref("person", p["id"])] == expected
    assert len(persons) == len(keys)


def test_a_rejected_record_is_quarantined_once_until_it_changes(warehouse_url, server, dataset, pseudonymiser):
    persons = _edit(dataset, lambda p: p[0]["civicNo"].update(value=broken_checksum(p[0]["civicNo"]["value"])))
    for _ in range(3):
        s = extract_entity("persons", warehouse_url, _api(server), pseudonymiser, full_refresh=True)
        assert s["rows_quarantined"] == 1  # still not loaded, every time it is read
    assert _rows(warehouse_url, "SELECT reason_code FROM audit.quarantine") == [("pnr_checksum",)]
    persons[0]["meta"]["modified"] = "2025-09-01T08:00:00+02:00"  # changed, still broken: a new rejection
    write_jsonl(dataset / "ss12000" / "persons.jsonl", persons)
    s = extract_entity("persons", warehouse_url, _api(server), pseudonymiser, full_refresh=True)
    assert s["quarantine_new"] == 1
    assert _rows(warehouse_url, "SELECT count(*) FROM audit.quarantine") == [(2,)]
    # The hash is keyed: nothing of the record can be read back from it.
    (h,) = _rows(warehouse_url, "SELECT content_hash FROM audit.quarantine LIMIT 1")[0]
    assert len(h) == 32 and persons[0]["civicNo"]["value"] not in h
