"""Quality gates: validate warehouse tables with the suites in ``expectations/`` and stop on critical failures.

``run_gate`` validates each named suite's table through a SQL data source made inside the call (an
ephemeral Great Expectations context; ``add_sql`` takes the embedded server's Unix-socket URL as well as a
TCP one, where ``add_postgres`` does not), writes every check's outcome to ``audit.dq_result``, builds the
Data Docs, and raises ``QualityGateFailed`` if any critical check failed. Warnings are recorded, logged
and let through. ``staging_gate`` runs every staging suite; ``mart_gate`` the mart suites against a schema
(``mart_candidate`` before publish).

Personal data: checks on key-like columns (``student_key``, ``person_ref``) are validated with a result
format that returns counts only; custom queries never select keys; every result is scrubbed (see
``privacy``) before it is recorded or rendered. GX's raw results stay in memory and are never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import posixpath
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DeterministicError
from ..settings import Settings
from ..warehouse.audit import LoadRun
from ..warehouse.connection import redact, sqlalchemy_url
from . import docs as docs_mod
from . import privacy, results
from .results import CheckResult
from .row_counts import ROW_COUNT_CHECK, record_row_counts, row_count_checks  # noqa: F401
from .suites import (
    MART_SUITES,
    PUBLISHED_MART_SCHEMA,
    STAGING_SUITES,
    Suite,
    check_schema_name,
    expectation_parameters,
    is_key_like,
    label,
    load_suite,
    render,
    resolve_for_docs,
    template_parameters,
    to_gx_suite,
)

log = logging.getLogger(__name__)

DATASOURCE = "skolsam_warehouse"
AUDIT_SOURCE = "quality"
# Values of non-key columns shown per failing check (Data Docs and observed_value).
PARTIAL_UNEXPECTED = 10
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED}
KEY_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
# What a key-like check's result may keep (counts), and what any result may never keep.
_KEY_LIKE_KEEP = {"element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
                  "unexpected_percent_total", "unexpected_percent_nonmissing"}
_NEVER_KEEP = {"unexpected_list", "unexpected_index_list", "unexpected_index_query", "unexpected_rows",
               "partial_unexpected_index_list", "details"}
_MESSAGE_LINES = 10


class QualityGateFailed(DeterministicError, RuntimeError):
    """A critical check failed. ``result`` holds every check; the message names suite, check and observed value."""

    def __init__(self, result: "GateResult"):
        self.result = result
        failed = result.critical_failures
        lines = [f"quality gate failed: {len(failed)} critical check(s) failed"]
        lines += [f"  {c.describe()}" for c in failed[:_MESSAGE_LINES]]
        if len(failed) > _MESSAGE_LINES:
            lines.append(f"  ... and {len(failed) - _MESSAGE_LINES} more (skolsam dq --latest)")
        if result.data_docs:
            lines.append(f"  Data Docs: {result.data_docs}")
        super().__init__("\n".join(lines))

    def __reduce__(self):  # picklable (the message only), for task runners that ship exceptions around
        return _restore_failure, (str(self),)


def _restore_failure(message: str) -> QualityGateFailed:
    exc = QualityGateFailed.__new__(QualityGateFailed)
    RuntimeError.__init__(exc, message)
    exc.result = None
    return exc


@dataclass
class GateResult:
    gate_id: str
    run_id: int | None
    suites: dict[str, str] = field(default_factory=dict)        # suite -> table validated (schema.table)
    suite_seconds: dict[str, float] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    data_docs: str | None = None                                # index.html
    seconds: float = 0.0

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "warning"]

    @property
    def passed(self) -> bool:
        return not self.critical_failures

    def summary(self) -> dict:
        """A small JSON-able dict (for an XCom or a log line): counts and the failing checks."""
        return {
            "gate_id": self.gate_id,
            "run_id": self.run_id,
            "passed": self.passed,
            "suites": dict(self.suites),
            "checks": len(self.checks),
            "critical_failures": [c.describe() for c in self.critical_failures],
            "warnings": [c.describe() for c in self.warnings],
            "data_docs": self.data_docs,
            "seconds": round(self.seconds, 2),
            "suite_seconds": {k: round(v, 2) for k, v in self.suite_seconds.items()},
        }


# ---------------------------------------------------------------------------------------------------------
# Great Expectations plumbing
# ---------------------------------------------------------------------------------------------------------
def _context(docs_dir: Path | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is not None:
        docs_mod.configure(context, docs_dir)
    return context


def _sanitise(result, key_like: bool) -> None:
    """Strip values GX may have put in one expectation's result; scrub what remains (in place)."""
    data = dict(result.result or {})
    if key_like:
        data = {k: v for k, v in data.items() if k in _KEY_LIKE_KEEP
                or (k == "observed_value" and isinstance(v, (int, float)) and not isinstance(v, bool))}
    data = {k: v for k, v in data.items() if k not in _NEVER_KEEP}
    result.result = privacy.scrub_value(data)
    if result.exception_info:
        result.exception_info = privacy.scrub_value(result.exception_info)


def _has_unexpected(result) -> bool:
    """Whether a counts-only result may have values to show: it failed, raised, or counted unexpected rows
    (a check with ``mostly`` passes with some)."""
    if result is None or not result.success or results.exception_message(result.exception_info) is not None:
        return True
    return bool((result.result or {}).get("unexpected_count"))


def _validate(batch_definition, suite: Suite, expectations: list[dict], params: dict[str, Any]):
    """Validate ``expectations`` on the batch: key-like ones for counts only, the rest with a few values.
    Returns GX ExpectationValidationResults in the suite's order, sanitised.

    GX applies one result format to a whole validation (an expectation's own ``result_format`` is
    overridden by the run's), so the suite runs as up to two validations with GX's v1 Validator (what
    ValidationDefinition.run uses), merged back into one result per suite: every check for counts first
    (GX bundles those into one aggregate query per table); then the checks of non-key columns that found
    unexpected rows once more, with a few of their values. Fetching values costs a scan of the table per
    check (a ``LIMIT`` that no row satisfies reads every row), so only the checks that have values to show
    pay it: the results are the same as validating every non-key check with values (issue 15). Custom
    queries run as ``count_only``'s variant (one COUNT instead of rows and then a COUNT) and never a second
    time: their result is the count alone whatever the format."""
    from great_expectations.validator.v1_validator import Validator

    from . import count_only

    by_check: dict[str, Any] = {}
    key_like = {e["meta"]["check"]: is_key_like(e) for e in expectations}
    batch_meta, batch_id = None, None

    def run(part: list[dict], result_format: dict) -> None:
        nonlocal batch_meta, batch_id
        gx_suite = to_gx_suite(suite.name, count_only.for_validation(part))
        validator = Validator(batch_definition=batch_definition, result_format=result_format)
        outcome = validator.validate_expectation_suite(gx_suite, params)
        batch_meta = outcome.meta
        batch_id = outcome.batch_id
        for r in outcome.results:
            count_only.as_written(r)
            check = (r.expectation_config.meta or {}).get("check")
            _sanitise(r, key_like.get(check, True))
            by_check[check] = r

    run(expectations, KEY_RESULT_FORMAT)
    with_values = [e for e in expectations if not key_like[e["meta"]["check"]]
                   and e["type"] != count_only.WRITTEN_TYPE
                   and _has_unexpected(by_check.get(e["meta"]["check"]))]
    if with_values:
        run(with_values, RESULT_FORMAT)
    ordered = [by_check[e["meta"]["check"]] for e in expectations if e["meta"]["check"] in by_check]
    return ordered, batch_meta, batch_id


def _suite_result(suite_name: str, ordered: list, batch_meta: dict, batch_id: str, run_id, vid: str):
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    stats = calc_validation_statistics(ordered)
    meta = privacy.scrub_value(dict(batch_meta or {}))
    meta.update(run_id=run_id, validation_time=run_id.run_time, validation_id=vid)
    return ExpectationSuiteValidationResult(
        results=ordered,
        success=stats.success,
        suite_name=suite_name,
        statistics={
            "evaluated_expectations": stats.evaluated_expectations,
            "successful_expectations": stats.successful_expectations,
            "unsuccessful_expectations": stats.unsuccessful_expectations,
            "success_percent": stats.success_percent,
        },
        meta=meta,
        batch_id=batch_id,
    )


def _failure(suite: Suite, table: str, vid: str, check: str, exc: BaseException) -> CheckResult:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CheckResult(
        suite=suite.name, table_name=table, check=check, expectation=f"{check}: {suite.name}",
        severity="critical", success=False,
        observed_value=privacy.scrub(f"error: {type(exc).__name__}: {message}")[: results.OBSERVED_MAX],
        unexpected_count=None, validation_id=vid,
    )


# ---------------------------------------------------------------------------------------------------------
# The gate
# ---------------------------------------------------------------------------------------------------------
def _resolve(suite_names: Iterable[str] | str) -> list[str]:
    names = [suite_names] if isinstance(suite_names, str) else list(suite_names)
    if not names:
        raise ValueError("no suites to validate")
    return list(dict.fromkeys(names))


def _schema_for(suite: Suite, overrides: dict[str, str]) -> str:
    schema = overrides.get(suite.name) or overrides.get(suite.schema) or suite.schema
    return check_schema_name(schema)


def run_gate(
    warehouse_url: str,
    suite_names: list[str] | str,
    *,
    schema_overrides: dict[str, str] | None = None,
    run_id: int | None = None,
    settings: Settings | None = None,
    as_of: dt.date | None = None,
    data_docs_dir: str | Path | None = None,
    build_data_docs: bool = True,
    expectations_root: Path | None = None,
    extra_checks: Iterable[CheckResult] = (),
) -> GateResult:
    """Validate the suites' tables, record every check in audit.dq_result, build Data Docs, and raise
    ``QualityGateFailed`` if a critical check failed.

    ``schema_overrides`` maps a suite name or a default schema to the schema to validate
    (``{"mart": "mart_candidate"}``). Without ``run_id`` the gate records its own audit.load_run row
    (source 'quality'). ``as_of`` (default today) dates the checks that depend on the date. Data Docs go to
    ``data_docs_dir`` (default: the ``data_docs_location`` setting, else ``$SKOLSAM_HOME/data_docs``).
    ``extra_checks``: results decided outside Great Expectations (the row-count floors), recorded and
    judged with the rest."""
    began = time.perf_counter()
    settings = settings or Settings.load()
    as_of = as_of or dt.date.today()
    overrides = dict(schema_overrides or {})
    suites = [load_suite(n, expectations_root) for n in _resolve(suite_names)]
    tables = {s.name: _schema_for(s, overrides) for s in suites}
    url = sqlalchemy_url(warehouse_url)
    gate_id = results.new_gate_id()
    result = GateResult(gate_id=gate_id, run_id=run_id,
                        suites={s.name: f"{tables[s.name]}.{s.table}" for s in suites})

    own_run = None
    if run_id is None:
        entity = "+".join(dict.fromkeys(tables.values()))
        own_run = LoadRun(url, AUDIT_SOURCE, entity).open()
        result.run_id = own_run.run_id
    try:
        location = str(data_docs_dir or settings.data_docs_location or docs_mod.default_dir())
        with _docs_folder(location, build_data_docs) as (docs_dir, publish_docs):
            context = _context(docs_dir if build_data_docs else None)
            mart_schema = check_schema_name(overrides.get("mart", PUBLISHED_MART_SCHEMA))
            keys = _run_suites(context, url, suites, tables, settings, as_of, gate_id, result, mart_schema)
            result.checks.extend(dataclasses.replace(c, validation_id=results.validation_id(gate_id, c.suite))
                                 for c in extra_checks)
            results.write(url, result.checks, result.run_id)
            if build_data_docs:
                try:
                    params = expectation_parameters(settings, as_of=as_of)
                    names = [context.suites.add(s).name for s in _all_suites_for_docs(expectations_root, params)]
                    result.data_docs = publish_docs(docs_mod.build(context, docs_dir, keys, names))
                except Exception:  # the gate's verdict does not depend on the documentation
                    log.exception("Data Docs could not be built for %s", _location_label(location))
    except BaseException as exc:
        if own_run is not None:
            own_run.close("failed", message=f"{type(exc).__name__}")
        raise
    result.seconds = time.perf_counter() - began

    for c in result.warnings:
        log.warning("quality warning: %s", c.describe())
    for c in result.critical_failures:
        log.error("quality check failed: %s", c.describe())
    log.info("quality gate %s on %s: %d checks, %d critical failure(s), %d warning(s), %.1fs%s",
             gate_id, redact(url), len(result.checks), len(result.critical_failures), len(result.warnings),
             result.seconds, f"; Data Docs {result.data_docs}" if result.data_docs else "")
    if own_run is not None:
        own_run.rows_read = len(result.checks)
        own_run.watermark = gate_id
        own_run.close("failed" if result.critical_failures else "success",
                      message=f"{len(result.critical_failures)} critical, {len(result.warnings)} warning")
    if result.critical_failures:
        raise QualityGateFailed(result)
    return result


def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _location_label(location: str) -> str:
    return location.split("?", 1)[0]  # an fsspec URL's query may carry credentials


@contextlib.contextmanager
def _docs_folder(location: str, build: bool):
    """A local folder to build Data Docs in, and a function that publishes the built index.html.

    A path (or file:// URL) is used as it is. An fsspec URL (``s3://bucket/docs``, ``sftp://host/dir``, ...)
    that every worker can reach is mirrored: the site as it is (earlier validations included) is copied into
    a temporary folder, built there, and copied back; the URL of its index.html is what the gate reports."""
    if not _is_url(location):
        folder = Path(location.removeprefix("file://"))
        yield folder, str
        return
    import tempfile

    from fsspec.core import url_to_fs

    fs, root = url_to_fs(location)
    root = root.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="skolsam-docs-") as tmp:
        local = Path(tmp)
        before: set[str] = set()
        if build and fs.exists(root):
            for remote in fs.find(root):
                rel = posixpath.relpath(remote.lstrip("/"), root.lstrip("/"))
                before.add(rel)
                target = local / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(target))

        def publish(index: Path) -> str:
            now = set()
            for path in sorted(local.rglob("*")):
                if path.is_file():
                    rel = path.relative_to(local).as_posix()
                    now.add(rel)
                    remote = f"{root}/{rel}"
                    fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
                    fs.put_file(str(path), remote)
            for rel in sorted(before - now):  # results pruned by this run
                fs.rm_file(f"{root}/{rel}")
            return f"{location.rstrip('/')}/{Path(index).relative_to(local).as_posix()}"

        yield local, publish


def _run_suites(context, url, suites, tables, settings, as_of, gate_id, result: GateResult,
                mart_schema: str = PUBLISHED_MART_SCHEMA) -> list:
    """Validate each suite; append its checks to ``result``; store sanitised results for Data Docs.
    Returns the stored results' keys."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    with warnings.catch_warnings():
        # GX suggests add_postgres, which refuses the embedded server's Unix-socket URL (DESIGN 9).
        warnings.filterwarnings("ignore", message=".*more specific PostgresDatasource.*")
        datasource = context.data_sources.add_sql(name=DATASOURCE, connection_string=url)
    keys = []
    gx_params_base = expectation_parameters(settings, as_of=as_of)
    try:
        for suite in suites:
            schema = tables[suite.name]
            table = f"{schema}.{suite.table}"
            vid = results.validation_id(gate_id, suite.name)
            try:
                asset = datasource.add_table_asset(name=table, table_name=suite.table, schema_name=schema)
                batch_definition = asset.add_batch_definition_whole_table(f"{table} whole table")
            except Exception as exc:
                log.error("table %s cannot be validated: %s", table, type(exc).__name__)
                result.checks.append(_failure(suite, table, vid, "table_available", exc))
                continue
            expectations = render(suite, template_parameters(settings, schema=schema, table=suite.table, as_of=as_of,
                                                             mart_schema=mart_schema))
            began = time.perf_counter()
            try:
                ordered, batch_meta, batch_id = _validate(batch_definition, suite, expectations, dict(gx_params_base))
            except Exception as exc:
                log.exception("suite %s could not be validated on %s", suite.name, table)
                result.checks.append(_failure(suite, table, vid, "validation_error", exc))
                continue
            finally:
                result.suite_seconds[suite.name] = time.perf_counter() - began
            log.info("suite %s on %s: %.1fs", suite.name, table, result.suite_seconds[suite.name])
            run = RunIdentifier(run_name=gate_id, run_time=dt.datetime.now(dt.timezone.utc))
            by_check = {e["meta"]["check"]: e for e in expectations}
            evaluated = {r.expectation_config.meta["check"] for r in ordered}
            for exp in expectations:
                if exp["meta"]["check"] not in evaluated:       # never silently skip a check
                    result.checks.append(CheckResult(
                        suite=suite.name, table_name=table, check=exp["meta"]["check"], expectation=label(exp),
                        severity=exp["meta"]["severity"], success=False, observed_value="not evaluated",
                        unexpected_count=None, validation_id=vid))
            for r in ordered:
                exp = by_check[r.expectation_config.meta["check"]]
                result.checks.append(CheckResult(
                    suite=suite.name,
                    table_name=table,
                    check=exp["meta"]["check"],
                    expectation=label(exp),
                    severity=exp["meta"]["severity"],
                    success=bool(r.success),
                    observed_value=results.observed(exp["type"], r.result or {}, r.exception_info,
                                                    key_like=is_key_like(exp)),
                    unexpected_count=results.unexpected_count(exp["type"], r.result or {}),
                    validation_id=vid,
                ))
            if docs_mod.RESULTS_STORE in context.stores:
                for r in ordered:      # the page shows the values the check used (GX cannot render some parameters)
                    cfg = r.expectation_config
                    cfg.kwargs = resolve_for_docs(cfg.type, cfg.kwargs, gx_params_base)
                suite_result = _suite_result(suite.name, ordered, batch_meta, batch_id, run, vid)
                key = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                    run_id=run,
                    batch_identifier=batch_id,
                )
                docs_mod.store_result(context, key, suite_result)
                keys.append(key)
    finally:
        try:
            datasource.get_engine().dispose()
        except Exception:
            pass
    return keys


def _all_suites_for_docs(root: Path | None, params: dict[str, Any]):
    """Every suite as GX suites for their Data Docs pages (placeholders shown as written, but for the suite
    parameters GX cannot render: their values, see suites.resolve_for_docs)."""
    from .suites import ALL_SUITES, available_suites

    names = [n for n in ALL_SUITES if n in set(available_suites(root))]
    for name in names:
        s = load_suite(name, root)
        expectations = [{**e, "kwargs": resolve_for_docs(e["type"], e["kwargs"], params)} for e in s.expectations]
        yield to_gx_suite(s.name, expectations, meta=s.data.get("meta"), notes=s.data.get("notes"))


def staging_gate(warehouse_url: str, **kw) -> GateResult:
    """Every staging suite (SS 12000 persons, enrolments, grades, attendance; enrollment lists), with the
    row-count floors as critical checks; the counts of a passed gate become the next gate's floors."""
    settings = kw.setdefault("settings", None) or Settings.load()
    kw["settings"] = settings
    names = list(STAGING_SUITES)
    floors, counts = row_count_checks(warehouse_url, names, settings, kw.get("expectations_root"))
    result = run_gate(warehouse_url, names, extra_checks=floors, **kw)
    record_row_counts(warehouse_url, counts, result.gate_id)
    return result


def mart_gate(warehouse_url: str, schema: str = "mart_candidate", **kw) -> GateResult:
    """The mart suites (participant_term, group_term) against ``schema``: ``mart_candidate`` before publish."""
    overrides = dict(kw.pop("schema_overrides", None) or {})
    overrides.setdefault("mart", check_schema_name(schema))
    return run_gate(warehouse_url, list(MART_SUITES), schema_overrides=overrides, **kw)
