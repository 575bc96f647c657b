"""Runtime settings: thresholds and paths, each overridable without touching code or SQL.

One path for every caller (tasks, the timetable in the scheduler, the command line): ``Settings.load()``
for all of them, ``setting(name)`` for one. A setting named ``foo_bar`` is read, first match wins, from:

1. an explicit override (tests, a command-line flag);
2. the environment variable ``SKOLSAM_FOO_BAR``;
3. the Airflow Variable ``skolsam_foo_bar``, when running inside an Airflow process (a task, the
   scheduler, the DAG processor: wherever ``airflow.sdk`` is already loaded). Airflow itself looks in
   ``AIRFLOW_VAR_SKOLSAM_FOO_BAR``, any secrets backend, then the metadata database;
4. outside Airflow, the environment variable ``AIRFLOW_VAR_SKOLSAM_FOO_BAR``, so the command line sees
   the same Variables a deployment sets from the environment;
5. the default below.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)


def project_home() -> Path:
    """Where the embedded warehouse, Airflow home and demo data live (``SKOLSAM_HOME``)."""
    env = os.environ.get("SKOLSAM_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.cwd().resolve() / ".skolsam"


@dataclass(frozen=True)
class Settings:
    # Group figures for fewer pupils than this are suppressed (DESIGN 4).
    suppression_min_n: int = 10
    # Absence bands: high at or above the first, very high at or above the second.
    absence_high: float = 0.10
    absence_very_high: float = 0.20
    # Days an enrollment must overlap a term for the pupil to count as a participant that term.
    participation_min_overlap_days: int = 1
    # Share of enrolled pupils that must be found in the education data before marts are published.
    match_rate_min: float = 0.80
    # Row count of a mart may differ by at most this fraction from the previous build (warning check).
    mart_row_count_tolerance: float = 0.5
    # Page size asked of the SS 12000 API.
    ss12000_page_size: int = 10000
    # Landing folder for enrollment lists (local path or fsspec URL).
    enrollment_landing: str = ""
    # Term calendar CSV overriding the packaged one.
    term_calendar: str = ""
    # Days of audit history kept by maintenance.
    audit_retention_days: int = 730
    # Days an archived or rejected enrollment list (it holds personnummer and names) is kept in the landing
    # folder before maintenance deletes it.
    landing_archive_retention_days: int = 90
    # Days after a term's last school day before its report is due (grades are set in between).
    report_delay_days: int = 14

    # --- SS 12000 client (SS 12000 engineer) -------------------------------------------------------------
    # Most pages one entity run may fetch (a server that never stops handing out page tokens fails the run).
    ss12000_max_pages: int = 100_000
    # Seconds one entity run may spend reading pages before it fails with nothing loaded.
    ss12000_time_budget_seconds: int = 3600
    # How far past the server's clock (its Date header) a meta.modified may lie; later ones are quarantined
    # (timestamp_in_future) and never move a watermark.
    ss12000_clock_margin_seconds: int = 300
    # Time zone for SS 12000 timestamps written without one (a source's own setting wins).
    ss12000_time_zone: str = "Europe/Stockholm"
    # Query parameters resent on every page besides the spec's required ones: "all", or a comma list such as
    # "meta.modified.after" (for servers whose page tokens do not carry the filters; a source's setting wins).
    ss12000_resend_params: str = ""
    # First term the warehouse reports on (e.g. HT2023); empty: the first term of the term calendar. A source's
    # first extract reads every term from it on, attendance windows included (DESIGN 3.1.3).
    history_start_term: str = ""
    # Days after a term's last day during which a later run still reads its attendance again (registrations
    # corrected after the term); past them the term is closed and only the term in progress is read, until a
    # backfill names it (DESIGN 3.1.3). 30 days span the Christmas break and the first weeks of the summer.
    closed_term_reread_days: int = 30
    # --- security & intake (issue 17) ---
    # Largest enrollment list (CSV or .xlsx) the intake reads, in bytes. A larger file is rejected whole
    # (reason file_too_large) after a checksum pass in chunks, never read into memory; a real list of a few
    # thousand rows is well under 1 MB.
    enrollment_max_file_bytes: int = 20_000_000
    # --- Alerts (platform/stack; skolsam.airflow.notify) ---
    # The daily extract must have finished this many minutes after its scheduled time, or a Deadline Alert fires.
    extract_deadline_minutes: int = 360
    # An intake run that quarantines at least this share of the rows it read sends a warning notification.
    alert_quarantine_share: float = 0.20
    # --- termly report (report engineer) ---
    # The boards the report is written for, and the administration that compiles it (title block).
    report_board: str = "Utbildningsnämnden och stadsdelsnämnderna"
    report_administration: str = "Utbildningsförvaltningen"
    # Who answers questions about the report (a function mailbox or role, not a private person); shown on
    # the title block, "ej angiven" when empty.
    report_contact: str = ""
    # Headless Chromium that prints the PDF; empty: looked up on PATH (chromium, chromium-browser, ...).
    report_chromium: str = ""
    # PDF beside the HTML: "auto" (when Chromium is found, else a warning), "required" (no Chromium is an
    # error), "off".
    report_pdf: str = "auto"
    # --- operations (runtime, retries, timeouts, pools, locks, shared outputs) ---------------------------
    # Where the pipeline runs: "production" refuses every silent fallback (no key file, no embedded
    # warehouse); "demo" (set by `skolsam demo` and the tests) allows them. Empty: production whenever
    # Airflow runs with anything but the local demo's set-up (see skolsam.airflow.runtime.environment).
    env: str = ""
    # Retries of a task that failed for a transient reason (deterministic failures never retry).
    retries: int = 2
    # First wait before a retry; it doubles on each retry (exponential backoff) up to retry_delay_max_seconds.
    retry_delay_seconds: int = 300
    retry_delay_max_seconds: int = 3600
    # execution_timeout of every task, and dagrun_timeout of every DAG run.
    task_timeout_minutes: int = 120
    dagrun_timeout_minutes: int = 480
    # Airflow pool bounding the concurrent SS 12000 tasks of the source (created by `skolsam airflow-init`
    # and the demo), and its size.
    ss12000_pool: str = "skolsam_ss12000"
    ss12000_pool_slots: int = 2
    # Minutes the build waits for running staging loads (extraction, intake) before it gives up and retries.
    staging_lock_timeout_minutes: int = 60
    # A staging table with fewer rows than this share of its count at the last passed staging gate fails
    # the gate (critical): a truncated extract, not a school that shrank overnight.
    staging_shrink_floor: float = 0.5
    # Where the quality gate writes Data Docs: a path or an fsspec URL every worker shares. Default
    # $SKOLSAM_HOME/data_docs.
    data_docs_location: str = ""
    # --- tools: report sign-off and publication, exports, administrators' page ---
    # Where report drafts and published reports are kept: a path or an fsspec URL (s3://, sftp://, ...)
    # that every worker reaches. Default: $SKOLSAM_HOME/reports.
    report_location: str = ""
    # Who is told when a term's report is published or a draft is rejected (comma-separated e-mail
    # addresses; the notifier's recipients when empty).
    report_recipients: str = ""
    # Hours the report DAG waits for its term's marts before it fails, and minutes between looks.
    report_marts_wait_hours: float = 168.0
    report_marts_poke_minutes: float = 30.0
    # Days an analyst has to approve or reject a draft; then the approval task fails and nothing is published.
    report_approval_days: int = 14
    # Seconds the rewrite of the table files after an erasure (VACUUM FULL) waits for transactions older
    # than the erasure to end; past it the maintenance DAG does the rewrite on its next run.
    erasure_vacuum_wait_seconds: int = 300

    # --- marts (warehouse & statistics) ---
    # School years the marts follow (DESIGN 5): förskoleklass (0) to year 9. group_term's school_year
    # runs over these; a pupil outside them counts under 'ALL' only.
    mart_school_year_min: int = 0
    mart_school_year_max: int = 9
    # mart.target_group (DESIGN 5): a pupil in the target group has at least this absence rate ...
    target_absence_min: float = 0.20
    # ... and at most this share of subjects passed.
    target_share_passed_max: float = 0.75

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> "Settings":
        overrides = dict(overrides or {})
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = overrides.get(f.name)
            if raw is None:
                raw = _lookup(f.name)
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.type, raw)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _airflow_variable(key: str) -> Any:
    """An Airflow Variable, only where Airflow is already loaded (never imported here: the plain command line
    must not create an Airflow home). A secrets backend that cannot be read counts as not set."""
    if "airflow.sdk" not in sys.modules:
        return None
    try:
        from airflow.sdk import Variable

        return Variable.get(key, default=None)
    except Exception:  # not in a context that can reach Variables (a bare interpreter that imported airflow)
        log.debug("Airflow Variable %s could not be read", key, exc_info=True)
        return None


def _lookup(name: str) -> Any:
    """The raw value of setting ``name`` from the environment or Airflow (None if unset): see the module doc."""
    raw: Any = os.environ.get(f"SKOLSAM_{name.upper()}")
    if raw is None:
        raw = _airflow_variable(f"skolsam_{name}")
    if raw is None:
        raw = os.environ.get(f"AIRFLOW_VAR_SKOLSAM_{name.upper()}")
    return raw


def setting(name: str) -> Any:
    """One setting by the same path as ``Settings.load`` (cheap: one lookup), typed like its field."""
    field_ = {f.name: f for f in fields(Settings)}.get(name)
    if field_ is None:
        raise KeyError(f"no setting named {name!r}")
    raw = _lookup(name)
    return field_.default if raw is None or raw == "" else _coerce(field_.type, raw)


def _coerce(type_name: Any, raw: Any) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return str(raw)
