"""Build core and the marts from staging: prepare (core + candidate marts), gate, publish.

``prepare`` rebuilds every core table and writes candidate marts to schema ``mart_candidate`` in ONE
transaction; ``publish`` replaces the build's terms of ``mart.participant_term`` and ``mart.group_term``
with the candidates in ONE transaction; ``build_warehouse`` runs prepare, an optional quality gate on the
candidates, then publish. A failure anywhere before publish commits leaves the published marts as they
were, and running the build twice on the same staging gives the same tables.

The SQL lives in ``sql/models/<layer>/NNN_name.sql``, one model per file, run in layer order (core, then
mart) and by the numeric prefix within a layer. They run through this module's own small runner rather
than a general tool (dbt, SQLAlchemy scripts, Airflow's SQL operators) because the build needs:

* transaction control: every model of a build runs inside one transaction on one psycopg connection, so
  core and the candidates change together or not at all (a runner that commits per file cannot promise
  that);
* one connection: the mart models share session-local working tables (``CREATE TEMP TABLE ... ON COMMIT
  DROP``), which only exist on the connection that made them;
* parameters from ``core.build_parameter``: the settings (suppression size, absence bands, overlap days)
  are written to that table at the start of the transaction and the SQL reads them through
  ``core.param(name)``, so a model holds no threshold literals and needs no client-side templating.

Each step (prepare, gate, publish) writes an ``audit.load_run`` row with source ``'warehouse'``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import psycopg
from psycopg import sql

from .. import districts, terms as terms_mod
from ..errors import SkolsamError
from ..redact import redact
from ..settings import Settings
from .audit import LoadRun
from .bulk import copy_rows
from .connection import connect
from .sqlfiles import sql_dir

log = logging.getLogger(__name__)

SOURCE = "warehouse"
LAYERS = ("core", "mart")
MART_TABLES = ("participant_term", "group_term", "target_group", "programme_effect")
CANDIDATE_SCHEMA = "mart_candidate"
# Serialises builds: prepare and publish both take it for the length of their transaction.
_LOCK_ID = 731_200_005
# Session settings of the build transaction: memory for sorts and hashes (fact_grade sorts ~1.4 M rows at
# city scale, in memory with this), and no JIT (the build is a few dozen statements of a second or so each,
# where compiling costs more than it saves).
SESSION = {"work_mem": "256MB", "jit": "off"}
# eligible_vocational_share is taken among pupils in the final year of grundskola (a fact, not a setting;
# the school years the marts cover are the settings mart_school_year_min/_max).
FINAL_SCHOOL_YEAR = 9
# The school years of mart.target_group's criteria: PPSS is for pupils in years 6–9 (DESIGN 5).
TARGET_SCHOOL_YEARS = (6, 9)

_MODEL_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

Gate = Callable[[str, str], object]


class BuildError(SkolsamError, RuntimeError):
    """A model or the publish step failed; retried only when the cause is transient (a lost connection)."""


class CandidatesReplaced(BuildError):
    """mart_candidate holds another build's candidates (a newer prepare ran): gate and publish would mix them."""

    transient = False


@dataclass(frozen=True)
class Model:
    layer: str
    order: int
    name: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.layer}/{self.path.name}"


@dataclass
class BuildResult:
    build_id: str
    terms: list[str]
    run_id: int | None
    rows: dict[str, int] = field(default_factory=dict)            # table -> rows after the build
    suppressed: dict[str, int] = field(default_factory=dict)      # population -> suppressed group rows
    unmatched_participants: dict[str, int] = field(default_factory=dict)  # term -> participants not in SS 12000
    # term -> SS 12000 sources whose attendance window of the term was never read (core.term_attendance_status):
    # the term is published with the other sources; those sources' pupils are not in it, or without absence
    unread_sources: dict[str, list[str]] = field(default_factory=dict)
    model_seconds: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    published: dict | None = None

    def as_dict(self) -> dict:
        """A JSON-ready summary (an XCom, a log line): counts, terms and settings, never an identity."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------------
# Models and the runner
# --------------------------------------------------------------------------------------------------------
def models(root: Path | None = None) -> list[Model]:
    """The model files in run order: layer by layer (core, mart), by numeric prefix within a layer."""
    base = (root or sql_dir()) / "models"
    out: list[Model] = []
    for layer in LAYERS:
        found = []
        for path in sorted((base / layer).glob("*.sql")):
            m = _MODEL_NAME.match(path.name)
            if not m:
                raise BuildError(f"model file name must look like 010_name.sql: {layer}/{path.name}")
            found.append(Model(layer, int(m.group(1)), path.stem[4:], path))
        orders = [m.order for m in found]
        if len(set(orders)) != len(orders):
            raise BuildError(f"two models in sql/models/{layer} share a number")
        out.extend(sorted(found, key=lambda m: m.order))
    return out


def run_models(conn: psycopg.Connection, selected: Sequence[Model]) -> dict[str, float]:
    """Execute each model file as it is (no parameters, no templating) on ``conn``; return seconds per model."""
    timings: dict[str, float] = {}
    for model in selected:
        t0 = time.perf_counter()
        try:
            conn.execute(model.path.read_text(encoding="utf-8"))
        except psycopg.Error as exc:
            raise BuildError(f"model {model.key} failed: {type(exc).__name__}: {exc}") from exc
        timings[model.key] = round(time.perf_counter() - t0, 3)
        log.debug("model %s: %.2fs", model.key, timings[model.key])
    return timings


# --------------------------------------------------------------------------------------------------------
# Inputs written before the models run
# --------------------------------------------------------------------------------------------------------
def build_parameters(settings: Settings, as_of: dt.date | None = None) -> dict[str, str]:
    """What core.build_parameter holds: every setting, the scope of the marts, and the build's reference
    date ``as_of_date`` (default today): open enrollment periods run until it, none counts beyond it."""
    if settings.suppression_min_n < 1:
        raise ValueError("suppression_min_n must be at least 1")
    if not 0 < settings.absence_high < settings.absence_very_high:
        raise ValueError("absence thresholds must satisfy 0 < absence_high < absence_very_high")
    if settings.participation_min_overlap_days < 1:
        raise ValueError("participation_min_overlap_days must be at least 1")
    # Thresholds only (the numeric settings): paths and URLs (a landing URL may carry credentials) are not
    # the SQL's business and would reach this table and the build's XCom (issue 17, finding 5).
    params = {name: str(value) for name, value in settings.as_dict().items()
              if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if not 0 <= settings.mart_school_year_min <= settings.mart_school_year_max <= 10:
        raise ValueError("mart school years must satisfy 0 <= mart_school_year_min <= mart_school_year_max <= 10")
    if not (0 <= settings.target_absence_min <= 1 and 0 <= settings.target_share_passed_max <= 1):
        raise ValueError("target_absence_min and target_share_passed_max must lie in 0..1")
    params.update(
        final_school_year=str(FINAL_SCHOOL_YEAR),
        target_school_year_min=str(TARGET_SCHOOL_YEARS[0]),
        target_school_year_max=str(TARGET_SCHOOL_YEARS[1]),
        as_of_date=(as_of or dt.date.today()).isoformat(),
    )
    return params


def _write_inputs(conn: psycopg.Connection, settings: Settings, params: dict[str, str]) -> None:
    conn.execute("TRUNCATE core.build_parameter, core.build_term, core.build_info, "
                 "core.seed_term_calendar, core.seed_district_name")
    copy_rows(conn, "core.build_parameter", ("name", "value"), sorted(params.items()))
    calendar = terms_mod.load_calendar(settings.term_calendar or None)
    copy_rows(conn, "core.seed_term_calendar", ("term", "start_date", "end_date"),
              ((t.name, t.start, t.end) for t in calendar))
    copy_rows(conn, "core.seed_district_name", ("name", "current_district", "valid_from", "valid_to"),
              ((d.name, d.current, d.valid_from, d.valid_to) for d in districts.NAMES))


def _resolve_terms(conn: psycopg.Connection, requested: Sequence[str] | None) -> list[str]:
    if requested is not None:
        calendar = [terms_mod.TermDates(terms_mod.parse_term(name), start, end) for name, start, end in
                    conn.execute("SELECT term, start_date, end_date FROM core.dim_term ORDER BY term_order")]
        return [t.name for t in terms_mod.resolve(requested, calendar)]
    # Default: every calendar term the education data covers (grades or attendance), and every term already
    # published (so a term whose last participant was erased is republished empty rather than left stale).
    # A term with enrollments but no education data yet (the term in progress) has nothing to follow up.
    rows = conn.execute(
        """SELECT term FROM core.dim_term
            WHERE term IN (SELECT term FROM core.pupil_term_measure WHERE subjects_graded > 0
                           UNION SELECT term FROM core.fact_term_attendance)
           UNION
           SELECT term FROM mart.participant_term
           UNION
           SELECT term FROM mart.group_term"""
    ).fetchall()
    return sorted({r[0] for r in rows}, key=lambda n: terms_mod.parse_term(n).order)


def _count(conn: psycopg.Connection, table: str) -> int:
    schema, _, name = table.partition(".")
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))).fetchone()[0]


CORE_TABLES = (
    "core.dim_term", "core.dim_district", "core.dim_school_unit", "core.dim_subject", "core.dim_pupil",
    "core.fact_grade", "core.fact_term_attendance", "core.fact_pupil_term", "core.fact_enrollment",
    "core.fact_participation", "core.pupil_term_measure",
)


def close_failed(run: LoadRun, exc: BaseException) -> None:
    try:
        run.close("failed", message=f"{type(exc).__name__}: {redact(str(exc))[:500]}")
    except Exception:  # the database may be the thing that failed; the original error matters more
        log.exception("could not record the failed %s run", run.entity)


# --------------------------------------------------------------------------------------------------------
# The three steps
# --------------------------------------------------------------------------------------------------------
def prepare(url: str, settings: Settings | None = None, terms: list[str] | None = None, *,
            as_of: dt.date | None = None, mart_pseudonymiser=None) -> BuildResult:
    """Rebuild core and write the candidate marts for ``terms`` (default: see _resolve_terms), in one transaction.

    ``as_of`` (default today) is the build's reference date for open enrollment periods.
    ``mart_pseudonymiser`` (pseudonym.TermPseudonymiser, default the configured mart key) derives the
    per-term pupil key of mart.participant_term (skolsam.mart_pseudonym)."""
    from ..mart_pseudonym import write_term_keys
    from ..pseudonym import default_mart

    settings = settings or Settings.load()
    mart_pseudonymiser = mart_pseudonymiser or default_mart()
    params = build_parameters(settings, as_of)
    build_id = uuid.uuid4().hex
    run = LoadRun(url, SOURCE, "prepare").open()
    t0 = time.perf_counter()
    all_models = models()
    try:
        with connect(url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            for name, value in SESSION.items():
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            _write_inputs(conn, settings, params)
            timings = run_models(conn, [m for m in all_models if m.layer == "core"])
            chosen = _resolve_terms(conn, terms)
            copy_rows(conn, "core.build_term", ("term",), ((t,) for t in chosen))
            write_term_keys(conn, mart_pseudonymiser)
            timings.update(run_models(conn, [m for m in all_models if m.layer != "core"]))
            t_effects = time.perf_counter()
            from ..effects.mart import write_programme_effects   # numpy and scipy: only when a build runs
            write_programme_effects(conn, settings.suppression_min_n)
            timings["effects/programme_effect"] = round(time.perf_counter() - t_effects, 3)

            rows = {t: _count(conn, t) for t in CORE_TABLES}
            for table in MART_TABLES:
                rows[f"{CANDIDATE_SCHEMA}.{table}"] = _count(conn, f"{CANDIDATE_SCHEMA}.{table}")
            suppressed = dict(conn.execute(
                f"SELECT population, count(*) FROM {CANDIDATE_SCHEMA}.group_term WHERE suppressed GROUP BY population"
            ).fetchall())
            unmatched = dict(conn.execute(
                """SELECT p.term, count(DISTINCT p.student_key)
                     FROM core.fact_participation p JOIN core.build_term b ON b.term = p.term
                    WHERE NOT EXISTS (SELECT 1 FROM core.dim_pupil d WHERE d.student_key = p.student_key)
                    GROUP BY p.term"""
            ).fetchall())
            unread: dict[str, list[str]] = {}
            for term, source in conn.execute(
                    """SELECT s.term, s.source FROM core.term_attendance_status s
                         JOIN core.build_term b ON b.term = s.term
                        WHERE s.status = 'never_read' ORDER BY s.term, s.source""").fetchall():
                unread.setdefault(term, []).append(source)
            conn.execute("INSERT INTO core.build_info (build_id, terms, run_id) VALUES (%s, %s, %s)",
                         (build_id, chosen, run.run_id))
            run.rows_read = rows["core.fact_grade"] + rows["core.fact_term_attendance"] + rows["core.fact_enrollment"]
            run.rows_loaded = sum(rows[f"{CANDIDATE_SCHEMA}.{t}"] for t in MART_TABLES)
            run.watermark = build_id
            run.close("success", message=f"terms={','.join(chosen) or '-'}", conn=conn)
    except BaseException as exc:
        close_failed(run, exc)
        raise
    result = BuildResult(
        build_id=build_id, terms=chosen, run_id=run.run_id, rows=rows, suppressed=suppressed,
        unmatched_participants=unmatched, unread_sources=unread, model_seconds=timings, parameters=params,
        seconds=round(time.perf_counter() - t0, 3),
    )
    log.info("prepared build %s for %s in %.1fs", build_id, ",".join(chosen) or "no terms", result.seconds)
    for term, sources in unread.items():
        log.warning("build %s: %s published without the never-read source(s) %s", build_id, term, ", ".join(sources))
    return result


def check_candidates(url: str, build_id: str) -> None:
    """Raise CandidatesReplaced unless mart_candidate holds build ``build_id``'s candidates."""
    with connect(url) as conn:
        row = conn.execute("SELECT build_id FROM core.build_info").fetchone()
    if row is None or row[0] != build_id:
        raise CandidatesReplaced("the candidates in mart_candidate belong to another build; prepare again")


def publish(url: str, build: BuildResult) -> dict:
    """Replace the build's terms of the published marts with its candidates, in one transaction."""
    run = LoadRun(url, SOURCE, "publish").open()
    summary: dict = {"build_id": build.build_id, "terms": list(build.terms)}
    try:
        with connect(url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            row = conn.execute("SELECT build_id, terms FROM core.build_info").fetchone()
            if row is None or row[0] != build.build_id:
                raise CandidatesReplaced("the candidates in mart_candidate belong to another build; prepare again")
            terms = list(row[1])
            deleted = inserted = 0
            for table in MART_TABLES:
                cols = [r[0] for r in conn.execute(
                    """SELECT column_name FROM information_schema.columns
                        WHERE table_schema = 'mart' AND table_name = %s ORDER BY ordinal_position""", (table,))]
                collist = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
                d = conn.execute(sql.SQL("DELETE FROM {} WHERE term = ANY(%s)").format(
                    sql.Identifier("mart", table)), (terms,)).rowcount
                i = conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE term = ANY(%s)").format(
                    sql.Identifier("mart", table), collist, collist, sql.Identifier(CANDIDATE_SCHEMA, table)),
                    (terms,)).rowcount
                summary[table] = {"deleted": d, "inserted": i}
                deleted += d
                inserted += i
            run.rows_loaded, run.rows_deleted, run.watermark = inserted, deleted, build.build_id
            run.close("success", message=f"terms={','.join(terms) or '-'}", conn=conn)
    except BaseException as exc:
        close_failed(run, exc)
        raise
    summary["run_id"] = run.run_id
    log.info("published build %s: %s", build.build_id, summary)
    return summary


def build_warehouse(
    url: str,
    settings: Settings | None = None,
    terms: list[str] | None = None,
    gate: Gate | None = None,
    *,
    as_of: dt.date | None = None,
    mart_pseudonymiser=None,
) -> dict:
    """prepare, then ``gate(url, "mart_candidate")`` if given (it raises to stop), then publish.

    Returns ``BuildResult.as_dict()`` with the publish summary under ``published`` (JSON-ready, so an
    Airflow task can return it as its XCom)."""
    result = prepare(url, settings, terms, as_of=as_of, mart_pseudonymiser=mart_pseudonymiser)
    if gate is not None:
        run = LoadRun(url, SOURCE, "gate").open()
        try:
            gate(url, CANDIDATE_SCHEMA)
        except BaseException as exc:
            close_failed(run, exc)
            raise
        run.watermark = result.build_id
        run.close("success")
    result.published = publish(url, result)
    return result.as_dict()
