"""The typed path of persons (a msgspec ``Person`` formatted straight to COPY text) gives exactly what the strict
check gives: the same COPY lines for persons and enrolments, the same quarantine rows (reason, record number,
record_ref, detail, content hash), the same records dropped for erasure, the same counts and the same newly
erased refs, on spec-shaped persons with fields dropped, nulled or given odd values (Hypothesis), on the
register quirks of test_ss12000_persons (10-digit civic numbers, unknown sex and marking, staff without an
enrolment, school years out of range) and on erased pupils. A real extract of the persons, typed and strict,
leaves the same staging and audit rows (test_ss12000_extract's faulty-server test compares the two as well).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, strategies as st

from conftest import TEST_KEY
from ss12000_fixtures import (  # noqa: F401 (fixtures)
    api_config, broken_checksum, dataset, read_jsonl, rows, server, synthetic_pnr, write_jsonl,
)
from test_ss12000_properties import ODD, _dumps, bounded, dates, timestamps, uuids

from skolsam.pseudonym import Pseudonymiser
from skolsam.ss12000 import pipeline, schema
from skolsam.ss12000.extract import extract_entity
from skolsam.ss12000.mappers.persons import PERSONS
from skolsam.ss12000.pipeline import Run, _RAW_RECORDS, process_page

_rng = random.Random(5)
CIVICS = [synthetic_pnr(_rng, y) for y in (2010, 2012, 2014)]
CIVIC_VALUES = st.sampled_from(
    CIVICS + [c[2:8] + "-" + c[8:] for c in CIVICS] + [c[2:8] + "+" + c[8:] for c in CIVICS]
    + [c[2:] for c in CIVICS] + [broken_checksum(c) for c in CIVICS] + [" " + CIVICS[0] + " ", "abc-def", ""])


@st.composite
def enrolment(draw) -> dict:
    e = {"enroledAt": {"id": draw(uuids)}, "schoolType": draw(st.sampled_from(["GR", "FKLASS", "GY"])),
         "startDate": draw(dates)}
    for key, value in (("schoolYear", draw(st.integers(-1, 11))), ("endDate", draw(dates)),
                       ("cancelled", draw(st.booleans()))):
        if draw(st.booleans()):
            e[key] = value
    return e


@st.composite
def person(draw) -> dict:
    civic = draw(CIVIC_VALUES)
    p = {"id": draw(uuids), "meta": {"created": draw(timestamps), "modified": draw(timestamps)},
         "givenName": "Elev", "civicNo": {"value": civic, "nationality": "SE"},
         "sex": draw(st.sampled_from(sorted(schema.SEXES) + ["X"])),
         "securityMarking": draw(st.sampled_from(sorted(schema.SECURITY_MARKINGS) + ["Okänd"])),
         "enrolments": draw(st.lists(enrolment(), min_size=0, max_size=3))}
    if draw(st.booleans()):  # the birth date that gives a 10-digit number its century
        digits = "".join(ch for ch in civic if ch.isdigit())
        p["birthDate"] = (f"20{digits[-10:-8]}-{digits[-8:-6]}-{digits[-6:-4]}" if len(digits) >= 10
                          else draw(dates))
    return p


PATHS = ["id", "meta", "meta.modified", "civicNo", "civicNo.value", "birthDate", "sex", "securityMarking",
         "enrolments", "enrolments.0", "enrolments.0.enroledAt", "enrolments.0.enroledAt.id",
         "enrolments.0.schoolType", "enrolments.0.startDate", "enrolments.0.endDate", "enrolments.0.cancelled",
         "enrolments.0.schoolYear", "enrolments.1.schoolType"]


@st.composite
def mutated_person(draw) -> dict:
    """A person with up to two fields dropped, nulled or replaced by an odd value."""
    rec = json.loads(json.dumps(draw(person())))
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(PATHS)).split(".")
        parent: Any = rec
        for part in path[:-1]:
            if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
                parent = parent[int(part)]
            else:
                parent = parent.get(part) if isinstance(parent, dict) else None
        last = path[-1]
        how = draw(st.sampled_from(["drop", "null", "odd"]))
        value = None if how == "null" else draw(ODD)
        if isinstance(parent, dict):
            if how == "drop":
                parent.pop(last, None)
            else:
                parent[last] = value
        elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
            if how == "drop":
                del parent[int(last)]
            else:
                parent[int(last)] = value
    return rec


class _Load:
    run_id = 7


def _run(erased: list[dict]) -> Run:
    run = Run("persons", None, _Load(), Pseudonymiser(TEST_KEY))
    # one erased by its source id, one by its civic number (the pupil's ref is then newly found erased)
    for i, p in enumerate(erased):
        if i % 2 == 0 and isinstance(p.get("id"), str) and p["id"]:
            run.erased_refs.add(run.person_ref(p["id"]))
        civic = p.get("civicNo")
        if i % 2 == 1 and isinstance(civic, dict) and isinstance(civic.get("value"), str):
            try:
                run.erased_keys.add(run.pseudo.key_for(civic["value"])[0])
            except Exception:
                pass
    return run


def _outcome(out) -> tuple:
    return ({t: lines for t, lines in out.text.items()},
            [(r.reason_code, r.row_number, r.record_ref, r.detail, r.content_hash) for r in out.rejects],
            out.dropped, dict(out.counts), out.erased_refs)


def _every_path(records: list[dict], erased: list[dict]) -> dict[str, tuple]:
    body = _dumps({"data": records, "pageToken": None})
    outs = {"strict": _outcome(process_page(_run(erased), PERSONS, schema.loads_lenient(body)["data"], 0))}
    plain = lambda: schema.loads_lenient(body)["data"]  # noqa: E731
    try:
        typed = schema.page_decoder(PERSONS.page_type).decode(body).data
        outs["typed"] = _outcome(process_page(_run(erased), PERSONS, typed, 0, typed=True, as_dicts=plain))
    except schema.DECODE_ERRORS:
        pass
    try:
        split = _RAW_RECORDS.decode(body).data
        outs["split"] = _outcome(process_page(_run(erased), PERSONS, split, 0, split=True))
    except schema.DECODE_ERRORS:
        pass
    return outs


@bounded(250)
@given(st.lists(mutated_person(), max_size=6), st.data())
def test_typed_persons_give_exactly_what_the_strict_check_gives(records, data):
    erased = data.draw(st.lists(st.sampled_from(records), max_size=2)) if records else []
    outs = _every_path(records, erased)
    for path, outcome in outs.items():
        assert outcome == outs["strict"], path


def test_the_typed_path_takes_the_plain_pupils_and_defers_the_rest():
    """Not vacuous: most plain pupils are formatted by the typed line; each quirk goes to the strict check."""
    rng = random.Random(3)
    unit = "0f8fad5b-d9cb-469f-a165-70867728950e"

    def pupil(i: int, **kw) -> dict:
        p = {"id": f"p{i}", "meta": {"modified": "2025-08-18T06:00:00+02:00"},
             "civicNo": {"value": synthetic_pnr(rng, 2012)}, "sex": "Kvinna", "securityMarking": "Ingen",
             "enrolments": [{"enroledAt": {"id": unit}, "schoolType": "GR", "schoolYear": 7,
                             "startDate": "2025-08-18"}]}
        p.update(kw)
        return p

    plain = [pupil(i) for i in range(5)]
    ten = pupil(5)
    ten["civicNo"] = {"value": ten["civicNo"]["value"][2:8] + "-" + ten["civicNo"]["value"][8:]}
    quirks = [ten, pupil(6, sex="X"), pupil(7, securityMarking="?"), pupil(8, enrolments=[]),
              pupil(9, civicNo={"value": "abc-def"}), pupil(10, enrolments=[{"enroledAt": {"id": unit},
                                                                           "schoolType": "GR", "schoolYear": 12,
                                                                           "startDate": "2025-08-18"}])]
    run = _run([])
    line = PERSONS.line(run)
    decoded = schema.page_decoder(PERSONS.page_type).decode(_dumps({"data": plain + quirks})).data
    assert [line(p) is not None for p in decoded] == [True] * 5 + [False] * 6
    outs = _every_path(plain + quirks, [])
    assert outs["typed"] == outs["strict"]
    text, rejects, dropped, counts, _ = outs["strict"]
    assert len(text["pg_temp.tmp_ss12000_person"]) == 9 and [r[0] for r in rejects] == ["pnr_format"]
    assert counts == {"civic_century_inferred": 1, "sex_unknown": 1, "security_marking_unknown": 1,
                      "persons_not_pupils": 1, "school_year_unknown": 1}


def _staging(url: str) -> dict:
    return {
        "persons": sorted(rows(url, "SELECT person_ref, student_key, sex, birth_year, protected, modified_at, source"
                                    " FROM staging.ss12000_person")),
        "enrolments": sorted(rows(url, "SELECT * FROM staging.ss12000_enrolment"), key=repr),
        "quarantine": sorted(rows(url, "SELECT entity, reason_code, record_ref, detail, content_hash"
                                       " FROM audit.quarantine"), key=repr),
        "erased": sorted(rows(url, "SELECT person_ref FROM audit.erased_ref")),
    }


def _counters(summary: dict) -> dict:
    """What the two runs must share (the second is a full refresh after the first: its previous watermark and
    its new quarantine rows differ by design)."""
    return {k: v for k, v in summary.items() if k not in ("seconds", "run_id", "retries", "previous_watermark",
                                                          "full_refresh", "quarantine_new")
            and not k.endswith("_seconds")}


@pytest.mark.postgres
def test_typed_and_strict_extracts_of_persons_leave_the_same_rows(warehouse_url, server, dataset, pseudonymiser,
                                                                  monkeypatch):
    path = dataset / "ss12000" / "persons.jsonl"
    persons = read_jsonl(path)
    persons[0]["civicNo"]["value"] = broken_checksum(persons[0]["civicNo"]["value"])
    persons[1]["sex"] = "X"
    persons[2]["civicNo"]["value"] = persons[2]["civicNo"]["value"][2:8] + "-" + persons[2]["civicNo"]["value"][8:]
    persons[4]["enrolments"] = []
    persons[5]["enrolments"][0]["schoolType"] = "G\tR"
    write_jsonl(path, persons)
    api = api_config(server, page_size=7)
    typed = extract_entity("persons", warehouse_url, api, pseudonymiser)
    first = _staging(warehouse_url)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "USE_TYPED_DECODERS", False)
        strict = extract_entity("persons", warehouse_url, api, pseudonymiser, full_refresh=True)
    assert _staging(warehouse_url) == first
    assert first["persons"] and first["quarantine"]
    assert _counters(typed) == _counters(strict)
    assert typed["rows_quarantined"] == strict["rows_quarantined"] == 1
    # the same content hash from either path: quarantined once, not again by the other
    assert (typed["quarantine_new"], strict["quarantine_new"]) == (1, 0)
    assert typed["counts"] == {"sex_unknown": 1, "civic_century_inferred": 1, "persons_not_pupils": 1}
