"""The pipeline's steps as plain functions: what the DAG tasks and the ``skolsam`` command line both call.

Each takes what it needs explicitly (a warehouse URL, settings, a pseudonymiser, an SS 12000 ApiConfig):
inside Airflow those come from ``skolsam.airflow.runtime`` (Connections, Variables), on the command line
from flags and ``SKOLSAM_*`` variables. So the two callers run the same code, and neither copies the other.

The build is three steps that run as three Airflow tasks sharing one build id (the XCom of the first):
``prepare_candidates`` (staging gate if staging changed since the gate task, match rate, core and the
candidate marts), ``mart_quality_gate`` and ``publish``. A retried gate or publish never rebuilds core.
Staging is read under the exclusive staging lock (skolsam.warehouse.locks): never half a load.
Results are JSON-ready dicts with counts, ids and terms only: they go to XComs and logs.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Sequence

from .settings import Settings

log = logging.getLogger(__name__)

EDUCATION_SOURCE = "ss12000"


# --------------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------------
def migrate_warehouse(url: str) -> list[str]:
    """Apply pending migrations (the deploy step: ``skolsam warehouse migrate``, airflow-init, the demo)."""
    from .warehouse import migrate

    return migrate.migrate(url)


def check_schema(url: str) -> dict:
    """Fail fast (SchemaNotCurrent) unless the warehouse has every migration: the first task of each DAG."""
    from .warehouse import migrate

    return {"migrations": migrate.check_current(url)}


# --------------------------------------------------------------------------------------------------------
# SS 12000 extraction
# --------------------------------------------------------------------------------------------------------
def ss12000_api(base_url: str, client_id: str, client_secret: str, *, token_url: str | None = None,
                page_size: int | None = None, settings: Settings | None = None, **options):
    """The client configuration of one SS 12000 source (the Airflow hook builds the same from a Connection)."""
    from .ss12000.extract import ApiConfig

    settings = settings or Settings.load()
    return ApiConfig(base_url, token_url or base_url.rstrip("/") + "/token", client_id, client_secret,
                     page_size or settings.ss12000_page_size, **options)


def begin_education_load(url: str, settings: Settings, run_ref: str | None = None,
                         source: str = EDUCATION_SOURCE) -> int:
    """Open the staging batch of an extraction run (a build waits until it is closed)."""
    from .warehouse import locks

    return locks.begin_batch(url, source, run_ref, ttl=timedelta(minutes=settings.dagrun_timeout_minutes))


def end_education_load(url: str, batch_id: int, *, failed: bool = False) -> None:
    from .warehouse import locks

    locks.end_batch(url, batch_id, failed=failed)


def extract(entity: str, url: str, api, pseudonymiser, settings: Settings, *, full_refresh: bool = False,
            terms: Sequence[str] | str | None = None, client=None, **source) -> dict:
    """One SS 12000 entity into staging (one transaction with its watermark, under the staging lock).
    ``source=<id>``: the school system (skolsam.ss12000.sources), default the first."""
    from .ss12000.extract import extract_entity

    return extract_entity(entity, url, api, pseudonymiser, full_refresh=full_refresh, terms=terms or None,
                          settings=settings, client=client, **source)


def extract_all(url: str, api, pseudonymiser, settings: Settings, *, entities: Sequence[str] | None = None,
                full_refresh: bool = False, terms: Sequence[str] | str | None = None,
                on_entity=None, on_error=None, source: str | None = None) -> list[dict]:
    """Every entity in dependency order as one staging batch, sharing one HTTP client. A failing entity
    (``on_error(exc)``) does not stop the others; then ExtractError names the failed ones (``failed``,
    ``summaries``). ``on_entity(summary)`` is called after each loaded entity. ``source``: the school
    system's id (its own staging rows, watermarks and batch; default the one-system ``ss12000``)."""
    from .ss12000.extract import ENTITIES, ExtractError

    out: list[dict] = []
    failed: list[str] = []
    chosen = list(entities or ENTITIES)
    where = {"source": source} if source else {}
    batch_id = begin_education_load(url, settings, "cli", **where)
    try:
        with api.client() as client:
            for entity in chosen:
                try:
                    out.append(extract(entity, url, api, pseudonymiser, settings, full_refresh=full_refresh,
                                       terms=terms, client=client, **where))
                except ExtractError as exc:
                    failed.append(entity)
                    if on_error is not None:
                        on_error(exc)
                    continue
                if on_entity is not None:
                    on_entity(out[-1])
    finally:
        end_education_load(url, batch_id, failed=bool(failed))
    if failed:
        raise ExtractError(f"SS 12000: {len(failed)} of {len(chosen)} entities failed: {', '.join(failed)} "
                           f"(see audit.load_run); the others were loaded", failed=failed, summaries=out)
    return out


# --------------------------------------------------------------------------------------------------------
# Enrollment intake
# --------------------------------------------------------------------------------------------------------
def ingest_landing(url: str, pseudonymiser, settings: Settings, landing: str | None = None, *,
                   mart_pseudonymiser=None) -> dict:
    """Every new file in the landing folder (the setting, or ``landing``). The default folder is made; a
    configured one must exist (LandingNotFound). ``mart_pseudonymiser`` lets an erasure find the pupil's
    per-term mart rows (default: the configured mart key)."""
    from .enrollment.intake import ingest_landing as ingest, landing_location

    return ingest(landing or landing_location(settings), url, pseudonymiser, settings,
                  create=not (landing or settings.enrollment_landing), mart_pseudonymiser=mart_pseudonymiser)


# --------------------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------------------
def _lock_timeout(settings: Settings) -> float:
    return float(settings.staging_lock_timeout_minutes) * 60.0


def _staging_checks(url: str, settings: Settings) -> dict:
    """Staging quality gate and match rate (raise to stop): call with the staging lock held."""
    from .enrollment.match import check_match_rate
    from .quality.gate import staging_gate as gate

    summary = gate(url, settings=settings).summary()
    summary["match_rate"] = check_match_rate(url, settings).as_dict()
    return summary


def staging_quality_gate(url: str, settings: Settings) -> dict:
    """The staging suites on one consistent staging (under the exclusive staging lock). Returns the gate's
    summary with ``staging_version``, which ``prepare_candidates`` compares."""
    from .quality.gate import staging_gate as gate
    from .warehouse import locks

    with locks.staging_read(url, timeout=_lock_timeout(settings)) as conn:
        version = locks.staging_version(conn)
        summary = gate(url, settings=settings).summary()
    summary["staging_version"] = version
    return summary


def match_rate_gate(url: str, settings: Settings) -> dict:
    """The share of enrolled pupils found in the education data (MatchRateTooLow below the setting)."""
    from .enrollment.match import check_match_rate
    from .warehouse import locks

    with locks.staging_read(url, timeout=_lock_timeout(settings)) as conn:
        version = locks.staging_version(conn)
        result = check_match_rate(url, settings).as_dict()
    return {**result, "staging_version": version}


def prepare_candidates(url: str, settings: Settings, terms: Sequence[str] | None = None, *,
                       gated_version: int | None = None, mart_pseudonymiser=None) -> dict:
    """Core and the candidate marts from staging, under the exclusive staging lock. If staging changed
    since the gate saw it (``gated_version``, None: not gated yet), the staging checks run again first,
    under the same lock, so core is always built from staging a gate passed. ``mart_pseudonymiser``: the
    per-term key of mart.participant_term (default: the configured mart key)."""
    from .warehouse import build, locks

    with locks.staging_read(url, timeout=_lock_timeout(settings)) as conn:
        version = locks.staging_version(conn)
        regated = None
        if gated_version is None or version != gated_version:
            if gated_version is not None:
                log.warning("staging changed after the staging gate (version %s -> %s): checking it again",
                            gated_version, version)
            regated = _staging_checks(url, settings)
        result = build.prepare(url, settings, list(terms) if terms else None,
                               mart_pseudonymiser=mart_pseudonymiser).as_dict()
    result["staging_version"] = version
    result["staging_regated"] = regated is not None
    return result


def mart_quality_gate(url: str, settings: Settings, prepared: dict) -> dict:
    """The mart suites on ``mart_candidate``, for the build ``prepared`` made (refused if another build has
    replaced the candidates since). Recorded as an audit.load_run 'gate' row like the other build steps."""
    from .quality.gate import mart_gate
    from .warehouse import build
    from .warehouse.audit import LoadRun

    build.check_candidates(url, prepared["build_id"])
    run = LoadRun(url, build.SOURCE, "gate").open()
    try:
        summary = mart_gate(url, build.CANDIDATE_SCHEMA, settings=settings).summary()
    except BaseException as exc:
        build.close_failed(run, exc)
        raise
    run.watermark = prepared["build_id"]
    run.close("success")
    return {**summary, "build_id": prepared["build_id"]}


def publish(url: str, prepared: dict) -> dict:
    """Replace the build's terms of the published marts with its candidates (one transaction)."""
    from .warehouse import build

    return build.publish(url, build.BuildResult(build_id=prepared["build_id"], terms=list(prepared["terms"]),
                                                run_id=prepared.get("run_id")))


def apply_grants(url: str) -> list[str]:
    from .warehouse.grants import apply_grants as grant

    return grant(url)


def build_all(url: str, settings: Settings, terms: Sequence[str] | None = None, *, gate: bool = True,
              publish_marts: bool = True, staging_checks: bool = True, mart_pseudonymiser=None) -> dict:
    """The build as the command line runs it: the same steps as the DAG's tasks, in one process (staging
    gate, match rate, candidates, mart gate, publish).

    ``gate=False`` skips the mart gate, ``staging_checks=False`` the staging gate and match rate (a
    developer's shortcut), ``publish_marts=False`` stops after the candidates."""
    gated = staging_quality_gate(url, settings)["staging_version"] if staging_checks else None
    if staging_checks:  # the DAG's match_rate_gate task (MatchRateTooLow stops the build)
        match_rate_gate(url, settings)
        result = prepare_candidates(url, settings, terms, gated_version=gated, mart_pseudonymiser=mart_pseudonymiser)
    else:
        from .warehouse import build, locks

        with locks.staging_read(url, timeout=_lock_timeout(settings)):
            result = build.prepare(url, settings, list(terms) if terms else None,
                                   mart_pseudonymiser=mart_pseudonymiser).as_dict()
    if gate:
        mart_quality_gate(url, settings, result)
    if publish_marts:
        result["published"] = publish(url, result)
    return result


def airflow_run_ref() -> str | None:
    """The Airflow run id of the current task, if any (for audit rows)."""
    return os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
