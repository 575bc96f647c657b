"""SS 12000 objects of the synthetic city, written to DATASET/ss12000/ (see the package docstring)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import orjson

from . import catalogue as cat
from .city import GRADE_STEPS, MONTH_ABSENCE, THRESHOLDS, City, TermInfo
from .config import Config
from .ids import name_uuid, random_uuid
from .output import FileEntry, HashingWriter
from .schooldays import days_off, rfc3339

DIR = "ss12000"
_DUMP = orjson.dumps
_INDENT = orjson.OPT_INDENT_2
SYLLABUS_CREATED = rfc3339(dt.date(2022, 7, 1), 8 * 60)


def _meta(created: str, modified: str | None = None) -> dict[str, str]:
    return {"created": created, "modified": modified or created}


def _ref(id_: str) -> dict[str, str]:
    return {"id": id_}


def write_organisations(root: Path, city: City) -> FileEntry:
    data = []
    for org in [city.head, *city.districts, *city.units]:
        obj: dict = {
            "id": org.id,
            "meta": _meta(rfc3339(org.created, 8 * 60)),
            "displayName": org.name,
            "organisationType": org.kind,
        }
        if org.kind == "Huvudman":
            obj["organisationNumber"] = "212000-0142"
        if org.parent:
            obj["parentOrganisation"] = _ref(org.parent)
        if org.kind == "Skolenhet":
            obj["schoolUnitCode"] = org.code
            obj["schoolTypes"] = ["GR"]
        obj["municipalityCode"] = "0180"
        if org.kind == "Skolenhet":
            obj["startDate"] = org.created.isoformat()
        data.append(obj)
    with HashingWriter(root, f"{DIR}/organisations.json") as w:
        w.write(_DUMP({"data": data}, option=_INDENT) + b"\n", len(data))
        return w.close()


def syllabus_ids(seed: int) -> dict[str, str]:
    return {s.designation: name_uuid(seed, "syllabus", s.designation) for s in cat.SUBJECTS}


def write_syllabuses(root: Path, city: City) -> FileEntry:
    ids = syllabus_ids(city.seed)
    data = []
    for s in cat.SUBJECTS:
        obj: dict = {
            "id": ids[s.designation],
            "meta": _meta(SYLLABUS_CREATED),
            "schoolType": "GR",
            "subjectName": s.name,
            "subjectDesignation": s.designation,
            "curriculum": "GR2011",
        }
        if s.language:
            obj["languageCode"] = s.language
        obj["official"] = True
        data.append(obj)
    with HashingWriter(root, f"{DIR}/syllabuses.json") as w:
        w.write(_DUMP({"data": data}, option=_INDENT) + b"\n", len(data))
        return w.close()


def write_persons(root: Path, city: City) -> FileEntry:
    with HashingWriter(root, f"{DIR}/persons.jsonl") as w:
        for p in city.pupils:
            enrolments = []
            last_start = p.created
            for sy in sorted(p.school_years):
                y = p.school_years[sy]
                start, end = _school_year_dates(city, sy)
                last_start = max(last_start, start)
                enrolments.append(
                    {
                        "enroledAt": _ref(p.units[y].id),
                        "schoolType": "GR",
                        "schoolYear": y,
                        "startDate": start.isoformat(),
                        "endDate": end.isoformat(),
                    }
                )
            obj = {
                "id": p.id,
                "meta": _meta(rfc3339(p.created, 7 * 60), rfc3339(last_start, 6 * 60)),
                "givenName": p.given,
                "familyName": p.family,
                "civicNo": {"value": p.civic, "nationality": "SE"},
                "birthDate": p.birth.isoformat(),
                "sex": p.sex,
                "securityMarking": p.marking,
                "personStatus": "Aktiv",
                "enrolments": enrolments,
            }
            w.write(_DUMP(obj) + b"\n", 1)
        return w.close()


def _school_year_dates(city: City, autumn_year: int) -> tuple[dt.date, dt.date]:
    """First day of the school year's HT term and last day of its VT term (from the calendar)."""
    by = {t.name: t for t in city.calendar}
    ht = by.get(f"HT{autumn_year}")
    vt = by.get(f"VT{autumn_year + 1}")
    start = ht.start if ht else dt.date(autumn_year, 8, 15)
    end = vt.end if vt else dt.date(autumn_year + 1, 6, 12)
    return start, end


def _grade_value(score: float) -> str:
    for step, th in zip(GRADE_STEPS, THRESHOLDS):
        if score >= th:
            return step
    return "F"


def _corrected(value: str, rng: random.Random) -> str:
    """The value a correction sets: usually one step up (a missed assessment), sometimes one down."""
    if value == "-":
        return "E" if rng.random() < 0.6 else "F"
    i = GRADE_STEPS.index(value)
    if i == 0:
        return "B"
    return GRADE_STEPS[i - 1] if (i == len(GRADE_STEPS) - 1 or rng.random() < 0.7) else GRADE_STEPS[i + 1]


class Counters:
    def __init__(self) -> None:
        self.grades = 0
        self.corrections = 0
        self.deleted = 0
        self.attendance = 0


def write_grades_and_attendance(root: Path, city: City, cfg: Config) -> tuple[list[FileEntry], Counters]:
    """One pass over the pupils writing grades.jsonl, aggregatedAttendance.jsonl and deletedEntities.jsonl.

    Memory stays flat: each pupil's lines are written before the next pupil is drawn; only the deleted
    grade ids (about 0.2 %) are kept until the end.
    """
    seed = city.seed
    rng_g = random.Random(f"skolsam:{seed}:grades")
    rng_a = random.Random(f"skolsam:{seed}:attendance")
    syl = syllabus_ids(seed)
    teachers: dict[tuple[str, str], str] = {}
    activities: dict[tuple[str, int, str], str] = {}
    deletions: list[bytes] = []
    counters = Counters()
    # Per term: the window date strings and the month factors.
    term_windows = []
    for t in city.terms:
        term_windows.append(
            [
                (f'"startDate":"{ws.isoformat()}","endDate":"{we.isoformat()}","offeredSum":',
                 MONTH_ABSENCE[ws.month], t.offered[i])
                for i, (ws, we) in enumerate(t.windows)
            ]
        )
    # Grades are registered on the first five working days after the term's last day.
    reg_days = [_working_days_after(t.dates.end, 5) for t in city.terms]
    mandatory = ("SV", "SVA", "EN", "MA")
    k_act = cfg.activities_per_pupil
    p_del = cfg.deletion_share
    p_cor = cfg.correction_share
    p_miss = cfg.missing_subject_share
    gauss = rng_g.gauss
    rand_g = rng_g.random
    rand_a = rng_a.random
    gw = HashingWriter(root, f"{DIR}/grades.jsonl")
    aw = HashingWriter(root, f"{DIR}/aggregatedAttendance.jsonl")
    try:
        for p in city.pupils:
            glines: list[bytes] = []
            alines: list[str] = []
            n_att = 0
            for t in city.terms:
                y = p.school_year(t)
                if y is None:
                    continue
                unit = p.units[y]
                ability, absence, invalid = p.term_state(t)
                # ---- grades (none below cfg.first_graded_year: grades are given from year 6)
                subjects = p.subjects if y >= cfg.first_graded_year else ()
                if rand_g() < p_miss:
                    optional = [s for s in subjects if s not in mandatory]
                    drop = set(rng_g.sample(optional, min(len(optional), 1 + (rand_g() < 0.3))))
                    subjects = tuple(s for s in subjects if s not in drop)
                final = t.semester == "VT" and y == 9
                for s in subjects:
                    subj = cat.SUBJECT_BY_CODE[s]
                    value = _grade_value(ability + subj.offset + 0.55 * gauss(0.0, 1.0))
                    if value == "F" and rand_g() < min(0.6, 0.1 + 2.0 * absence):
                        value = "-"
                    teacher = teachers.get((unit.code, s))
                    if teacher is None:
                        teacher = teachers[(unit.code, s)] = name_uuid(seed, "teacher", unit.code, s)
                    gid = random_uuid(rng_g)
                    reg = reg_days[t.index][rng_g.randrange(5)]
                    stamp = rfc3339(reg, 480 + rng_g.randrange(540))
                    if rand_g() < p_del:
                        gone = reg + dt.timedelta(days=rng_g.randrange(1, 30))
                        when = rfc3339(gone, 480 + rng_g.randrange(540))
                        deletions.append(_DUMP({"entity": "grades", "id": gid, "deletedAt": when}) + b"\n")
                        counters.deleted += 1
                        continue
                    grade = _grade(gid, stamp, p.id, unit.id, teacher, reg, value, final, t, syl[s], None)
                    glines.append(_DUMP(grade) + b"\n")
                    counters.grades += 1
                    if rand_g() < p_cor:
                        reg2 = _working_days_after(reg + dt.timedelta(days=rng_g.randrange(6, 59)), 1)[0]
                        stamp2 = rfc3339(reg2, 480 + rng_g.randrange(540))
                        kind = "Ändring" if rand_g() < 0.6 else "Rättelse"
                        fix = _grade(
                            random_uuid(rng_g), stamp2, p.id, unit.id, teacher, reg2,
                            _corrected(value, rng_g), final, t, syl[s], kind,
                        )
                        glines.append(_DUMP(fix) + b"\n")
                        counters.grades += 1
                        counters.corrections += 1
                # ---- attendance
                base = [s for s in p.subjects if s in mandatory]
                rest = [s for s in p.subjects if s not in mandatory]
                scheduled = base + rng_a.sample(rest, max(0, min(len(rest), k_act - len(base))))
                prefixes = []
                for s in scheduled:
                    key = (unit.code, y, s)
                    act = activities.get(key)
                    if act is None:
                        act = activities[key] = name_uuid(seed, "activity", unit.code, y, s)
                    prefixes.append((s, f'{{"student":{{"id":"{p.id}"}},"activity":{{"id":"{act}"}},'))
                for window, month_factor, offered_by_subject in term_windows[t.index]:
                    pupil_month = absence * month_factor * (0.2 + 1.6 * rand_a())
                    for s, prefix in prefixes:
                        offered = offered_by_subject[s]
                        rate = pupil_month * (0.6 + 0.8 * rand_a())
                        if rate > 0.95:
                            rate = 0.95
                        absent = int(offered * rate / 5 + 0.5) * 5
                        if absent > offered:
                            absent = offered
                        inv = int(absent * invalid * (0.5 + rand_a()) / 5 + 0.5) * 5
                        if inv > absent:
                            inv = absent
                        alines.append(
                            f'{prefix}{window}{offered},"attendanceSum":{offered - absent},'
                            f'"validAbsenceSum":{absent - inv},"invalidAbsenceSum":{inv},'
                            f'"otherAttendanceSum":0,"reportedSum":{offered}}}\n'
                        )
                        n_att += 1
            if glines:
                gw.write(b"".join(glines), len(glines))
            if alines:
                aw.write("".join(alines).encode(), n_att)
                counters.attendance += n_att
        files = [gw.close(), aw.close()]
    finally:
        gw.__exit__()
        aw.__exit__()
    with HashingWriter(root, f"{DIR}/deletedEntities.jsonl") as dw:
        for line in deletions:
            dw.write(line, 1)
        files.append(dw.close())
    return files, counters


def _working_days_after(day: dt.date, n: int) -> list[dt.date]:
    out = []
    while len(out) < n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in days_off(day.year) and not (day.month == 12 and day.day >= 24):
            out.append(day)
    return out


def _grade(gid, stamp, student, unit, teacher, reg, value, final, t: TermInfo, syllabus, correction):
    obj = {
        "id": gid,
        "meta": {"created": stamp, "modified": stamp},
        "student": {"id": student},
        "organisation": {"id": unit},
        "schoolUnit": {"id": unit},
        "registeredBy": {"id": teacher},
        "registeredDate": reg.isoformat(),
        "gradeValue": value,
        "finalGrade": final,
        "adaptedStudyPlan": "",
        "trial": False,
    }
    if correction:
        obj["correctionType"] = correction
    obj["semester"] = t.semester
    obj["year"] = t.year
    obj["syllabus"] = {"id": syllabus}
    return obj
