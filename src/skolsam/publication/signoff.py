"""The termly report's sign-off: draft → an analyst approves or rejects → publish or keep the draft.

What each task of ``dags/skolsam_termly_report.py`` does, importable and testable without a scheduler:
``resolve_term`` / ``marts_ready`` (the wait), ``build_draft`` (report + provenance into drafts/),
``approval_body`` (what the analyst reads), ``decision_from_response`` (the human-in-the-loop answer as a
record), ``publish_draft`` and ``reject_draft`` (decision.json, the copy, the announcement).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

from ..settings import Settings
from . import announce as announcing
from .provenance import headline, term_provenance
from .store import PublicationError, ReportStore, now_iso

log = logging.getLogger(__name__)

APPROVED, REJECTED = "approved", "rejected"
COMMENT_MAX = 1000
# Beside each draft, not among its files (never published): the inputs its report was drawn from.
SNAPSHOT = "report_inputs.json"
# The sign-off date printed on a final report is the city's calendar day.
REPORT_TIME_ZONE = "Europe/Stockholm"


# -- which term, and is it ready ------------------------------------------------------------------------
def available_terms(warehouse_url: str) -> list[str]:
    """Terms in mart.group_term, oldest first; [] while the mart does not exist yet."""
    from ..report import ReportError, available_terms as terms

    try:
        return terms(warehouse_url)
    except ReportError:
        return []


def resolve_term(warehouse_url: str, settings: Settings, *, wanted: str | None, strict: bool,
                 data_interval_start: dt.datetime | None) -> str | None:
    """The term a run reports: ``wanted`` if given; a scheduled run the term of its data interval; a manual
    run the latest term in the mart that had ended by its logical date. None: nothing to report yet."""
    from ..airflow.timetable import term_name_for
    from ..terms import load_calendar, parse_term

    if wanted:
        return parse_term(wanted).name
    calendar = load_calendar(settings.term_calendar or None)
    if strict:
        return term_name_for(data_interval_start, calendar)
    terms = available_terms(warehouse_url)
    if data_interval_start is not None:
        upto = parse_term(term_name_for(data_interval_start, calendar))
        terms = [t for t in terms if parse_term(t).order <= upto.order]
    return terms[-1] if terms else None


def marts_ready(warehouse_url: str, term: str | None) -> bool:
    return term is not None and term in available_terms(warehouse_url)


# -- the draft ------------------------------------------------------------------------------------------
def draft_id_for(build_id: str | None, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{(build_id or 'unknown')[:8]}"


def build_draft(warehouse_url: str, term: str, settings: Settings, *, run_id: str | None = None,
                store: ReportStore | None = None) -> dict:
    """Render the term's report into a new draft folder with its provenance and the snapshot of its inputs
    (published copies are rendered from it); returns the draft manifest (JSON-ready, with ``approval_body``
    for the approval task)."""
    from ..report import snapshot
    from ..report.build import render_inputs
    from ..report.data import load_inputs
    from ..terms import parse_term

    store = store or ReportStore.from_settings(settings)
    term = parse_term(term).name
    prov = term_provenance(warehouse_url, term)
    lines = headline(warehouse_url, term)
    inputs = load_inputs(warehouse_url, term)
    made_on = dt.date.today()
    draft_id = draft_id_for(prov.build_id)
    with tempfile.TemporaryDirectory(prefix="skolsam-draft-") as tmp:
        html = render_inputs(inputs, term, Path(tmp), settings=settings, made_on=made_on,
                             **_origin(prov.for_report()))
        report_files = sorted(p.name for p in Path(tmp).iterdir() if p.stem == html.stem)
        store.write_draft_file(term, draft_id, SNAPSHOT, snapshot.dump(inputs))
        manifest = store.write_draft(term, draft_id, Path(tmp), {
            "build_id": prov.build_id, "published_build_at": prov.published_at,
            "gate_status": prov.gate_status, "gates": prov.as_dict()["gates"], "headline": lines,
            "dag_run_id": run_id, "created_at": now_iso(), "made_on": made_on.isoformat(),
            "report_files": report_files, "provenance": prov.for_report(), "snapshot": SNAPSHOT,
        })
    manifest["approval_body"] = approval_body(manifest)
    log.info("draft %s of %s written to %s", draft_id, term, manifest["location"])
    return manifest


def _origin(for_report: dict[str, str]) -> dict[str, str | None]:
    return {"build_id": for_report.get("build_id"), "gate_status": for_report.get("gate_status")}


def check_marts_unchanged(warehouse_url: str, draft: dict, doing: str) -> None:
    """Refuse to go on when the marts were republished after the draft was drawn (other figures now)."""
    now = term_provenance(warehouse_url, draft["term"])
    if now.build_id != draft.get("build_id"):
        raise PublicationError(f"the marts of {draft['term']} changed since draft {draft['draft_id']} "
                               f"(build {now.build_id} != {draft.get('build_id')}): {doing} refused; "
                               "run the report again and approve the new draft")


def export_into_draft(warehouse_url: str, draft: dict, settings: Settings, *,
                      store: ReportStore | None = None) -> list[str]:
    """The term's aggregate marts as CSV and XLSX in the draft's ``export/`` folder (published with it)."""
    from ..export import export_term
    from ..export.write import FORMATS

    store = store or ReportStore.from_settings(settings)
    # The marts republished after the report was drawn: the tables would not match the report.
    check_marts_unchanged(warehouse_url, draft, "the export")
    notes = [f"Bygge / build {draft.get('build_id') or 'okänt'}, kvalitetskontroll / gate status "
             f"{draft.get('gate_status')}"]
    with tempfile.TemporaryDirectory(prefix="skolsam-export-") as tmp:
        for fmt in FORMATS:
            export_term(warehouse_url, draft["term"], fmt, Path(tmp), notes=notes)
        return store.add_to_draft(draft["term"], draft["draft_id"], Path(tmp), "export")


def approval_body(manifest: dict) -> str:
    """The analyst's view of a draft (Markdown): where it is, the build's quality status, the headline."""
    gates = "\n".join(
        f"- {g['gate']} gate: **{g['status']}**"
        + (f" ({g['checks']} checks, {g['critical_failed']} critical failure(s), {g['warnings_failed']} "
           f"warning(s))" if g["status"] != "unknown" else " (no checks recorded)")
        for g in manifest.get("gates", [])
    )
    figures = "\n".join(f"- {line}" for line in manifest.get("headline", []))
    report = [f for f in manifest.get("files", []) if f.endswith(".html")]
    return (
        f"**Draft of the termly report {manifest['term']}**\n\n"
        f"Location: `{manifest['location']}`" + (f" (open `{report[0]}`)" if report else "") + "\n\n"
        f"Build `{manifest.get('build_id') or 'unknown'}`, quality status: **{manifest.get('gate_status')}**\n\n"
        f"{gates}\n\n**Headline (city totals)**\n\n{figures}\n\n"
        "Approve to publish this draft to the boards' folder and announce it; reject to keep it as a draft "
        "(the reason in the comment goes to the report's recipients). Never name a pupil in the comment."
    )


# -- the decision ---------------------------------------------------------------------------------------
def _comment(text) -> str:
    from ..quality.privacy import scrub

    return scrub(str(text or "")).strip()[:COMMENT_MAX]


def decision_from_response(chosen_options: list[str], params_input: dict | None, responded_by: dict | None,
                           responded_at) -> dict:
    """The human-in-the-loop answer as the record stored beside the draft."""
    chosen = (chosen_options or [""])[0]
    at = responded_at.isoformat(timespec="seconds") if isinstance(responded_at, dt.datetime) else str(responded_at)
    return {
        "decision": APPROVED if chosen.lower().startswith("approve") else REJECTED,
        "by": (responded_by or {}).get("name") or (responded_by or {}).get("id") or "unknown",
        "at": at, "comment": _comment((params_input or {}).get("comment")), "how": "human-in-the-loop",
    }


def decision_when_skipped() -> dict:
    """The approval task was marked success without an answer (``mark_success_pattern``, or by hand in the UI):
    that is an operator's explicit choice to publish, and the record says nobody reviewed the draft."""
    return {"decision": APPROVED, "by": None, "at": now_iso(), "comment": "",
            "how": "approval skipped (task marked success without a response)"}


def reviewed(decision: dict) -> bool:
    """Did a person approve it? (decision_when_skipped records nobody.)"""
    return decision.get("decision") == APPROVED and bool(decision.get("by"))


def signoff_date(decision: dict) -> dt.date:
    """The day of the approval, in the city's time zone (an answer at 23:30 UTC is the next day there)."""
    from zoneinfo import ZoneInfo

    try:
        at = dt.datetime.fromisoformat(str(decision.get("at")))
    except ValueError as exc:
        raise PublicationError(f"the approval has no readable time ({decision.get('at')!r})") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(ZoneInfo(REPORT_TIME_ZONE)).date()


def render_published(draft: dict, decision: dict, settings: Settings, out_dir: Path, *,
                     store: ReportStore) -> list[str]:
    """The approved copy of the draft's report in ``out_dir``: the same inputs (the draft's snapshot), the same
    build id and date compiled, status "Slutlig" with the sign-off date, or "Ej granskad" when nobody approved
    it. Returns the file names, which are the draft's report files."""
    from ..report import snapshot
    from ..report.build import render_inputs

    raw = store.read_draft_file(draft["term"], draft["draft_id"], draft.get("snapshot") or SNAPSHOT)
    if raw is None:
        raise PublicationError(f"draft {draft['draft_id']} of {draft['term']} has no snapshot of its inputs: "
                               "run the report again (a published copy is never drawn from today's marts)")
    final = reviewed(decision)
    render_inputs(snapshot.load(raw), draft["term"], out_dir, settings=settings,
                  status="final" if final else "unreviewed", made_on=dt.date.fromisoformat(draft["made_on"]),
                  signed_off=signoff_date(decision) if final else None, **_origin(draft.get("provenance") or {}))
    made = sorted(p.name for p in out_dir.iterdir())
    missing = sorted(set(draft.get("report_files") or []) - set(made))
    if missing:  # e.g. no Chromium now for the PDF the draft has: never publish the preliminary one instead
        raise PublicationError(f"the published copy of {draft['term']} could not be rendered as the draft was "
                               f"(missing {', '.join(missing)})")
    return made


def publish_draft(warehouse_url: str, draft: dict, decision: dict, settings: Settings, *,
                  run_id: str | None = None, store: ReportStore | None = None) -> dict:
    if decision.get("decision") != APPROVED:
        raise PublicationError(f"draft {draft['draft_id']} was not approved: nothing is published")
    store = store or ReportStore.from_settings(settings)
    check_marts_unchanged(warehouse_url, draft, "publishing")
    store.record_decision(draft["term"], draft["draft_id"], decision)
    with tempfile.TemporaryDirectory(prefix="skolsam-final-") as tmp:
        render_published(draft, decision, settings, Path(tmp), store=store)
        publication = store.publish(draft["term"], draft["draft_id"], rendered=Path(tmp),
                                    report_status="final" if reviewed(decision) else "unreviewed")
    lines = [f"Byggnummer: {publication.get('build_id') or 'okänt'}",
             f"Kvalitetskontroll: {publication.get('gate_status')}"]
    if decision.get("by"):
        lines.append(f"Godkänd av: {decision['by']}")
    else:
        lines.append("Ingen har granskat rapporten: den är publicerad utan godkännande.")
    if decision.get("comment"):
        lines.append(f"Kommentar: {decision['comment']}")
    announcing.announce(store, "published", draft["term"], location=publication["location"], lines=lines,
                        recipients=announcing.recipients_from(settings.report_recipients), run_id=run_id)
    return publication


def reject_draft(draft: dict, decision: dict, settings: Settings, *, run_id: str | None = None,
                 store: ReportStore | None = None) -> dict:
    if decision.get("decision") != REJECTED:
        raise PublicationError(f"draft {draft['draft_id']} was not rejected")
    store = store or ReportStore.from_settings(settings)
    recorded = store.record_decision(draft["term"], draft["draft_id"], decision)
    lines = [f"Avvisat av: {decision.get('by') or 'okänd'}", f"Kommentar: {decision.get('comment') or '-'}",
             "Utkastet finns kvar; inget har publicerats."]
    announcing.announce(store, "rejected", draft["term"], location=draft["location"], lines=lines,
                        recipients=announcing.recipients_from(settings.report_recipients), run_id=run_id)
    return recorded
