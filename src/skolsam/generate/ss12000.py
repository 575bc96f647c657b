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
from .systems import Output, outputs

ONE = outputs(1, False)[0]  # the one-system city: everything in DATASET/ss12000/

DIR = "ss12000"
_DUMP = orjson.dumps
_INDENT = orjson.OPT_INDENT_2
SYLLABUS_CREATED = rfc3339(dt.date(2022, 7, 1), 8 * 60)


def _meta(created: str, modified: str | None = None) -> dict[str, str]:
    return {"created": created, "modified": modified or created}


def _ref(id_: str) -> dict[str, str]:
    return {"id": id_}


def write_organisations(root: Path, city: City, out: Output = ONE) -> FileEntry:
    """The organisations of one SS 12000 folder: the city's Huvudman, districts and units in the first (when it
    serves the city's system), then the operators' Huvudmän and their units (skolsam.generate.systems)."""
    mine = [u for u in city.units if u.system in out.systems]
    head = [city.head, *city.districts] if 0 in out.systems else []
    operators = [o for o in city.operators if o.system in out.systems]
    data = []
    for org in [*head, *[u for u in mine if not u.system], *operators, *[u for u in mine if u.system]]:
        obj: dict = {
            "id": org.id,
            "meta": _meta(rfc3339(org.created, 8 * 60)),
            "displayName": org.name,
            "organisationType": org.kind,
        }
        if org.kind == "Huvudman" and not org.system:
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
    with HashingWriter(root, f"{out.dir}/organisations.json") as w:
        w.write(_DUMP({"data": data}, option=_INDENT) + b"\n", len(data))
        return w.close()


def syllabus_ids(seed: int, out: Output = ONE) -> dict[str, str]:
    return {s.designation: out.syllabus_id(seed, s.designation) for s in cat.SUBJECTS}


def write_syllabuses(root: Path, city: City, out: Output = ONE) -> FileEntry:
    ids = syllabus_ids(city.seed, out)
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
    with HashingWriter(root, f"{out.dir}/syllabuses.json") as w:
        w.write(_DUMP({"data": data}, option=_INDENT) + b"\n", len(data))
        return w.close()


def _output_of(outs: list[Output]) -> dict[int, Output]:
    """Organisation.system -> the folder that serves it."""
    return {system: o for o in outs for system in o.systems}


def write_persons(root: Path, city: City, outs: list[Output] = (ONE,)) -> list[FileEntry]:
    """persons.jsonl of every folder: a pupil has a record in each system he was enrolled in, with that
    system's enrolments only (a mid-year mover: the old one ends the day before the move)."""
    of = _output_of(list(outs))
    writers = [HashingWriter(root, f"{o.dir}/persons.jsonl") for o in outs]
    try:
        for p in city.pupils:
            enrolments: dict[int, list[dict]] = {}
            last_start: dict[int, dt.date] = {}
            for sy in sorted(p.school_years):
                y = p.school_years[sy]
                start, end = _school_year_dates(city, sy)
                spans = [(p.units[y], start, end)]
                if y in p.moves:
                    day, new = p.moves[y]
                    spans = [(p.units[y], start, day - dt.timedelta(days=1)), (new, day, end)]
                for unit, s, e in spans:
                    o = of[unit.system].index
                    last_start[o] = max(last_start.get(o, p.created), s)
                    enrolments.setdefault(o, []).append(
                        {
                            "enroledAt": _ref(unit.id),
                            "schoolType": "GR",
                            "schoolYear": y,
                            "startDate": s.isoformat(),
                            "endDate": e.isoformat(),
                        }
                    )
            for o in sorted(enrolments):
                obj = {
                    "id": outs[o].person_id(city.seed, p),
                    "meta": _meta(rfc3339(p.created, 7 * 60), rfc3339(last_start[o], 6 * 60)),
                    "givenName": p.given,
                    "familyName": p.family,
                    "civicNo": {"value": p.civic, "nationality": "SE"},
                    "birthDate": p.birth.isoformat(),
                    "sex": p.sex,
                    "securityMarking": p.marking,
                    "personStatus": "Aktiv",
                    "enrolments": enrolments[o],
                }
                writers[o].write(_DUMP(obj) + b"\n", 1)
        return [w.close() for w in writers]
    finally:
        for w in writers:
            w.__exit__()


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


def write_grades_and_attendance(root: Path, city: City, cfg: Config,
                                outs: list[Output] = (ONE,)) -> tuple[list[FileEntry], Counters]:
    """One pass over the pupils writing grades.jsonl, aggregatedAttendance.jsonl and deletedEntities.jsonl
    of every folder: a grade goes to the system of the pupil's school at the term's end, an attendance
    record to the system of his school on the first day of its month (the draws do not depend on it).

    Memory stays flat: each pupil's lines are written before the next pupil is drawn; only the deleted
    grade ids (about 0.2 %) are kept until the end.
    """
    seed = city.seed
    rng_g = random.Random(f"skolsam:{seed}:grades")
    rng_a = random.Random(f"skolsam:{seed}:attendance")
    outs = list(outs)
    of = _output_of(outs)
    syl = [syllabus_ids(seed, o) for o in outs]
    teachers: dict[tuple[str, str], str] = {}
    activities: dict[tuple[str, int, str], str] = {}
    deletions: list[list[bytes]] = [[] for _ in outs]
    counters = Counters()
    # Per term: the window date strings and the month factors.
    term_windows = []
    for t in city.terms:
        term_windows.append(
            [
                (ws, f'"startDate":"{ws.isoformat()}","endDate":"{we.isoformat()}","offeredSum":',
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
    gws = [HashingWriter(root, f"{o.dir}/grades.jsonl") for o in outs]
    aws = [HashingWriter(root, f"{o.dir}/aggregatedAttendance.jsonl") for o in outs]
    try:
        for p in city.pupils:
            glines: list[list[bytes]] = [[] for _ in outs]
            alines: list[list[str]] = [[] for _ in outs]
            for t in city.terms:
                y = p.school_year(t)
                if y is None:
                    continue
                unit = p.unit_on(y, t.dates.end)  # grades: the school that registers them
                o = of[unit.system].index
                student = outs[o].person_id(seed, p)
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
                        deletions[o].append(_DUMP({"entity": "grades", "id": gid, "deletedAt": when}) + b"\n")
                        counters.deleted += 1
                        continue
                    grade = _grade(gid, stamp, student, unit.id, teacher, reg, value, final, t, syl[o][s], None)
                    glines[o].append(_DUMP(grade) + b"\n")
                    counters.grades += 1
                    if rand_g() < p_cor:
                        reg2 = _working_days_after(reg + dt.timedelta(days=rng_g.randrange(6, 59)), 1)[0]
                        stamp2 = rfc3339(reg2, 480 + rng_g.randrange(540))
                        kind = "Ändring" if rand_g() < 0.6 else "Rättelse"
                        fix = _grade(
                            random_uuid(rng_g), stamp2, student, unit.id, teacher, reg2,
                            _corrected(value, rng_g), final, t, syl[o][s], kind,
                        )
                        glines[o].append(_DUMP(fix) + b"\n")
                        counters.grades += 1
                        counters.corrections += 1
                # ---- attendance
                base = [s for s in p.subjects if s in mandatory]
                rest = [s for s in p.subjects if s not in mandatory]
                scheduled = base + rng_a.sample(rest, max(0, min(len(rest), k_act - len(base))))
                by_unit: dict[str, tuple[int, list[tuple[str, str]]]] = {}

                def prefixes_at(unit) -> tuple[int, list[tuple[str, str]]]:
                    """(folder, per scheduled subject the line's start) at this school."""
                    got = by_unit.get(unit.id)
                    if got is None:
                        o = of[unit.system].index
                        student = outs[o].person_id(seed, p)
                        prefixes = []
                        for s in scheduled:
                            key = (unit.code, y, s)
                            act = activities.get(key)
                            if act is None:
                                act = activities[key] = name_uuid(seed, "activity", unit.code, y, s)
                            prefixes.append((s, f'{{"student":{{"id":"{student}"}},"activity":{{"id":"{act}"}},'))
                        got = by_unit[unit.id] = (o, prefixes)
                    return got

                for ws, window, month_factor, offered_by_subject in term_windows[t.index]:
                    o, prefixes = prefixes_at(p.unit_on(y, ws))
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
                        alines[o].append(
                            f'{prefix}{window}{offered},"attendanceSum":{offered - absent},'
                            f'"validAbsenceSum":{absent - inv},"invalidAbsenceSum":{inv},'
                            f'"otherAttendanceSum":0,"reportedSum":{offered}}}\n'
                        )
            for o in range(len(outs)):
                if glines[o]:
                    gws[o].write(b"".join(glines[o]), len(glines[o]))
                if alines[o]:
                    aws[o].write("".join(alines[o]).encode(), len(alines[o]))
                    counters.attendance += len(alines[o])
        files = [w.close() for pair in zip(gws, aws) for w in pair]
    finally:
        for w in (*gws, *aws):
            w.__exit__()
    for o, out in enumerate(outs):
        with HashingWriter(root, f"{out.dir}/deletedEntities.jsonl") as dw:
            for line in deletions[o]:
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
