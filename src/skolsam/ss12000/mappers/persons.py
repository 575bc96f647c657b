"""Persons and their enrolments. The civic number becomes ``student_key`` in memory; the source person id
only ever becomes ``person_ref``; names, civic numbers and addresses are never written."""

from __future__ import annotations

from typing import Any

from ...identity import InvalidIdentity
from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    FIELD_INVALID, SECURITY_MARKINGS, SEXES, Drop, Reject, check, is_text, one_of, opt_bool, opt_date, require,
    valid_date, valid_ts, valid_uuid,
)

PERSON_TABLE = "staging.ss12000_person"
PERSON_TEMP = "tmp_ss12000_person"
PERSON_COLUMNS = ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at", "run_id")
ENROLMENT_TABLE = "staging.ss12000_enrolment"
ENROLMENT_TEMP = "tmp_ss12000_enrolment"
ENROLMENT_COLUMNS = ("person_ref", "ordinal", "school_unit_id", "school_type", "school_year", "start_date",
                     "end_date", "cancelled", "modified_at")
_SCHOOL_YEAR = lambda v: v is None or (type(v) is int and 0 <= v <= 10)  # noqa: E731
_IS_SEX = one_of(SEXES)
_IS_MARKING = one_of(SECURITY_MARKINGS)


def _person_ref_of(run: Run, obj: Any) -> str | None:
    pid = obj.get("id") if isinstance(obj, dict) else None
    return run.person_ref(pid) if type(pid) is str and pid else None


def person(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, ("id", "meta.modified"))
    pid = o["id"]
    if type(pid) is not str or not pid:
        raise Reject(FIELD_INVALID, "id")
    ref = run.person_ref(pid)
    civic = o.get("civicNo")
    try:
        student_key, ident = run.pseudo.key_for(civic.get("value") if isinstance(civic, dict) else None)
    except InvalidIdentity as exc:
        raise Reject(exc.reason) from None
    sex = o.get("sex", "Okänt")
    marking = o.get("securityMarking", "Ingen")
    modified = o["meta"]["modified"]
    check((("meta.modified", valid_ts, modified), ("sex", _IS_SEX, sex), ("securityMarking", _IS_MARKING, marking)))
    enrols = o.get("enrolments") or []
    if not isinstance(enrols, list):
        raise Reject(FIELD_INVALID, "enrolments")
    rows = []
    for ordinal, e in enumerate(enrols):
        require(e, ("enroledAt.id", "schoolType", "startDate"), "enrolments.")
        unit, school_type, year = e["enroledAt"]["id"], e["schoolType"], e.get("schoolYear")
        check((("enrolments.enroledAt.id", valid_uuid, unit), ("enrolments.schoolType", is_text, school_type),
               ("enrolments.schoolYear", _SCHOOL_YEAR, year), ("enrolments.startDate", valid_date, e["startDate"]),
               ("enrolments.endDate", opt_date, e.get("endDate")),
               ("enrolments.cancelled", opt_bool, e.get("cancelled"))))
        rows.append((ref, ordinal, unit, school_type, year, e["startDate"], e.get("endDate"),
                     bool(e.get("cancelled") or False), modified))
    if ref in run.erased_refs or student_key in run.erased_keys:
        if ref not in run.erased_refs:
            out.erased_refs.append(ref)
        raise Drop
    return {f"pg_temp.{PERSON_TEMP}": [(ref, student_key, sex, ident.birth_year, marking != "Ingen", modified,
                                        run.run_id)],
            f"pg_temp.{ENROLMENT_TEMP}": rows}


PERSONS = Mapper("/persons", person, _person_ref_of)
