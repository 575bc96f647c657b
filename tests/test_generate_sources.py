"""skolsam generate --sources N: the synthetic city split into school systems (DESIGN 3.1.1).

Each school unit in exactly one system, a person record per system a pupil was enrolled in (same civic
number, different id), movers whose enrolment in the city's system ends the day before the one at the
operator starts, grades and attendance in the system of the school at the time, the same city written as
one system (``one_system``) holding exactly the same facts, and the stand-in serving every source.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from test_generate import validators  # noqa: F401  (the spec's schemas, a module fixture)

from skolsam.generate import generate_dataset
from skolsam.generate.output import Manifest
from skolsam.standin.dataset import dataset_sources
from skolsam.standin.running import running_sources
from skolsam.terms import calendar_by_name, load_calendar

PUPILS = 400
SEED = 7
TERMS = calendar_by_name(load_calendar())


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources") / "ds"
    generate_dataset(out, pupils=PUPILS, seed=SEED, sources=3)
    return out


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "ds"
    generate_dataset(out, pupils=PUPILS, seed=SEED, sources=3, one_system=True)
    return out


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _load(folder: Path) -> dict[str, list[dict]]:
    ss = folder / "ss12000"
    return {
        "organisations": json.loads((ss / "organisations.json").read_text("utf-8"))["data"],
        "syllabuses": json.loads((ss / "syllabuses.json").read_text("utf-8"))["data"],
        "persons": _jsonl(ss / "persons.jsonl"),
        "grades": _jsonl(ss / "grades.jsonl"),
        "attendance": _jsonl(ss / "aggregatedAttendance.jsonl"),
        "deleted": _jsonl(ss / "deletedEntities.jsonl"),
    }


@pytest.fixture(scope="module")
def systems(split) -> dict[str, dict[str, list[dict]]]:
    return {sid: _load(folder) for sid, folder in dataset_sources(split).items()}


def test_layout_manifest_and_source_order(split):
    manifest = Manifest.load(split / "manifest.json")
    assert manifest.sources == ["stockholm", "fristaende_1", "fristaende_2"]
    assert list(dataset_sources(split)) == manifest.sources
    assert not (split / "ss12000").exists()
    for sid in manifest.sources:
        for name in ("organisations.json", "persons.jsonl", "syllabuses.json", "grades.jsonl",
                     "aggregatedAttendance.jsonl", "deletedEntities.jsonl"):
            entry = manifest.file(f"sources/{sid}/ss12000/{name}")
            assert (split / entry.path).stat().st_size == entry.bytes
    assert manifest.counts["school_systems"] == 3
    assert manifest.counts["movers"] >= 1


def test_every_object_validates_against_the_spec(systems, validators):  # noqa: F811
    problems = []
    for sid, data in systems.items():
        for entity, schema in (("organisations", "Organisation"), ("syllabuses", "Syllabus"),
                               ("persons", "Person"), ("grades", "Grade"), ("attendance", "AggregatedAttendance")):
            for i, obj in enumerate(data[entity]):
                problems += [f"{sid} {entity}[{i}] {list(e.absolute_path)} {e.validator}"
                             for e in validators[schema].iter_errors(obj)]
    assert not problems, problems[:20]


def test_each_school_unit_in_exactly_one_system_under_its_own_huvudman(systems):
    where: dict[str, list[str]] = collections.defaultdict(list)
    for sid, data in systems.items():
        orgs = {o["id"]: o for o in data["organisations"]}
        heads = [o for o in orgs.values() if o["organisationType"] == "Huvudman"]
        assert len(heads) == 1, sid
        units = [o for o in orgs.values() if o["organisationType"] == "Skolenhet"]
        assert units, f"{sid} runs no school unit"
        for u in units:
            where[u["schoolUnitCode"]].append(sid)
            parent = orgs[u["parentOrganisation"]["id"]]  # the parent is in the same system
            if sid == "stockholm":
                assert parent["organisationType"] == "Förvaltning"
            else:
                assert parent["id"] == heads[0]["id"]
    assert all(len(v) == 1 for v in where.values()), {k: v for k, v in where.items() if len(v) > 1}
    assert {v[0] for v in where.values()} == set(systems)


def test_person_ids_differ_per_system_and_movers_change_system_mid_year(systems):
    ids: dict[str, set[str]] = collections.defaultdict(set)
    by_civic: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    for sid, data in systems.items():
        for p in data["persons"]:
            ids[p["id"]].add(sid)
            by_civic[p["civicNo"]["value"]][sid] = p
    assert all(len(s) == 1 for s in ids.values())  # no id is reused by another system
    assert len(by_civic) == PUPILS
    movers = 0
    for civic, records in by_civic.items():
        if len(records) < 2:
            continue
        assert len({r["id"] for r in records.values()}) == len(records)
        assert len({(r["sex"], r["birthDate"]) for r in records.values()}) == 1
        spans = sorted((dt.date.fromisoformat(e["startDate"]), dt.date.fromisoformat(e["endDate"]), sid,
                        e["schoolYear"]) for sid, r in records.items() for e in r["enrolments"])
        for (s1, e1, sid1, y1), (s2, _, sid2, y2) in zip(spans, spans[1:]):
            assert s2 > e1, "two systems enrol the pupil on the same day"
            if y1 == y2:  # a move inside one school year: from the city's school, the next day
                assert (sid1, s2 - e1) == ("stockholm", dt.timedelta(days=1)) and sid2 != "stockholm"
                assert s2.day == 1
                movers += 1
    assert movers >= 1


def _enrolled(person: dict, unit: str, day: dt.date) -> bool:
    return any(e["enroledAt"]["id"] == unit and dt.date.fromisoformat(e["startDate"]) <= day
               <= dt.date.fromisoformat(e["endDate"]) for e in person["enrolments"])


def test_grades_and_attendance_are_in_the_system_of_the_school_at_the_time(systems):
    for sid, data in systems.items():
        persons = {p["id"]: p for p in data["persons"]}
        units = {o["id"] for o in data["organisations"] if o["organisationType"] == "Skolenhet"}
        syllabuses = {s["id"] for s in data["syllabuses"]}
        for g in data["grades"]:
            assert g["student"]["id"] in persons and g["schoolUnit"]["id"] in units
            assert g["syllabus"]["id"] in syllabuses
            term_end = TERMS[f"{g['semester']}{g['year']}"].end  # the school that sets the grade
            assert _enrolled(persons[g["student"]["id"]], g["schoolUnit"]["id"], term_end), sid
        for a in data["attendance"]:
            person = persons[a["student"]["id"]]
            day = dt.date.fromisoformat(a["startDate"])
            assert any(dt.date.fromisoformat(e["startDate"]) <= day <= dt.date.fromisoformat(e["endDate"])
                       for e in person["enrolments"]), f"{sid}: attendance outside the pupil's enrolment here"
    syl = [{s["subjectDesignation"]: s["id"] for s in d["syllabuses"]} for d in systems.values()]
    assert all(set(a.values()).isdisjoint(b.values()) for i, a in enumerate(syl) for b in syl[i + 1:])


def _facts(folders: list[dict[str, list[dict]]]) -> tuple[collections.Counter, collections.Counter]:
    """Grades and attendance as (civic, what) multisets, whatever system holds them."""
    grades, attendance = collections.Counter(), collections.Counter()
    for data in folders:
        civic = {p["id"]: p["civicNo"]["value"] for p in data["persons"]}
        subject = {s["id"]: s["subjectDesignation"] for s in data["syllabuses"]}
        for g in data["grades"]:
            grades[(civic[g["student"]["id"]], subject[g["syllabus"]["id"]], g["semester"], g["year"],
                    g["gradeValue"], g["registeredDate"], g["schoolUnit"]["id"])] += 1
        for a in data["attendance"]:
            attendance[(civic[a["student"]["id"]], a["activity"]["id"], a["startDate"], a["offeredSum"],
                        a["validAbsenceSum"], a["invalidAbsenceSum"])] += 1
    return grades, attendance


def test_one_system_holds_the_same_city(systems, merged):
    one = _load(merged)
    assert Manifest.load(merged / "manifest.json").sources == []
    assert _facts([one]) == _facts(list(systems.values()))
    units = lambda orgs: {o["id"] for o in orgs if o["organisationType"] == "Skolenhet"}  # noqa: E731
    assert units(one["organisations"]) == set().union(*(units(d["organisations"]) for d in systems.values()))
    enrolments = lambda persons: collections.Counter(  # noqa: E731
        (p["civicNo"]["value"], e["enroledAt"]["id"], e["startDate"], e["endDate"]) for p in persons
        for e in p["enrolments"])
    assert enrolments(one["persons"]) == sum((enrolments(d["persons"]) for d in systems.values()),
                                             collections.Counter())
    assert len(one["deleted"]) == sum(len(d["deleted"]) for d in systems.values())


def test_deterministic_and_one_source_unchanged_by_the_option(tmp_path, split):
    again = generate_dataset(tmp_path / "again", pupils=PUPILS, seed=SEED, sources=3)
    assert again.to_json() == (split / "manifest.json").read_bytes()
    a = generate_dataset(tmp_path / "a", pupils=60, seed=3)
    b = generate_dataset(tmp_path / "b", pupils=60, seed=3, sources=1)
    assert a.to_json() == b.to_json() and "sources" not in json.loads(a.to_json())
    assert dataset_sources(tmp_path / "a") == {"stockholm": tmp_path / "a"}
    with pytest.raises(ValueError, match="school units"):
        generate_dataset(tmp_path / "c", pupils=60, seed=3, sources=9)
    # a one-system dataset written over a split one leaves no source folder behind
    generate_dataset(tmp_path / "again", pupils=60, seed=3)
    assert not (tmp_path / "again" / "sources").exists()


def test_running_sources_serves_each_system_on_its_own_port(split, tmp_path):
    with running_sources(split, demo=True, index_dir=tmp_path / "index",
                         per_source={"fristaende_2": {"max_page_size": 7}}) as urls:
        assert list(urls) == ["stockholm", "fristaende_1", "fristaende_2"]
        assert len({u.split(":")[2] for u in urls.values()}) == 3
        seen = {}
        for sid, url in urls.items():
            token = httpx.post(url.token_url, data={"grant_type": "client_credentials", "client_id": "skolsam",
                                                    "client_secret": "skolsam"}).json()["access_token"]
            answer = httpx.get(f"{url}/persons", params={"limit": 1000},
                               headers={"Authorization": f"Bearer {token}"}).json()
            seen[sid] = {p["id"] for p in answer["data"]}
        assert len(seen["fristaende_2"]) == 7  # its own option
        expected = {sid: {p["id"] for p in _jsonl(folder / "ss12000" / "persons.jsonl")}
                    for sid, folder in dataset_sources(split).items()}
        assert seen["stockholm"] == expected["stockholm"] and seen["fristaende_2"] <= expected["fristaende_2"]
    with pytest.raises(ValueError, match="does not hold"):
        with running_sources(split, demo=True, per_source={"nowhere": {}}):
            pass
