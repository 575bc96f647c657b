"""The expectation suites in ``expectations/``: loading, checking, filling in, and turning into GX suites.

Each file ``expectations/<name>.json`` is a Great Expectations Core 1.x ExpectationSuite as GX itself writes
one (``name``, ``expectations`` [{``type``, ``kwargs``, ``meta``, optional ``description``}], ``meta``,
``notes``), one suite per checked table, with two conventions of ours:

* ``meta.skolsam`` names the table: ``{"schema": "staging", "table": "ss12000_grade"}``; the schema is
  the default and the gate may validate the same table in another schema (``mart`` -> ``mart_candidate``).
* every expectation's ``meta`` has ``severity`` (``critical`` stops the pipeline, ``warning`` is recorded)
  and ``check``, a short name unique in the suite that operators see in messages and ``skolsam dq``.

Values that depend on the run are filled in when the suite is validated, in two ways:

* Great Expectations' own suite parameters, ``{"$PARAMETER": "max_grade_year"}``, for whole kwargs
  (see ``expectation_parameters``);
* ``$name`` placeholders inside a custom SQL query (``unexpected_rows_query``), which GX cannot
  parameterise, replaced here from ``template_parameters`` (schema and table names, thresholds from the
  settings, the term calendar as a VALUES list). An unknown ``$name`` is an error. ``{batch}`` is left for
  Great Expectations, which puts the validated table there.

Custom queries never select ``student_key`` or ``person_ref``; column checks on those (key-like) columns
are validated with a result format that returns counts only (see ``is_key_like``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .. import districts, terms as terms_mod
from ..errors import DeterministicError
from ..settings import Settings
from ..warehouse.dictionary import contract_columns

EXPECTATIONS_DIR_ENV = "SKOLSAM_EXPECTATIONS_DIR"

STAGING_SUITES = (
    "staging_ss12000_person",
    "staging_ss12000_enrolment",
    "staging_ss12000_grade",
    "staging_ss12000_attendance",
    "staging_enrollment",
)
# core_fact_participation checks, on the stable pupil key, what participant_term's per-term key cannot show.
MART_SUITES = ("mart_participant_term", "mart_group_term", "mart_target_group", "mart_programme_effect",
               "core_fact_participation")
ALL_SUITES = STAGING_SUITES + MART_SUITES

SEVERITIES = ("critical", "warning")
# Columns whose values identify a pupil (pseudonymously): their checks never return values.
KEY_COLUMNS = frozenset({"student_key", "person_ref"})
# The published marts: what a candidate's row count is compared with.
PUBLISHED_MART_SCHEMA = "mart"
# A term counts as over, for the freshness check, report_delay_days after its last day (grades are set
# by then; the termly report waits as long). This default serves settings without that field.
FRESHNESS_GRACE_DAYS = 14

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\$([a-z_][a-z0-9_]*)")
_CHECK = re.compile(r"^[a-z][a-z0-9_]*$")
# Great Expectations puts the batch into a query as "(SELECT ...)" when the query has a JOIN (the author
# aliases it) and as "(SELECT ...) AS subselect" when it has none. Our queries always alias {batch}; a query
# without a JOIN gets it wrapped once more so the alias is legal either way (PostgreSQL < 16 needs aliases).
_HAS_JOIN = re.compile(r"\bJOIN\b", re.IGNORECASE)
_BATCH_ALIASED = re.compile(
    r"\{batch\}\s+(?!(?:WHERE|GROUP|ORDER|HAVING|LIMIT|UNION|JOIN|LEFT|RIGHT|INNER|FULL|CROSS|ON|AS)\b)[a-z_][a-z0-9_]*",
    re.IGNORECASE)


class SuiteError(DeterministicError, ValueError):
    """A suite file that does not follow the conventions above."""


@dataclass(frozen=True)
class Suite:
    name: str
    schema: str          # the default schema of the checked table
    table: str
    data: dict           # the suite as in its file

    @property
    def expectations(self) -> list[dict]:
        return self.data["expectations"]

    def qualified_table(self, schema: str | None = None) -> str:
        return f"{schema or self.schema}.{self.table}"


def expectations_dir() -> Path:
    env = os.environ.get(EXPECTATIONS_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    # src/skolsam/quality/suites.py -> project root / expectations
    return Path(__file__).resolve().parents[3] / "expectations"


def available_suites(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (root or expectations_dir()).glob("*.json"))


def load_suite(name: str, root: Path | None = None) -> Suite:
    path = (root or expectations_dir()) / f"{name}.json"
    if not path.is_file():
        raise SuiteError(f"no suite file {path.name} in {path.parent} (suites: {', '.join(available_suites(root))})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path.name} is not valid JSON: {exc}") from None
    return check_suite(data, expected_name=name)


def check_suite(data: dict, expected_name: str | None = None) -> Suite:
    """Check a suite dict against the conventions; returns it as a Suite."""
    name = data.get("name")
    where = f"suite {name or expected_name!r}"
    if not isinstance(name, str) or not name:
        raise SuiteError(f"{where}: 'name' is missing")
    if expected_name is not None and name != expected_name:
        raise SuiteError(f"{where}: the file is {expected_name}.json but the suite is named {name!r}")
    sk = (data.get("meta") or {}).get("skolsam") or {}
    schema, table = sk.get("schema"), sk.get("table")
    if not (isinstance(schema, str) and _IDENTIFIER.match(schema) and isinstance(table, str) and _IDENTIFIER.match(table)):
        raise SuiteError(f"{where}: meta.skolsam must name the checked table as schema and table")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{where}: no expectations")
    checks: set[str] = set()
    for i, exp in enumerate(expectations):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(exp.get("kwargs"), dict):
            raise SuiteError(f"{where}: expectation {i} needs 'type' and 'kwargs'")
        meta = exp.get("meta") or {}
        if meta.get("severity") not in SEVERITIES:
            raise SuiteError(f"{where}: expectation {i} ({exp['type']}) needs meta.severity 'critical' or 'warning'")
        check = meta.get("check")
        if not isinstance(check, str) or not _CHECK.match(check):
            raise SuiteError(f"{where}: expectation {i} ({exp['type']}) needs meta.check, a short snake_case name")
        if check in checks:
            raise SuiteError(f"{where}: check {check!r} appears twice")
        checks.add(check)
        if "severity" in exp and exp["severity"] != meta["severity"]:
            raise SuiteError(f"{where}: check {check!r} has two different severities")
        query = exp["kwargs"].get("unexpected_rows_query")
        if query is not None and "{batch}" not in query:
            raise SuiteError(f"{where}: check {check!r}: the query must read the validated table as {{batch}}")
        if query is not None and query.count("{batch}") != len(_BATCH_ALIASED.findall(query)):
            raise SuiteError(f"{where}: check {check!r}: give {{batch}} an alias every time ({{batch}} b)")
    return Suite(name=name, schema=schema, table=table, data=data)


# ---------------------------------------------------------------------------------------------------------
# Expectations: columns, labels, key-likeness
# ---------------------------------------------------------------------------------------------------------
def columns_of(expectation: dict) -> list[str]:
    kw = expectation.get("kwargs") or {}
    cols: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kw.get(key), str):
            cols.append(kw[key])
    if isinstance(kw.get("column_list"), list) and expectation.get("type") != "expect_table_columns_to_match_ordered_list":
        cols.extend(c for c in kw["column_list"] if isinstance(c, str))
    return cols


def is_key_like(expectation: dict) -> bool:
    """A check on a column that identifies a pupil: validated for counts only, values never kept."""
    if (expectation.get("meta") or {}).get("key_like"):
        return True
    return any(c in KEY_COLUMNS for c in columns_of(expectation))


def label(expectation: dict) -> str:
    """How a check is named in audit.dq_result and messages: ``check: type(columns)``."""
    cols = columns_of(expectation)
    kind = expectation["type"] + (f"({', '.join(cols)})" if cols else "")
    return f"{expectation['meta']['check']}: {kind}"


# ---------------------------------------------------------------------------------------------------------
# Parameters of a run
# ---------------------------------------------------------------------------------------------------------
def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain lower-case SQL identifier: {name!r}")
    return '"' + name + '"'


def check_schema_name(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain lower-case schema name: {name!r}")
    return name


def _percent(fraction: float) -> str:
    return format((Decimal(str(fraction)) * 100).normalize(), "f")


def absence_bands(settings: Settings) -> tuple[str, str, str]:
    """The absence_band labels for the settings' thresholds: ('<10%', '10-20%', '>=20%') by default."""
    high, very_high = _percent(settings.absence_high), _percent(settings.absence_very_high)
    return f"<{high}%", f"{high}-{very_high}%", f">={very_high}%"


def term_calendar(settings: Settings) -> list[terms_mod.TermDates]:
    return terms_mod.load_calendar(settings.term_calendar or None)


def fresh_terms(settings: Settings, as_of: dt.date) -> list[str]:
    """The term a mart should hold by ``as_of``: the latest that ended report_delay_days before it."""
    grace = dt.timedelta(days=int(getattr(settings, "report_delay_days", FRESHNESS_GRACE_DAYS)))
    ended = [t for t in term_calendar(settings) if t.end + grace <= as_of]
    return [ended[-1].name] if ended else []


def template_parameters(settings: Settings, *, schema: str, table: str, as_of: dt.date,
                        mart_schema: str = PUBLISHED_MART_SCHEMA) -> dict[str, str]:
    """SQL fragments for the ``$name`` placeholders of the custom queries. ``mart_schema``: the schema the
    gate validates the marts in (``$mart_participant_table``, for a core suite's comparison with them)."""
    calendar = term_calendar(settings)
    band_low, band_mid, band_high = absence_bands(settings)
    return {
        "schema": _identifier(schema),
        "table": _identifier(table),
        "reference_table": f"{_identifier(PUBLISHED_MART_SCHEMA)}.{_identifier(table)}",
        "participant_table": f"{_identifier(schema)}.{_identifier('participant_term')}",
        "mart_participant_table": f"{_identifier(mart_schema)}.{_identifier('participant_term')}",
        "as_of": f"DATE '{as_of.isoformat()}'",
        "term_calendar": ", ".join(
            f"({_literal(t.name)}, DATE '{t.start.isoformat()}', DATE '{t.end.isoformat()}')" for t in calendar
        ),
        "district_names": ", ".join(f"({_literal(d.name)}, {_literal(d.current)})" for d in districts.NAMES),
        "suppression_min_n": str(int(settings.suppression_min_n)),
        "mart_row_count_tolerance": repr(float(settings.mart_row_count_tolerance)),
        "absence_high": str(Decimal(str(settings.absence_high))),
        "absence_very_high": str(Decimal(str(settings.absence_very_high))),
        "band_low": _literal(band_low),
        "band_mid": _literal(band_mid),
        "band_high": _literal(band_high),
    }


def expectation_parameters(settings: Settings, *, as_of: dt.date) -> dict[str, Any]:
    """Values for the ``{"$PARAMETER": name}`` kwargs (Great Expectations suite parameters)."""
    return {
        "max_grade_year": as_of.year + 1,
        "min_birth_year": as_of.year - 30,
        "max_birth_year": as_of.year,
        "absence_bands": list(absence_bands(settings)),
        "fresh_terms": fresh_terms(settings, as_of),
        "suppression_min_n": int(settings.suppression_min_n),
        # the school years the marts follow (settings), and group_term's values for them
        "mart_school_year_min": int(settings.mart_school_year_min),
        "mart_school_year_max": int(settings.mart_school_year_max),
        "mart_school_year_values": [str(y) for y in range(settings.mart_school_year_min,
                                                          settings.mart_school_year_max + 1)] + ["ALL"],
        # each mart's columns from its one declaration, the table spec (columns_mart_group_term, ...)
        **contract_columns(),
    }


def fill_in(text: str, params: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name not in params:
            raise SuiteError(f"unknown placeholder ${name} (known: {', '.join(sorted(params))})")
        return params[name]

    return _PLACEHOLDER.sub(repl, text)


def render(suite: Suite, params: dict[str, str]) -> list[dict]:
    """The suite's expectations with every ``$name`` in a query filled in (a deep copy)."""
    out = []
    for exp in suite.expectations:
        exp = copy.deepcopy(exp)
        query = exp["kwargs"].get("unexpected_rows_query")
        if isinstance(query, str):
            query = fill_in(query, params)
            if not _HAS_JOIN.search(query):
                query = query.replace("{batch}", "(SELECT * FROM {batch})")
            exp["kwargs"]["unexpected_rows_query"] = query
        out.append(exp)
    return out


# Kwargs whose Data Docs renderer in GX 1.x indexes them as a list: given a suite parameter
# ({"$PARAMETER": name}, a dict) it raises KeyError 0, logs "An unexpected Exception occurred during data docs
# rendering" and shows the bare kwargs instead. Validation is unaffected (GX substitutes the parameter there);
# only the pages need the parameter's value written in.
_LIST_KWARGS_FOR_DOCS = {"expect_table_columns_to_match_ordered_list": ("column_list",)}


def resolve_for_docs(exp_type: str, kwargs: dict, params: dict[str, Any]) -> dict:
    """``kwargs`` with the suite parameters that GX cannot render replaced by their values (a copy).
    A parameter that ``params`` does not hold is an error: the page would otherwise not render."""
    out = dict(kwargs)
    for name in _LIST_KWARGS_FOR_DOCS.get(exp_type, ()):
        value = out.get(name)
        if isinstance(value, dict) and "$PARAMETER" in value:
            parameter = value["$PARAMETER"]
            if parameter not in params:
                raise SuiteError(f"{exp_type}: suite parameter {parameter!r} has no value for Data Docs")
            out[name] = copy.deepcopy(params[parameter])
    return out


def to_gx_suite(name: str, expectations: Iterable[dict], meta: dict | None = None, notes: Any = None):
    """A great_expectations ExpectationSuite of these expectation dicts, severity taken from meta.severity.

    GX logs and drops an expectation it cannot build; here that is an error instead."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    configs = []
    for exp in expectations:
        try:
            config = ExpectationConfiguration(
                type=exp["type"],
                kwargs=exp["kwargs"],
                meta=exp.get("meta"),
                description=exp.get("description"),
                notes=exp.get("notes"),
                severity=exp["meta"]["severity"],
            )
            configs.append(config.to_domain_obj())
        except Exception as exc:  # GX raises several kinds for a bad configuration
            raise SuiteError(f"suite {name}: check {exp['meta'].get('check')!r} is not a valid "
                             f"{exp['type']}: {type(exc).__name__}: {exc}") from exc
    return ExpectationSuite(name=name, expectations=configs, meta=copy.deepcopy(meta) if meta else None, notes=notes)
