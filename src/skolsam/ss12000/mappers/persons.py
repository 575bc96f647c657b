"""Persons and their enrolments, as schools register them. The civic number becomes ``student_key`` in
memory; the source person id only ever becomes ``person_ref``; names, civic numbers and addresses are never
written. Lenient where a real register is: unknown ``sex`` is ``Okänt``, an unknown ``securityMarking`` is
treated as protected, a school year outside the spec's range is kept as NULL, persons without an enrolment
(staff, guardians) are skipped and counted, 10-digit civic numbers get their century (counted)."""

from __future__ import annotations

import re
from typing import Any

from ...identity import InvalidIdentity
from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    FIELD_INVALID, SECURITY_MARKINGS, SEXES, Drop, Reject, Skip, check, is_text, opt_bool, opt_date, require,
    valid_date, valid_ts, valid_uuid,
)

PERSON_TABLE = "staging.ss12000_person"
PERSON_TEMP = "tmp_ss12000_person"
PERSON_COLUMNS = ("person_ref", "student_key", "sex", "birth_year", "protected", "modified_at", "run_id")
ENROLMENT_TABLE = "staging.ss12000_enrolment"
ENROLMENT_TEMP = "tmp_ss12000_enrolment"
ENROLMENT_COLUMNS = ("person_ref", "ordinal", "school_unit_id", "school_type", "school_year", "start_date",
                     "end_date", "cancelled", "modified_at")
SCHOOL_YEAR_MIN, SCHOOL_YEAR_MAX = 0, 10  # the spec's Enrolment.schoolYear range
_TEN_DIGITS = re.compile(r"(\d{6})([-+]?)(\d{4})").fullmatch


def _person_ref_of(run: Run, obj: Any) -> str | None:
    pid = obj.get("id") if isinstance(obj, dict) else None
    return run.person_ref(pid) if type(pid) is str and pid else None


def _civic_number(o: dict, out: PageOut) -> Any:
    """The civic number to pseudonymise. A 10-digit one gets its century from the person's birthDate when
    that matches, else from the separator (``+``: 100 years or older) as the personnummer rules say;
    either way it is counted (``civic_century_inferred``)."""
    civic = o.get("civicNo")
    value = civic.get("value") if isinstance(civic, dict) else None
    if not isinstance(value, str):
        return value
    m = _TEN_DIGITS(value.strip())
    if m is None:
        return value
    out.counts["civic_century_inferred"] += 1
    birth = o.get("birthDate")
    if isinstance(birth, str) and valid_date(birth):
        yymmdd = m.group(1)
        day = int(yymmdd[4:6])
        day = day - 60 if day > 60 else day  # samordningsnummer: day + 60
        if birth[2:4] + birth[5:7] == yymmdd[:4] and int(birth[8:10]) == day:
            return birth[:2] + yymmdd + m.group(3)
    return value  # the personnummer library applies the separator rule


def person(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, ("id", "meta.modified"))
    pid = o["id"]
    if type(pid) is not str or not pid:
        raise Reject(FIELD_INVALID, "id")
    enrols = o.get("enrolments") or []
    if not isinstance(enrols, list):
        raise Reject(FIELD_INVALID, "enrolments")
    if not enrols:
        # Staff and guardians (often without a civic number): not pupils, so skipped and counted.
        raise Skip("persons_not_pupils")
    ref = run.person_ref(pid)
    try:
        student_key, ident = run.pseudo.key_for(_civic_number(o, out))
    except InvalidIdentity as exc:
        raise Reject(exc.reason) from None
    modified = o["meta"]["modified"]
    check((("meta.modified", valid_ts, modified),))
    sex = o.get("sex")
    if sex not in SEXES:
        sex = "Okänt"  # as registered: unknown or missing is Okänt (DESIGN 4 keeps sex as given)
        out.counts["sex_unknown"] += 1
    marking = o.get("securityMarking")
    protected = marking != "Ingen"
    if marking not in SECURITY_MARKINGS:
        out.counts["security_marking_unknown"] += 1  # treated as protected: the safe side
    rows = []
    for ordinal, e in enumerate(enrols):
        require(e, ("enroledAt.id", "schoolType", "startDate"), "enrolments.")
        unit, school_type, year = e["enroledAt"]["id"], e["schoolType"], e.get("schoolYear")
        check((("enrolments.enroledAt.id", valid_uuid, unit), ("enrolments.schoolType", is_text, school_type),
               ("enrolments.startDate", valid_date, e["startDate"]),
               ("enrolments.endDate", opt_date, e.get("endDate")),
               ("enrolments.cancelled", opt_bool, e.get("cancelled"))))
        if year is not None and not (type(year) is int and SCHOOL_YEAR_MIN <= year <= SCHOOL_YEAR_MAX):
            year = None  # the pupil is kept; the marts see no school year for this enrolment
            out.counts["school_year_unknown"] += 1
        rows.append((ref, ordinal, unit, school_type, year, e["startDate"], e.get("endDate"),
                     bool(e.get("cancelled") or False), modified))
    if ref in run.erased_refs or student_key in run.erased_keys:
        if ref not in run.erased_refs:
            out.erased_refs.append(ref)
        raise Drop
    return {f"pg_temp.{PERSON_TEMP}": [(ref, student_key, sex, ident.birth_year, protected, modified, run.run_id)],
            f"pg_temp.{ENROLMENT_TEMP}": rows}


PERSONS = Mapper("/persons", person, _person_ref_of)
