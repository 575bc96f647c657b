"""A tiny, hand-built SS 12000 dataset folder (same format as skolsam.generate writes) and helpers to read
it back as the tests' independent expectation. Every identity is synthetic: names are 'Elev N', civic
numbers are made with the Luhn helper from skolsam.identity.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from pathlib import Path

import orjson

from skolsam.identity import luhn_check_digit

NS = uuid.UUID("6f1d2c3e-0000-4000-8000-000000000000")
SUBJECTS = ("SV", "EN", "MA", "M2SPA")
HT2025 = ("2025-08-18", "2025-12-19")
VT2026 = ("2026-01-08", "2026-06-12")
MONTHS = {
    "HT2025": [("2025-08-18", "2025-08-31"), ("2025-09-01", "2025-09-30"), ("2025-10-01", "2025-10-31"),
               ("2025-11-01", "2025-11-30"), ("2025-12-01", "2025-12-19")],
    "VT2026": [("2026-01-08", "2026-01-31"), ("2026-02-01", "2026-02-28"), ("2026-03-01", "2026-03-31"),
               ("2026-04-01", "2026-04-30"), ("2026-05-01", "2026-05-31"), ("2026-06-01", "2026-06-12")],
}
GRADES = ("A", "B", "C", "D", "E", "F", "-")


def uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, ":".join(str(p) for p in parts)))


def synthetic_pnr(rng: random.Random, year: int) -> str:
    """A valid 12-digit personnummer for a made-up person born in ``year``."""
    birth = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
    nine = f"{birth:%y%m%d}{rng.randrange(1000):03d}"
    return f"{birth.year // 100}{nine}{luhn_check_digit(nine)}"


def broken_checksum(pnr: str) -> str:
    return pnr[:-1] + str((int(pnr[-1]) + 1) % 10)


def write_jsonl(path: Path, objs) -> None:
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def read_entity(dataset: Path, entity: str) -> list[dict]:
    folder = dataset / "ss12000"
    if (folder / f"{entity}.jsonl").exists():
        return read_jsonl(folder / f"{entity}.jsonl")
    if (folder / f"{entity}.json").exists():
        return orjson.loads((folder / f"{entity}.json").read_bytes())["data"]
    return []


def stamp(day: str, minutes: int = 8 * 60, offset: str = "+01:00") -> str:
    d = dt.date.fromisoformat(day)
    return f"{d.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}:00{offset}"


def build_dataset(root: Path, pupils: int = 24, seed: int = 7) -> Path:
    """Write the dataset to ``root`` and return it. Organisations and syllabuses as {"data": [...]}
    .json, the rest as .jsonl, like the generator."""
    rng = random.Random(seed)
    folder = root / "ss12000"
    folder.mkdir(parents=True, exist_ok=True)
    head, district = uid("org", "head"), uid("org", "district")
    units = [uid("org", "unit", i) for i in range(2)]
    orgs = [
        {"id": head, "meta": {"created": stamp("2020-01-01"), "modified": stamp("2020-01-01")},
         "displayName": "Stockholms stad", "organisationType": "Huvudman", "organisationNumber": "212000-0142",
         "municipalityCode": "0180"},
        {"id": district, "meta": {"created": stamp("2023-07-01", offset="+02:00"),
                                  "modified": stamp("2023-07-01", offset="+02:00")},
         "displayName": "Södermalm", "organisationType": "Förvaltning", "parentOrganisation": {"id": head},
         "municipalityCode": "0180"},
    ] + [
        {"id": u, "meta": {"created": stamp("2019-08-01", offset="+02:00"),
                           "modified": stamp("2024-08-01", 9 * 60 + i, "+02:00")},
         "displayName": f"Testskolan {i}", "organisationType": "Skolenhet", "schoolUnitCode": f"{81234560 + i}",
         "schoolTypes": ["GR"], "parentOrganisation": {"id": district}, "municipalityCode": "0180",
         "startDate": "2019-08-01"}
        for i, u in enumerate(units)
    ]
    (folder / "organisations.json").write_bytes(orjson.dumps({"data": orgs}, option=orjson.OPT_INDENT_2))

    syllabuses = {s: uid("syllabus", s) for s in SUBJECTS}
    syl = [
        {"id": sid, "meta": {"created": stamp("2022-07-01"), "modified": stamp("2022-07-01")}, "schoolType": "GR",
         "subjectName": f"Ämne {s}", "subjectDesignation": s, "curriculum": "GR2011", "official": True,
         **({"languageCode": "spa"} if s == "M2SPA" else {})}
        for s, sid in syllabuses.items()
    ]
    (folder / "syllabuses.json").write_bytes(orjson.dumps({"data": syl}, option=orjson.OPT_INDENT_2))

    persons, grades, attendance = [], [], []
    for i in range(pupils):
        pid = uid("person", i)
        year = 2010 + i % 4
        pnr = synthetic_pnr(rng, year)
        unit = units[i % 2]
        school_year = 2025 - year - 6
        persons.append({
            "id": pid,
            "meta": {"created": stamp("2018-08-11", 7 * 60, "+02:00"),
                     "modified": stamp("2025-08-18", 6 * 60 + i, "+02:00")},
            "givenName": "Elev", "familyName": f"Nummer{i}",
            "civicNo": {"value": pnr, "nationality": "SE"},
            "birthDate": f"{pnr[:4]}-{pnr[4:6]}-{pnr[6:8]}",
            "sex": "Man" if int(pnr[10]) % 2 else "Kvinna",
            "securityMarking": "Skyddad folkbokföring" if i == 3 else "Ingen",
            "personStatus": "Aktiv",
            "enrolments": [{"enroledAt": {"id": unit}, "schoolType": "GR", "schoolYear": school_year,
                            "startDate": HT2025[0], "endDate": VT2026[1]}],
        })
        for term, (start, end) in (("HT2025", HT2025), ("VT2026", VT2026)):
            for k, s in enumerate(SUBJECTS):
                reg = (dt.date.fromisoformat(end) + dt.timedelta(days=rng.randrange(3))).isoformat()
                ts = stamp(reg, 8 * 60 + i * 4 + k, "+01:00" if term == "HT2025" else "+02:00")
                grades.append({
                    "id": uid("grade", i, term, s), "meta": {"created": ts, "modified": ts},
                    "student": {"id": pid}, "organisation": {"id": unit}, "schoolUnit": {"id": unit},
                    "registeredBy": {"id": uid("teacher", s)}, "registeredDate": reg,
                    "gradeValue": rng.choice(GRADES), "finalGrade": False, "adaptedStudyPlan": "", "trial": False,
                    "semester": term[:2], "year": int(term[2:]), "syllabus": {"id": syllabuses[s]},
                })
            for s in SUBJECTS[:2]:
                act = uid("activity", unit, school_year, s)
                for ws, we in MONTHS[term]:
                    offered = 60 * rng.randrange(4, 20)
                    absent = 5 * rng.randrange(0, offered // 20)
                    invalid = 5 * rng.randrange(0, absent // 10 + 1)
                    attendance.append({
                        "student": {"id": pid}, "activity": {"id": act}, "startDate": ws, "endDate": we,
                        "offeredSum": offered, "attendanceSum": offered - absent,
                        "validAbsenceSum": absent - invalid, "invalidAbsenceSum": invalid,
                        "otherAttendanceSum": 0, "reportedSum": offered,
                    })
    # A correction: a later grade for the same pupil, subject and term.
    first = grades[0]
    grades.append({**first, "id": uid("grade", "correction", 0),
                   "meta": {"created": stamp("2026-01-20", 600), "modified": stamp("2026-01-20", 600)},
                   "registeredDate": "2026-01-20", "gradeValue": "C", "correctionType": "Ändring"})
    # A record straddling the two windows lies inside neither.
    attendance.append({"student": {"id": uid("person", 0)}, "activity": {"id": uid("activity", "x")},
                       "startDate": "2025-12-15", "endDate": "2026-01-10", "offeredSum": 600,
                       "attendanceSum": 600, "validAbsenceSum": 0, "invalidAbsenceSum": 0,
                       "otherAttendanceSum": 0, "reportedSum": 600})
    write_jsonl(folder / "persons.jsonl", persons)
    write_jsonl(folder / "grades.jsonl", grades)
    write_jsonl(folder / "aggregatedAttendance.jsonl", attendance)
    deleted = [{"entity": "grades", "id": uid("grade", "deleted", n),
                "deletedAt": stamp("2025-10-0%d" % (n + 2), offset="+02:00")} for n in range(2)]
    write_jsonl(folder / "deletedEntities.jsonl", deleted)
    return root


def window_sums(dataset: Path, start: str, end: str) -> dict[tuple[str, str], dict[str, int]]:
    """The expected /aggregatedAttendance answer, computed independently: per (student, activity), the sums
    of the records lying inside [start, end]."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in read_entity(dataset, "aggregatedAttendance"):
        if r["startDate"] >= start and r["endDate"] <= end:
            acc = out[(r["student"]["id"], r["activity"]["id"])]
            for k in ("offeredSum", "attendanceSum", "validAbsenceSum", "invalidAbsenceSum", "otherAttendanceSum",
                      "reportedSum"):
                if k in r:
                    acc[k] += r[k]
    return {k: dict(v) for k, v in out.items()}


# --------------------------------------------------------------------------------------------------------
# Fixtures and helpers shared by the SS 12000 test modules (import the fixtures by name)
# --------------------------------------------------------------------------------------------------------
import pytest  # noqa: E402

from skolsam.ss12000.client import ApiConfig  # noqa: E402
from skolsam.standin.running import running_server  # noqa: E402
from skolsam.warehouse.connection import connect  # noqa: E402


@pytest.fixture
def dataset(tmp_path) -> Path:
    return build_dataset(tmp_path / "dataset")


@pytest.fixture
def server(dataset, tmp_path):
    """The stand-in over ``dataset``, in demo mode, with fast fault answers."""
    with running_server(dataset, index_dir=tmp_path / "index", retry_after=0, slow_seconds=0.01, demo=True) as url:
        yield url


def api_config(url: str, page_size: int = 40, **kw) -> ApiConfig:
    """The demo credentials, quick retries."""
    return ApiConfig(url, url + "/token", "skolsam", "skolsam", page_size,
                     **{"max_attempts": 3, "backoff_base": 0.001, "backoff_max": 0.01, **kw})


def rows(url: str, sql: str, args=()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, args).fetchall()
