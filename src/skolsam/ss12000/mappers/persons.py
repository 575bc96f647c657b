"""Persons and their enrolments, as schools register them. The civic number becomes ``student_key`` in
memory; the source person id only ever becomes ``person_ref``; names, civic numbers and addresses are never
written. Lenient where a real register is: unknown ``sex`` is ``Okänt``, an unknown ``securityMarking`` is
treated as protected, a school year outside the spec's range is kept as NULL, persons without an enrolment
(staff, guardians) are skipped and counted, 10-digit civic numbers get their century (counted).

Two paths, one set of rules: the strict check (:func:`person`) and the typed line (:func:`person_line`), which
formats a decoded :class:`..schema.Person` straight to COPY text and hands every record it would have to
repair, count, skip, reject or drop to the strict check (it returns None): only the plain pupil takes it."""

from __future__ import annotations

import re
from typing import Any, Callable

from ...identity import InvalidIdentity
from ...warehouse.bulk import NULL
from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    FIELD_INVALID, LINE_UNSAFE, SECURITY_MARKINGS, SEXES, Drop, PersonPage, Reject, Skip, check, is_text, opt_bool,
    opt_date, require, valid_date, valid_ts, valid_uuid,
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
    if type(sex) is not str or sex not in SEXES:  # (a list or an object is unhashable: no crash, Okänt)
        sex = "Okänt"  # as registered: unknown or missing is Okänt (DESIGN 4 keeps sex as given)
        out.counts["sex_unknown"] += 1
    marking = o.get("securityMarking")
    protected = marking != "Ingen"
    if type(marking) is not str or marking not in SECURITY_MARKINGS:
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


def person_line(run: Run) -> Callable[[Any], tuple[list[str], list[str]] | None]:
    """This run's formatter of a typed person: its person line and its enrolment lines, or None where the
    strict check must decide (no enrolments, a 10-digit or invalid civic number, a value it would count or
    refuse, a character COPY text would need escaped, an erased pupil)."""
    person_ref, key_for, run_id = run.person_ref, run.pseudo.key_for, run.run_id
    erased_refs, erased_keys = run.erased_refs, run.erased_keys
    unsafe, ten_digits = LINE_UNSAFE, _TEN_DIGITS
    days: set[str] = set()  # dates whose validity was checked (pupils start on few days)
    stamps: set[str] = set()  # and meta.modified values (registers change persons in batches)

    def good_date(v: str) -> bool:
        if v in days:
            return True
        if not valid_date(v):
            return False
        if len(days) > 100_000:
            days.clear()
        days.add(v)
        return True

    def line(p: Any) -> tuple[list[str], list[str]] | None:
        pid, enrols, civic, sex, marking = p.id, p.enrolments, p.civicNo, p.sex, p.securityMarking
        if not pid or not enrols or civic is None or sex not in SEXES or marking not in SECURITY_MARKINGS:
            return None
        value, modified = civic.value, p.meta.modified
        if value is None or ten_digits(value.strip()) is not None:
            return None
        if modified not in stamps:
            if not valid_ts(modified):
                return None
            if len(stamps) > 100_000:
                stamps.clear()
            stamps.add(modified)
        try:
            student_key, ident = key_for(value)
        except InvalidIdentity:
            return None
        ref = person_ref(pid)
        if ref in erased_refs or student_key in erased_keys:
            return None
        rows = []
        for ordinal, e in enumerate(enrols):
            school_type, year, start, end, cancelled = e.schoolType, e.schoolYear, e.startDate, e.endDate, e.cancelled
            if (not valid_uuid(e.enroledAt.id) or unsafe(school_type) or not good_date(start)
                    or (end is not None and not good_date(end))
                    or (year is not None and not SCHOOL_YEAR_MIN <= year <= SCHOOL_YEAR_MAX)):
                return None
            rows.append(f"{ref}\t{ordinal}\t{e.enroledAt.id}\t{school_type}\t{NULL if year is None else year}\t"
                        f"{start}\t{NULL if end is None else end}\t{'t' if cancelled else 'f'}\t{modified}\n")
        protected = "f" if marking == "Ingen" else "t"
        return ([f"{ref}\t{student_key}\t{sex}\t{ident.birth_year}\t{protected}\t{modified}\t{run_id}\n"], rows)

    return line


PERSONS = Mapper("/persons", person, _person_ref_of, PersonPage, person_line,
                 tables=(f"pg_temp.{PERSON_TEMP}", f"pg_temp.{ENROLMENT_TEMP}"))
