"""The sign-off answered the way an analyst answers it: the termly report DAG runs under ``airflow dags test``
and waits in its human-in-the-loop task; a real api-server on the same metadata database receives the
analyst's answer over the REST API (``PATCH .../taskInstances/approve_report/-1/hitlDetails``), and the run
goes on to publish (approve) or to keep the draft (reject). What is not covered here: the Required Actions
page of the UI itself (it calls the same endpoint)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from airflow_api import ApiServer, api_env, free_port, migrate
from publication_fixtures import BUILD_ID, published_warehouse
from skolsam.publication.store import ReportStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
DAG_ID = "skolsam_termly_report"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("approval_airflow")
    port = free_port()
    env = api_env(home, port)
    migrate(env)
    server = ApiServer(env, port, home / "api-server.log").start()
    try:
        yield server
    finally:
        server.stop()


def _pending(api: ApiServer, headers: dict, proc: subprocess.Popen, log: Path, wait: float = 300) -> dict:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dags test ended before the approval: {log.read_text()[-3000:]}")
        r = httpx.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails", headers=headers, timeout=30)
        r.raise_for_status()
        for d in r.json()["hitl_details"]:
            ti = d["task_instance"]
            if ti["task_id"] == "approve_report" and not d["response_received"] and ti["state"] == "awaiting_input":
                return d
        time.sleep(2)
    raise AssertionError(f"no approval request within {wait}s: {log.read_text()[-3000:]}")


def run_and_answer(api: ApiServer, url: str, tmp_path: Path, option: str, comment: str) -> tuple[ReportStore, dict]:
    location = tmp_path / "reports"
    env = {**api.env, "SKOLSAM_WAREHOUSE_URL": url, "SKOLSAM_HOME": str(tmp_path / "home"),
           "SKOLSAM_REPORT_LOCATION": str(location), "SKOLSAM_RETRY_DELAY_SECONDS": "1"}
    log = tmp_path / "dags_test.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "dags", "test", DAG_ID,
                                 "--conf", json.dumps({"term": "VT2026"})], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        headers = {"Authorization": f"Bearer {api.token()}"}
        request = _pending(api, headers, proc, log)
        run_id = request["task_instance"]["dag_run_id"]
        # What the analyst sees before deciding: where the draft is, the gates, the headline.
        assert str(location / "drafts" / "VT2026") in request["body"]
        assert "quality status: **passed**" in request["body"] and "participants: 212 pupils" in request["body"]
        assert request["options"] == ["Approve", "Reject"]
        answer = f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_report/-1/hitlDetails"
        unauthenticated = httpx.patch(answer, json={"chosen_options": [option]}, timeout=30)
        assert unauthenticated.status_code == 401  # nobody answers without Airflow's login
        r = httpx.patch(answer, json={"chosen_options": [option], "params_input": {"comment": comment}},
                        headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = httpx.get(f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", headers=headers, timeout=30).json()
    assert proc.returncode == 0 and run["state"] == "success", log.read_text()[-3000:]
    states = {t["task_id"]: t["state"] for t in httpx.get(
        f"{api.base}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", headers=headers,
        timeout=30).json()["task_instances"]}
    return ReportStore(str(location)), states


def test_approve_over_the_rest_api_publishes(api, warehouse_url, tmp_path):
    url = published_warehouse(warehouse_url)
    store, states = run_and_answer(api, url, tmp_path, "Approve", "granskad, ok")
    assert states["publish_report"] == "success" and states["reject_report"] == "skipped"
    pub = store.publication("VT2026")
    assert pub["approved_by"] == "analyst" and pub["comment"] == "granskad, ok" and pub["build_id"] == BUILD_ID
    assert pub["how"] == "human-in-the-loop"
    assert Path(store.report_file("VT2026")).exists()
    assert "export/skolsam_VT2026.xlsx" in pub["files"]
    assert [a["event"] for a in store.announcements()] == ["published"]


def test_reject_over_the_rest_api_keeps_the_draft(api, warehouse_url, tmp_path):
    url = published_warehouse(warehouse_url)
    store, states = run_and_answer(api, url, tmp_path, "Reject", "diagram 2 saknar jämförelse")
    assert states["reject_report"] == "success" and states["publish_report"] == "skipped"
    assert store.publication("VT2026") is None
    [draft] = store.drafts("VT2026")
    assert draft["decision"]["decision"] == "rejected" and draft["decision"]["comment"] == "diagram 2 saknar jämförelse"
    assert (Path(store.draft_dir("VT2026", draft["draft_id"])) / "uppfoljning_VT2026.html").exists()
    [ann] = store.announcements()
    assert ann["event"] == "rejected"
