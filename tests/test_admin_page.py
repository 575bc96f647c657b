"""The administrators' page: what it collects from the audit trail (counts and reason codes only), and the
page served by a real api-server through the skolsam plugin: 401 without Airflow's login, the gate table
with a token, linked from the UI as an external view, and screenshotted in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from airflow_api import ApiServer, api_env, free_port, migrate
from publication_fixtures import published_warehouse, record_build
from skolsam.admin.page import render
from skolsam.admin.status import collect
from skolsam.publication import signoff
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres
SECRET_REF = "ab" * 32  # looks like a student_key: must never reach the page


def seed(url: str, location: Path) -> str:
    published_warehouse(url)
    record_build(url, "e" * 32, mart_critical_failed=True)  # the latest mart gate has a failed critical check
    with connect(url) as conn, conn.transaction():
        for entity, wm, status in (("persons", "2026-11-30T22:00:00Z", "success"),
                                   ("grades", "2026-11-30T22:05:00Z", "success"),
                                   ("grades", None, "failed")):
            run_id = conn.execute(
                """INSERT INTO audit.load_run (source, entity, status, rows_loaded, rows_quarantined, finished_at)
                   VALUES ('ss12000', %s, %s, 100, 2, now()) RETURNING run_id""", (entity, status)).fetchone()[0]
            if wm:
                conn.execute("""INSERT INTO audit.watermark (source, entity, watermark, run_id) VALUES
                                ('ss12000', %s, %s, %s) ON CONFLICT (source, entity) DO UPDATE
                                SET watermark = excluded.watermark""", (entity, wm, run_id))
            conn.execute("""INSERT INTO audit.quarantine (run_id, source, entity, record_ref, reason_code, detail)
                            VALUES (%s, 'ss12000', %s, %s, 'civic_no_invalid', 'check digit'),
                                   (%s, 'ss12000', %s, %s, 'civic_no_invalid', 'check digit')""",
                         (run_id, entity, SECRET_REF, run_id, entity, SECRET_REF))
        run_id = conn.execute("""INSERT INTO audit.load_run (source, entity, status, rows_loaded, rows_quarantined,
                                 finished_at) VALUES ('enrollment', 'lista_2026.csv', 'success', 40, 1, now())
                                 RETURNING run_id""").fetchone()[0]
        conn.execute("""INSERT INTO audit.quarantine (run_id, source, entity, row_number, reason_code)
                        VALUES (%s, 'enrollment', 'lista_2026.csv', 7, 'pnr_checksum')""", (run_id,))
    settings = Settings.load({"report_location": str(location)})
    draft = signoff.build_draft(url, "HT2025", settings)
    signoff.publish_draft(url, draft, signoff.decision_when_skipped(), settings)
    draft = signoff.build_draft(url, "VT2026", settings)
    signoff.reject_draft(draft, signoff.decision_from_response(["Reject"], {"comment": "nej"},
                                                               {"id": "a", "name": "analyst"}, "2026-12-01"), settings)
    return url


def test_status_has_counts_and_reason_codes_only(warehouse_url, tmp_path):
    url = seed(warehouse_url, tmp_path / "reports")
    status = collect(url, Settings.load({"report_location": str(tmp_path / "reports")}))
    assert status.errors == []
    loads = {(l["source"], l["entity"]): l for l in status.loads}
    assert loads[("ss12000", "grades")]["watermark"] == "2026-11-30T22:05:00Z"
    assert loads[("ss12000", "grades")]["last_status"] == "failed" and loads[("ss12000", "grades")]["last_success"]
    assert any(k[0] == "enrollment" and "1 loaded" in k[1] for k in loads)
    mart = status.gates[0]
    assert mart["gate"] == "mart"
    assert mart["status"] == "failed" and mart["checks"][0]["severity"] == "critical" and not mart["checks"][0]["success"]
    assert {(q["source"], q["reason_code"], q["rows"]) for q in status.quarantine} == {
        ("ss12000", "civic_no_invalid", 6), ("enrollment", "pnr_checksum", 1)}
    assert status.match == {"enrolled": 0, "matched": 0, "rate": None, "threshold": 0.8, "ok": True}
    assert [p["term"] for p in status.published] == ["HT2025"]
    assert status.last_report["term"] == "VT2026" and status.last_report["state"] == "rejected"
    text = json.dumps(status.as_dict()) + render(status)
    assert SECRET_REF not in text and "check digit" not in text and "k001" not in text


def test_a_warehouse_that_is_not_there_is_said_not_hidden(tmp_path):
    status = collect(None, Settings.load({"report_location": str(tmp_path / "none")}))
    assert status.errors and "no warehouse configured" in status.errors[0]
    assert "no warehouse configured" in render(status)


@pytest.fixture(scope="module")
def served(tmp_path_factory, pg_admin_url):
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("admin_page")
    name = "skolsam_admin_page_test"
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    from skolsam.warehouse import migrate as wh_migrate

    wh_migrate.migrate(url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKOLSAM_HOME", str(root / "home"))
        seed(url, root / "reports")
    port = free_port()
    env = api_env(root / "airflow", port, {"SKOLSAM_WAREHOUSE_URL": url, "SKOLSAM_HOME": str(root / "home"),
                                          "SKOLSAM_REPORT_LOCATION": str(root / "reports")})
    migrate(env)
    server = ApiServer(env, port, root / "api-server.log").start()
    try:
        yield server
    finally:
        server.stop()
        with connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_page_needs_airflows_login(served):
    for path in ("/skolsam/", "/skolsam/status.json", "/skolsam/data-docs/index.html"):
        r = httpx.get(served.base + path, timeout=30)
        assert r.status_code == 401, (path, r.status_code)
    r = httpx.get(served.base + "/skolsam/", headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert r.status_code in (401, 403)


def test_page_served_with_the_gate_table_failing_first(served, tmp_path):
    headers = {"Authorization": f"Bearer {served.token()}"}
    r = httpx.get(served.base + "/skolsam/", headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:2000]
    html = r.text
    assert 'id="gates"' in html and "FAILED" in html
    gates = html[html.index('id="gates"'):html.index("</table>", html.index('id="gates"'))]
    first_row = gates[gates.index("<tbody>"):].split("</tr>")[0]
    assert 'class="fail"' in first_row and "<td>mart</td>" in first_row  # the critical failure comes first
    assert "civic_no_invalid" in html and SECRET_REF not in html
    assert "HT2025" in html and "rejected" in html
    data = httpx.get(served.base + "/skolsam/status.json", headers=headers, timeout=60).json()
    assert [g["gate"] for g in data["gates"]] == ["mart", "staging"] and data["gates"][0]["status"] == "failed"
    # Registered with the UI: the page is linked as an external view in the navigation.
    plugins = httpx.get(served.base + "/api/v2/plugins", headers=headers, timeout=30).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "skolsam")
    assert any(v["href"] == "/skolsam/" and v["destination"] == "nav" for v in ours["external_views"])
    assert any(a["url_prefix"] == "/skolsam" for a in ours["fastapi_apps"])

    from test_quality_docs import assert_not_blank, chromium, screenshot

    browser = chromium()
    if not browser:
        pytest.skip("Chromium is not installed: the page was fetched and checked, not screenshotted")
    page = tmp_path / "admin.html"
    page.write_text(html, encoding="utf-8")
    png = Path(served.log).parent / "admin_page.png"
    screenshot(browser, page, png, tmp_path / "profile")
    assert_not_blank(png)
