"""Report sign-off and publication without a scheduler: provenance from the audit trail, drafts, approve,
reject, earlier terms and earlier publications kept, any fsspec location. The DAG's wiring is checked
over a DagBag; the approval answered through a real api-server is in test_report_approval_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publication_fixtures import BUILD_ID, published_warehouse, record_build
from skolsam.publication import signoff
from skolsam.publication.provenance import headline, term_provenance
from skolsam.publication.store import PublicationError, ReportStore
from skolsam.settings import Settings

TERM = "VT2026"


@pytest.fixture
def url(warehouse_url):
    return published_warehouse(warehouse_url)


@pytest.fixture
def settings(tmp_path):
    return Settings.load({"report_location": str(tmp_path / "reports"), "report_recipients": "board@example.org"})


def approve(comment="ser bra ut"):
    return signoff.decision_from_response(["Approve"], {"comment": comment}, {"id": "analyst", "name": "analyst"},
                                          "2026-12-01T10:00:00+00:00")


def reject(comment="fel i tabell 2"):
    return signoff.decision_from_response(["Reject"], {"comment": comment}, {"id": "analyst", "name": "analyst"},
                                          "2026-12-01T10:00:00+00:00")


def test_provenance_is_the_publishing_build_and_its_gates(url):
    prov = term_provenance(url, TERM)
    assert prov.build_id == BUILD_ID
    assert [(g.gate, g.status, g.checks, g.critical_failed, g.warnings_failed) for g in prov.gates] == [
        ("staging", "passed", 3, 0, 1), ("mart", "passed", 3, 0, 1)]
    assert prov.gate_status == "passed"
    assert term_provenance(url, "HT2024").build_id is None  # never published


def test_a_failed_critical_check_shows_as_failed(warehouse_url):
    published_warehouse(warehouse_url)
    record_build(warehouse_url, "f" * 32, mart_critical_failed=True)
    prov = term_provenance(warehouse_url, TERM)
    assert prov.build_id == "ffffffff-ffff-ffff-ffff-ffffffffffff" and prov.gate_status == "failed"


def test_headline_is_city_totals_only(url):
    lines = headline(url, TERM)
    assert lines[0].startswith("participants: 212 pupils")
    assert lines[1].startswith("comparison: 1908 pupils")


def test_draft_shows_location_gates_and_headline(url, settings):
    draft = signoff.build_draft(url, TERM, settings, run_id="manual__1")
    store = ReportStore.from_settings(settings)
    folder = Path(store.draft_dir(TERM, draft["draft_id"]))
    assert (folder / "uppfoljning_VT2026.html").exists() and (folder / "draft.json").exists()
    assert draft["build_id"] == BUILD_ID and draft["gate_status"] == "passed"
    html = (folder / "uppfoljning_VT2026.html").read_text(encoding="utf-8")
    assert BUILD_ID in html and "kvalitetskontroll godkänd" in html  # the report shows where it came from
    from skolsam.quality.privacy import scan_tree

    assert scan_tree(folder) == []  # no key-like value in the draft (the build id is shown dashed)
    body = draft["approval_body"]
    assert str(folder) in body and "quality status: **passed**" in body and "participants: 212 pupils" in body
    assert store.publication(TERM) is None  # a draft is not published


def _sections(html: str) -> str:
    """Everything the report says after its title block and before its footer: the sections, tables, charts."""
    return html.split("</header>", 1)[1].split("<footer>", 1)[0]


def test_approve_publishes_the_draft_as_final_with_the_same_figures_and_announces(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    signoff.export_into_draft(url, draft, settings)
    pub = signoff.publish_draft(url, draft, approve(), settings, run_id="r1")
    store = ReportStore.from_settings(settings)
    draft_dir, pub_dir = Path(store.draft_dir(TERM, draft["draft_id"])), Path(store.published_dir(TERM))
    names = sorted(p.relative_to(pub_dir).as_posix() for p in pub_dir.rglob("*") if p.is_file())
    assert "uppfoljning_VT2026.html" in names and "export/skolsam_VT2026.xlsx" in names
    assert signoff.SNAPSHOT not in names  # the inputs stay beside the draft
    for rel in pub["files"]:
        if rel.startswith("export/"):   # the exports are published as drafted
            assert (pub_dir / rel).read_bytes() == (draft_dir / rel).read_bytes()
    drafted = (draft_dir / "uppfoljning_VT2026.html").read_text(encoding="utf-8")
    final = (pub_dir / "uppfoljning_VT2026.html").read_text(encoding="utf-8")
    assert '<dd class="status">Preliminär</dd>' in drafted and "Slutlig" not in drafted
    assert '<dd class="status">Slutlig</dd>' in final and "Preliminär" not in final
    assert '<dd class="signed-off">1 december 2026</dd>' in final   # the approver's day (10:00 UTC)
    assert "Slutlig version" in final and BUILD_ID in final and "kvalitetskontroll godkänd" in final
    assert _sections(final) == _sections(drafted)   # the same report: every figure, table and chart
    if (draft_dir / "uppfoljning_VT2026.pdf").exists():   # Chromium here: the PDF is re-printed too
        from pypdf import PdfReader

        def words(path):
            return " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())
        assert "Slutlig" in words(pub_dir / "uppfoljning_VT2026.pdf")
        assert "Preliminär" in words(draft_dir / "uppfoljning_VT2026.pdf")
    assert pub["approved_by"] == "analyst" and pub["comment"] == "ser bra ut" and pub["build_id"] == BUILD_ID
    assert pub["report_status"] == "final"
    assert store.report_file(TERM) == str(pub_dir / "uppfoljning_VT2026.html")
    [ann] = store.announcements()
    assert ann["event"] == "published" and ann["term"] == TERM and ann["recipients"] == 1
    assert "board@example.org" not in json.dumps(ann)  # addresses are not kept in the record
    assert store.decision(TERM, draft["draft_id"])["decision"] == "approved"


def test_the_published_copy_is_drawn_from_the_draft_not_from_the_warehouse_now(url, settings):
    """An extract between draft and approval changes the audit trail the quality section reads; the published
    copy still says what the approved draft said."""
    from skolsam.warehouse.connection import connect

    draft = signoff.build_draft(url, TERM, settings)
    with connect(url) as conn, conn.transaction():
        conn.execute("""INSERT INTO audit.load_run (source, entity, status, rows_read, finished_at)
                        VALUES ('ss12000', 'grades', 'success', 987654, now())""")
        conn.execute("UPDATE mart.group_term SET share_passed_mean = 0.01 WHERE term = %s", (TERM,))
    signoff.publish_draft(url, draft, approve(), settings)
    store = ReportStore.from_settings(settings)
    drafted = (Path(store.draft_dir(TERM, draft["draft_id"])) / "uppfoljning_VT2026.html").read_text("utf-8")
    final = (Path(store.published_dir(TERM)) / "uppfoljning_VT2026.html").read_text("utf-8")
    assert _sections(final) == _sections(drafted)
    from skolsam.report import build_report   # what today's warehouse would say: other figures

    today = build_report(url, TERM, Path(settings.report_location) / "now", settings=settings, pdf=False)
    assert _sections(today.read_text("utf-8")) != _sections(final)


def test_marts_republished_between_draft_and_approval_refuse_the_publication(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    record_build(url, "e" * 32)   # a later build republished the term: other figures now
    with pytest.raises(PublicationError, match="changed since draft"):
        signoff.publish_draft(url, draft, approve(), settings)
    store = ReportStore.from_settings(settings)
    assert store.publication(TERM) is None and store.decision(TERM, draft["draft_id"]) is None


def test_a_draft_without_its_snapshot_is_never_published_from_todays_marts(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    store = ReportStore.from_settings(settings)
    (Path(store.draft_dir(TERM, draft["draft_id"])) / signoff.SNAPSHOT).unlink()
    with pytest.raises(PublicationError, match="no snapshot"):
        signoff.publish_draft(url, draft, approve(), settings)
    assert store.publication(TERM) is None


def test_the_snapshot_gives_back_the_inputs_exactly(url):
    from skolsam.report import snapshot
    from skolsam.report.data import load_inputs

    inputs = load_inputs(url, TERM)
    again = snapshot.load(snapshot.dump(inputs))
    assert again.group_term == inputs.group_term and again.quality == inputs.quality
    assert again.effects == inputs.effects and again.target == inputs.target
    shown = {k: v for k, v in inputs.pupil.rows.items()
             if (r := inputs.group_term.get(k[0], k[1], k[2], school_year=k[3])) is not None and not r.suppressed}
    assert again.pupil.rows == shown


def test_signoff_date_is_the_city_calendar_day():
    late = signoff.decision_from_response(["Approve"], {}, {"name": "a"}, "2026-12-01T23:30:00+00:00")
    assert signoff.signoff_date(late).isoformat() == "2026-12-02"   # 00:30 in Stockholm
    with pytest.raises(PublicationError):
        signoff.signoff_date({"at": "igår"})


def test_reject_keeps_the_draft_publishes_nothing_and_notifies(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    signoff.reject_draft(draft, reject(), settings)
    store = ReportStore.from_settings(settings)
    assert store.publication(TERM) is None and not Path(store.published_dir(TERM)).exists()
    assert (Path(store.draft_dir(TERM, draft["draft_id"])) / "uppfoljning_VT2026.html").exists()
    [ann] = store.announcements()
    assert ann["event"] == "rejected" and any("fel i tabell 2" in line for line in ann["lines"])
    with pytest.raises(PublicationError):  # a rejected draft can never be published afterwards
        signoff.publish_draft(url, draft, approve(), settings)
    with pytest.raises(PublicationError):
        store.publish(TERM, draft["draft_id"])


def test_every_term_and_every_earlier_publication_stays(url, settings):
    store = ReportStore.from_settings(settings)
    first = signoff.build_draft(url, TERM, settings)
    signoff.publish_draft(url, first, approve("första"), settings)
    older = signoff.build_draft(url, "HT2025", settings)
    signoff.publish_draft(url, older, approve(), settings)
    record_build(url, "c" * 32)  # a later build republishes the terms
    second = signoff.build_draft(url, TERM, settings)
    assert second["draft_id"] != first["draft_id"]
    signoff.publish_draft(url, second, approve("andra"), settings)

    assert [(p["term"], p["earlier"]) for p in store.published_terms()] == [("HT2025", 0), ("VT2026", 1)]
    assert store.publication(TERM)["build_id"] == "cccccccc-cccc-cccc-cccc-cccccccccccc"
    [earlier] = store.earlier_publications(TERM)
    assert earlier["build_id"] == BUILD_ID and earlier["comment"] == "första"
    assert (Path(earlier["location"]) / "uppfoljning_VT2026.html").exists()
    assert store.publication("HT2025")["build_id"] == BUILD_ID
    # every term's report is its own approved copy, still there and still final
    for term in ("HT2025", TERM):
        html = Path(store.report_file(term)).read_text(encoding="utf-8")
        assert '<dd class="status">Slutlig</dd>' in html and term in html


def test_marts_republished_between_draft_and_export_stop_the_export(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    record_build(url, "d" * 32)
    with pytest.raises(PublicationError, match="changed since draft"):
        signoff.export_into_draft(url, draft, settings)


def test_store_works_on_any_fsspec_location(url, tmp_path):
    settings = Settings.load({"report_location": "memory://skolsam-test-reports"})
    draft = signoff.build_draft(url, TERM, settings)
    assert draft["location"].startswith("memory://")
    pub = signoff.publish_draft(url, draft, approve(), settings)
    store = ReportStore.from_settings(settings)
    assert store.publication(TERM)["draft_id"] == draft["draft_id"] and pub["location"].startswith("memory://")
    assert store.fs.cat_file(store.path("published", TERM, "uppfoljning_VT2026.html")).startswith(b"<!")


def test_comment_is_scrubbed_and_capped():
    d = signoff.decision_from_response(["Reject"], {"comment": "eleven 201001012382 syns " + "x" * 2000},
                                       {"id": "u", "name": "u"}, "2026-12-01T10:00:00+00:00")
    assert "201001012382" not in d["comment"] and len(d["comment"]) <= signoff.COMMENT_MAX
    assert d["decision"] == "rejected" and d["how"] == "human-in-the-loop"


def test_a_skipped_approval_says_nobody_reviewed_it(url, settings):
    draft = signoff.build_draft(url, TERM, settings)
    pub = signoff.publish_draft(url, draft, signoff.decision_when_skipped(), settings)
    assert pub["approved_by"] is None and "skipped" in pub["how"] and pub["report_status"] == "unreviewed"
    html = Path(ReportStore.from_settings(settings).report_file(TERM)).read_text(encoding="utf-8")
    assert '<dd class="status">Ej granskad</dd>' in html and "nej, publicerad utan granskning" in html
    assert "Slutlig" not in html and "Preliminär" not in html
    [ann] = ReportStore.from_settings(settings).announcements()
    assert any("utan godkännande" in line for line in ann["lines"])


def test_the_dag_waits_drafts_asks_and_branches(tmp_path):
    import os

    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.standard.operators.hitl import HITLBranchOperator

    from airflow_env import DAGS, airflow_env

    saved = dict(os.environ)
    os.environ.update(airflow_env(tmp_path / "af"))
    try:
        dag = DagBag(dag_folder=str(DAGS / "skolsam_termly_report.py")).dags["skolsam_termly_report"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    order = [t.task_id for t in dag.topological_sort()]
    assert order[:4] == ["wait_for_marts", "build_draft", "export_figures", "approve_report"]
    assert set(order[4:]) == {"publish_report", "reject_report"}
    wait = dag.task_dict["wait_for_marts"]
    assert wait.mode == "reschedule" and wait.timeout > 0
    approval = dag.task_dict["approve_report"]
    assert isinstance(approval, HITLBranchOperator)
    assert approval.options == ["Approve", "Reject"]
    assert approval.options_mapping == {"Approve": "publish_report", "Reject": "reject_report"}
    assert "comment" in approval.params and approval.response_timeout.days == Settings().report_approval_days
    assert approval.downstream_task_ids == {"publish_report", "reject_report"}
