"""Organisations (school units and their organisers) and syllabuses: strict check per record."""

from __future__ import annotations

from typing import Any

from ..pipeline import Mapper, PageOut, Run
from ..schema import (
    check, is_bool, is_ref, is_text, is_text_list, object_ref, opt_date, opt_text, opt_uuid, ref_id, require,
    valid_ts, valid_uuid,
)

ORG_TABLE = "staging.ss12000_organisation"
ORG_TEMP = "tmp_ss12000_organisation"
ORG_COLUMNS = ("id", "display_name", "organisation_type", "organisation_code", "school_unit_code",
               "municipality_code", "parent_id", "school_types", "start_date", "end_date", "modified_at", "run_id")

SYLLABUS_TABLE = "staging.ss12000_syllabus"
SYLLABUS_TEMP = "tmp_ss12000_syllabus"
SYLLABUS_COLUMNS = ("id", "subject_designation", "subject_code", "subject_name", "school_type", "language_code",
                    "official", "modified_at", "run_id")


def _obj_ref(run: Run, obj: Any) -> str | None:
    return object_ref(obj)


def organisation(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, ("id", "displayName", "organisationType", "meta.modified"))
    parent = ref_id(o.get("parentOrganisation"))
    types = o.get("schoolTypes")
    check((("id", valid_uuid, o["id"]), ("displayName", is_text, o["displayName"]),
           ("organisationType", is_text, o["organisationType"]),
           ("organisationCode", opt_text, o.get("organisationCode")),
           ("schoolUnitCode", opt_text, o.get("schoolUnitCode")),
           ("municipalityCode", opt_text, o.get("municipalityCode")),
           ("parentOrganisation", is_ref, o.get("parentOrganisation")),
           ("parentOrganisation.id", opt_uuid, parent),
           ("schoolTypes", is_text_list, types),
           ("startDate", opt_date, o.get("startDate")), ("endDate", opt_date, o.get("endDate")),
           ("meta.modified", valid_ts, o["meta"]["modified"])))
    return {f"pg_temp.{ORG_TEMP}": [(
        o["id"], o["displayName"], o["organisationType"], o.get("organisationCode"), o.get("schoolUnitCode"),
        o.get("municipalityCode"), parent, types, o.get("startDate"), o.get("endDate"), o["meta"]["modified"],
        run.run_id)]}


def syllabus(run: Run, o: Any, out: PageOut) -> dict[str, list[tuple]]:
    require(o, ("id", "subjectName", "schoolType", "official", "meta.modified"))
    check((("id", valid_uuid, o["id"]), ("subjectName", is_text, o["subjectName"]),
           ("schoolType", is_text, o["schoolType"]), ("official", is_bool, o["official"]),
           ("subjectDesignation", opt_text, o.get("subjectDesignation")),
           ("subjectCode", opt_text, o.get("subjectCode")), ("languageCode", opt_text, o.get("languageCode")),
           ("meta.modified", valid_ts, o["meta"]["modified"])))
    return {f"pg_temp.{SYLLABUS_TEMP}": [(
        o["id"], o.get("subjectDesignation"), o.get("subjectCode"), o["subjectName"], o["schoolType"],
        o.get("languageCode"), o["official"], o["meta"]["modified"], run.run_id)]}


ORGANISATIONS = Mapper("/organisations", organisation, _obj_ref)
SYLLABUSES = Mapper("/syllabuses", syllabus, _obj_ref)
