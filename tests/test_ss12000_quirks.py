"""The client against servers as they really are (DESIGN 3.1.2): each quirk against the stand-in switched to
answer that way, or against a recorded answer (httpx.MockTransport), into a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import orjson
import pytest
import yaml

from conftest import ss12000_spec_path
from ss12000_fixtures import api_config, dataset, read_jsonl, rows, server, uid, write_jsonl  # noqa: F401

from skolsam.settings import Settings
from skolsam.ss12000 import config as config_mod
from skolsam.ss12000.client import REQUIRED_QUERY, ApiConfig, PageBudget, SS12000AuthError, SS12000Client
from skolsam.ss12000.errors import SS12000Error
from skolsam.ss12000.extract import ENTITIES, ExtractError, extract_all, extract_entity
from skolsam.standin.server import create_app
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres
TERMS = ["HT2025", "VT2026"]


_api, _rows = api_config, rows


def _quarantine(url: str, entity: str) -> list[tuple]:
    return sorted(_rows(url, "SELECT reason_code, record_ref, detail FROM audit.quarantine WHERE entity = %s",
                        (entity,)), key=repr)


# --------------------------------------------------------------------------------------------------------
# Timestamps and watermarks
# --------------------------------------------------------------------------------------------------------
def test_a_far_future_record_is_quarantined_and_never_freezes_the_watermark(warehouse_url, server, dataset,
                                                                            pseudonymiser):
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    grades[5]["meta"]["modified"] = "2999-01-01T00:00:00Z"
    write_jsonl(path, grades)
    first = extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    assert first["rows_quarantined"] == 1 and first["rows_loaded"] == len(grades) - 1
    assert _quarantine(warehouse_url, "grades") == [("timestamp_in_future", grades[5]["id"], "field=meta.modified")]
    good = max(dt.datetime.fromisoformat(g["meta"]["modified"]) for i, g in enumerate(grades) if i != 5)
    assert dt.datetime.fromisoformat(first["watermark"]) == good
    # A later change still arrives: the watermark did not jump to 2999.
    grades[9]["gradeValue"] = "A" if grades[9]["gradeValue"] != "A" else "B"
    grades[9]["meta"]["modified"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    write_jsonl(path, grades)
    again = extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    assert again["rows_loaded"] == 1
    assert _rows(warehouse_url, "SELECT grade_value FROM staging.ss12000_grade WHERE id = %s",
                 (grades[9]["id"],)) == [(grades[9]["gradeValue"],)]


def test_a_watermark_left_in_the_future_comes_back_to_the_server_clock(warehouse_url, server, pseudonymiser):
    extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    with connect(warehouse_url) as conn:
        conn.execute("UPDATE audit.watermark SET watermark = '2999-01-01T00:00:00.000000Z' WHERE entity = 'grades'")
        conn.commit()
    again = extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    mark = dt.datetime.fromisoformat(again["watermark"])
    assert mark <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=Settings().ss12000_clock_margin_seconds)


@pytest.mark.parametrize("value", ["now", "epoch", "infinity", "9999-12-31T23:59:59-01:00", "2025-02-30T10:00:00Z",
                                   "yesterday", ""])
def test_unusable_timestamps_are_quarantined_with_a_reason(warehouse_url, server, dataset, pseudonymiser, value):
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    grades[0]["meta"]["modified"] = value
    write_jsonl(path, grades)
    persons_path = dataset / "ss12000" / "persons.jsonl"
    persons = read_jsonl(persons_path)
    persons[0]["meta"]["modified"] = value
    write_jsonl(persons_path, persons)
    g = extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    p = extract_entity("persons", warehouse_url, _api(server), pseudonymiser)
    assert (g["rows_quarantined"], g["rows_loaded"]) == (1, len(grades) - 1)
    assert (p["rows_quarantined"], p["rows_loaded"]) == (1, len(persons) - 1)
    reasons = {r[0] for r in _quarantine(warehouse_url, "grades") + _quarantine(warehouse_url, "persons")}
    assert reasons and reasons <= {"timestamp_invalid", "timestamp_in_future"}
    assert _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_grade WHERE id = %s", (grades[0]["id"],)) == [(0,)]


def test_naive_timestamps_are_read_in_the_source_time_zone_and_said_once(warehouse_url, server, dataset,
                                                                        pseudonymiser, caplog):
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    for g in grades:
        g["meta"]["modified"] = "2026-03-02T10:00:00"  # winter: Stockholm is UTC+1
    write_jsonl(path, grades)
    with caplog.at_level(logging.WARNING, logger="skolsam.ss12000"):
        s = extract_entity("grades", warehouse_url, _api(server, page_size=50), pseudonymiser)
    assert s["pages"] >= 4
    said = [r for r in caplog.records if "without a time zone" in r.getMessage()]
    assert len(said) == 1 and "Europe/Stockholm" in said[0].getMessage()
    assert dt.datetime.fromisoformat(s["watermark"]) == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
    utc = extract_entity("grades", warehouse_url, _api(server, time_zone="UTC"), pseudonymiser, full_refresh=True)
    assert dt.datetime.fromisoformat(utc["watermark"]) == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(ExtractError, match="unknown time zone"):
        extract_entity("grades", warehouse_url, _api(server, time_zone="Mars/Olympus"), pseudonymiser)


# --------------------------------------------------------------------------------------------------------
# Characters PostgreSQL refuses
# --------------------------------------------------------------------------------------------------------
def test_nul_characters_are_quarantined_per_record_in_every_entity(warehouse_url, server, dataset, pseudonymiser):
    folder = dataset / "ss12000"
    orgs = orjson.loads((folder / "organisations.json").read_bytes())["data"]
    orgs[2]["displayName"] = "Test\u0000skolan"
    (folder / "organisations.json").write_bytes(orjson.dumps({"data": orgs}))
    syl = orjson.loads((folder / "syllabuses.json").read_bytes())["data"]
    syl[1]["subjectName"] = "Ämne\u0000"
    (folder / "syllabuses.json").write_bytes(orjson.dumps({"data": syl}))
    persons = read_jsonl(folder / "persons.jsonl")
    persons[4]["enrolments"][0]["schoolType"] = "G\u0000R"
    write_jsonl(folder / "persons.jsonl", persons)
    grades = read_jsonl(folder / "grades.jsonl")
    grades[3]["id"] = grades[3]["id"][:-1] + "\u0000"
    grades[7]["registeredDate"] = "2025-12-\u000019"
    write_jsonl(folder / "grades.jsonl", grades)
    attendance = read_jsonl(folder / "aggregatedAttendance.jsonl")
    for a in attendance:
        if a["student"]["id"] == uid("person", 2):
            a["activity"]["id"] = a["activity"]["id"][:-1] + "\u0000"
    write_jsonl(folder / "aggregatedAttendance.jsonl", attendance)

    summaries = {e: extract_entity(e, warehouse_url, _api(server), pseudonymiser, terms=TERMS) for e in ENTITIES}
    assert {e: s["rows_quarantined"] for e, s in summaries.items()} == {
        "organisations": 1, "syllabuses": 1, "persons": 1, "grades": 2, "deletedEntities": 0,
        "aggregatedAttendance": 4}  # 2 activities x 2 terms of the one pupil
    assert summaries["grades"]["rows_loaded"] == len(grades) - 2
    reasons = {r[0] for r in _rows(warehouse_url, "SELECT reason_code FROM audit.quarantine")}
    assert reasons == {"character_not_allowed"}
    assert _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_organisation") == [(len(orgs) - 1,)]


# --------------------------------------------------------------------------------------------------------
# Paging: caps, budgets, required parameters
# --------------------------------------------------------------------------------------------------------
def test_a_server_that_never_stops_paging_hits_the_cap_and_the_run_is_closed_as_failed(warehouse_url, server,
                                                                                       pseudonymiser):
    server.quirks.configure(endless_pages=True)
    settings = Settings.load({"ss12000_max_pages": 12})
    with pytest.raises(ExtractError, match=r"more than 12 pages in one run \(setting ss12000_max_pages\)"):
        extract_entity("grades", warehouse_url, _api(server, page_size=20), pseudonymiser, settings=settings)
    assert server.state.requests["grades"] == 12
    status, message = _rows(warehouse_url, "SELECT status, message FROM audit.load_run")[0]
    assert status == "failed" and "ss12000_max_pages" in message
    assert _rows(warehouse_url, "SELECT count(*) FROM staging.ss12000_grade") == [(0,)]


def test_the_time_budget_counts_over_every_list_of_a_run(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(config_mod.time, "monotonic", lambda: clock[0])
    budget = PageBudget(max_pages=None, seconds=30)
    budget.spend("/aggregatedAttendance", 1)
    clock[0] += 29
    budget.spend("/aggregatedAttendance", 1)  # a second window, still inside the budget
    clock[0] += 2
    with pytest.raises(SS12000Error, match=r"longer than 30s \(setting ss12000_time_budget_seconds\)"):
        budget.spend("/aggregatedAttendance", 2)


def test_a_stale_running_row_is_closed_as_failed_on_the_next_start(warehouse_url, server, pseudonymiser):
    with connect(warehouse_url) as conn:
        stale = conn.execute("INSERT INTO audit.load_run (source, entity) VALUES ('ss12000', 'grades') "
                             "RETURNING run_id").fetchone()[0]
        other = conn.execute("INSERT INTO audit.load_run (source, entity) VALUES ('ss12000', 'persons') "
                             "RETURNING run_id").fetchone()[0]
        conn.commit()
    extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    got = dict((r[0], r[1:]) for r in _rows(warehouse_url, "SELECT run_id, status, message FROM audit.load_run"))
    assert got[stale][0] == "failed" and got[stale][1].startswith("stale")
    assert got[other][0] == "running"  # another entity's run is none of this run's business


def test_required_parameters_are_resent_when_the_server_demands_them(warehouse_url, server, dataset, pseudonymiser):
    clean = extract_entity("aggregatedAttendance", warehouse_url, _api(server, page_size=7), pseudonymiser,
                           terms=TERMS)
    server.quirks.configure(required_on_every_page=True)
    strict = extract_entity("aggregatedAttendance", warehouse_url, _api(server, page_size=7), pseudonymiser,
                            terms=TERMS, full_refresh=True)
    assert strict["rows_read"] == clean["rows_read"] and strict["pages"] == clean["pages"] > 2
    assert strict["rows_loaded"] == clean["rows_loaded"]
    assert strict["requests"] == clean["requests"] + 1  # one 400, then the client resends startDate/endDate


def test_the_spec_declares_the_parameters_the_client_resends():
    spec = yaml.safe_load(ss12000_spec_path().read_text(encoding="utf-8"))
    required = {}
    for path in ("/organisations", "/persons", "/syllabuses", "/grades", "/aggregatedAttendance", "/deletedEntities"):
        params = spec["paths"][path]["get"].get("parameters", [])
        names = tuple(sorted(p["name"] for p in params if p.get("in") == "query" and p.get("required")))
        if names:
            required[path] = names
    assert {k: tuple(sorted(v)) for k, v in REQUIRED_QUERY.items()} == required


def test_filters_are_resent_for_servers_whose_page_tokens_forget_them(warehouse_url, server, dataset,
                                                                      pseudonymiser):
    extract_entity("persons", warehouse_url, _api(server), pseudonymiser)
    path = dataset / "ss12000" / "persons.jsonl"
    persons = read_jsonl(path)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for k, p in enumerate(persons[:5]):
        p["meta"]["modified"] = (now - dt.timedelta(minutes=k)).isoformat()
    write_jsonl(path, persons)
    server.quirks.configure(filters_on_every_page=True)
    api = _api(server, page_size=2)
    unfiltered = extract_entity("persons", warehouse_url, api, pseudonymiser, full_refresh=False)
    assert unfiltered["rows_read"] > 5  # pages 2.. ran through the whole list: what the setting is for
    with connect(warehouse_url) as conn:  # back to before the changes, then read them again, resending
        conn.execute("UPDATE audit.watermark SET watermark = %s WHERE entity = 'persons'",
                     (unfiltered["previous_watermark"],))
        conn.commit()
    resent = extract_entity("persons", warehouse_url, _api(server, page_size=2, resend_params="meta.modified.after"),
                            pseudonymiser)
    assert resent["rows_read"] == 5 and resent["pages"] == 3


# --------------------------------------------------------------------------------------------------------
# Tokens, https
# --------------------------------------------------------------------------------------------------------
def _recorded(answers: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        for prefix, response in answers.items():
            if request.url.path.endswith(prefix):
                return response
        return httpx.Response(404)
    return httpx.MockTransport(handle)


@pytest.mark.parametrize("answer, status", [
    (httpx.Response(404, text="Not Found"), "HTTP 404"),
    (httpx.Response(200, text="<html>login</html>"), "HTTP 200 without an access_token"),
    (httpx.Response(200, json={"token": "x"}), "HTTP 200 without an access_token"),
    (httpx.Response(401, json={"error": "invalid_client"}), "HTTP 401 invalid_client"),
])
def test_token_errors_name_the_http_status_and_the_token_url(answer, status):
    client = SS12000Client("https://sis.example.se/v2.0", "https://auth.example.se/oauth/token?x=1", "id", "secret",
                           transport=_recorded({"/token": answer}), sleep=lambda s: None)
    with pytest.raises(SS12000Error) as info:
        client.token()
    message = str(info.value)
    assert status in message and "https://auth.example.se/oauth/token" in message
    assert "not a token" not in message and "x=1" not in message and "secret" not in message


def test_a_static_bearer_token_needs_no_token_endpoint(server):
    with SS12000Client(server, server.token_url, "skolsam", "skolsam") as issuer:
        token = issuer.token()
    api = ApiConfig(server, "https://nowhere.invalid/token", static_token=token, page_size=100)
    assert token not in repr(api)
    with api.client() as client:
        pages = list(client.pages("/organisations"))
        assert client.stats["tokens"] == 0 and len(pages[0].data) == 4
    with ApiConfig(server, static_token="wrong", max_attempts=2).client() as client:
        with pytest.raises(SS12000AuthError, match="static bearer token was refused"):
            list(client.pages("/organisations"))


def test_https_is_required_for_any_host_but_this_machine():
    with pytest.raises(ValueError, match="https is required"):
        ApiConfig("http://sis.example.se/v2.0").client()
    with pytest.raises(ValueError, match="https is required"):
        ApiConfig("https://sis.example.se/v2.0", token_url="http://auth.example.se/token").client()
    for url in ("https://sis.example.se/v2.0", "http://127.0.0.1:8000/v2.0", "http://localhost/v2.0",
                "http://[::1]:8000/v2.0"):
        ApiConfig(url).client().close()
    ApiConfig("http://ss12000:8000/v2.0", allow_http=True).client().close()  # the demo stack only


# --------------------------------------------------------------------------------------------------------
# /deletedEntities shapes, failures per entity
# --------------------------------------------------------------------------------------------------------
def test_deleted_entities_as_a_flat_list_give_the_same_staging(warehouse_url, server, dataset, pseudonymiser):
    server.quirks.configure(deleted_flat=True)
    flat = extract_entity("deletedEntities", warehouse_url, _api(server, page_size=1), pseudonymiser)
    assert flat["rows_loaded"] == 2 and flat["pages"] == 2
    ids = sorted(str(r[0]) for r in _rows(warehouse_url, "SELECT id FROM staging.ss12000_deleted"))
    assert ids == sorted(uid("grade", "deleted", n) for n in range(2))
    again = extract_entity("deletedEntities", warehouse_url, _api(server), pseudonymiser)  # `{"data": []}`
    assert again["rows_read"] == 0 and again["rows_loaded"] == 0


def test_deleted_entities_with_the_spec_key_activitites_are_accepted(warehouse_url, pseudonymiser):
    gone = uid("grade", "gone")
    answer = {"data": {"activitites": [uid("activity", "gone")], "grades": [gone], "persons": []}, "pageToken": None}
    transport = _recorded({"/token": httpx.Response(200, json={"access_token": "t", "expires_in": 60}),
                           "/deletedEntities": httpx.Response(200, json=answer)})
    api = ApiConfig("https://sis.example.se/v2.0", client_id="id", client_secret="s")
    client = SS12000Client(api.base_url, transport=transport)
    s = extract_entity("deletedEntities", warehouse_url, api, pseudonymiser, client=client)
    assert s["rows_read"] == 1 and s["rows_loaded"] == 1
    assert [str(r[0]) for r in _rows(warehouse_url, "SELECT id FROM staging.ss12000_deleted")] == [gone]


def test_a_failing_entity_is_recorded_and_the_others_still_run(warehouse_url, server, pseudonymiser):
    server.faults.configure(rate=1.0, kinds=("500",), paths=("persons",), retry_after=0)
    with pytest.raises(ExtractError, match=r"1 of 6 entities failed: persons") as info:
        extract_all(warehouse_url, _api(server, max_attempts=2), pseudonymiser, terms=TERMS)
    assert info.value.failed == ["persons"]
    assert [s["entity"] for s in info.value.summaries] == [e for e in ENTITIES if e != "persons"]
    runs = dict(_rows(warehouse_url, "SELECT entity, status FROM audit.load_run"))
    assert runs == {**dict.fromkeys(ENTITIES, "success"), "persons": "failed"}
    assert _rows(warehouse_url, "SELECT count(*) > 0 FROM staging.ss12000_grade") == [(True,)]


# --------------------------------------------------------------------------------------------------------
# The stand-in: demo mode and /health
# --------------------------------------------------------------------------------------------------------
def test_the_standin_refuses_its_default_credentials_outside_demo_mode(dataset, tmp_path):
    with pytest.raises(ValueError, match="demo mode"):
        create_app(dataset, index_dir=tmp_path / "index")
    create_app(dataset, index_dir=tmp_path / "index", client_id="ops", client_secret="a-real-secret")
    create_app(dataset, index_dir=tmp_path / "index", demo=True)


def test_health_answers_without_dataset_counts(server):
    body = httpx.get(server.rsplit("/v2.0", 1)[0] + "/health").json()
    assert body == {"status": "ok"}


def test_without_a_date_header_our_clock_bounds_the_watermark(warehouse_url, server, dataset, pseudonymiser):
    auth = {"Authorization": "Bearer " + SS12000Client(server, server.token_url, "skolsam", "skolsam").token()}
    assert "date" in httpx.get(server + "/organisations", headers=auth).headers
    server.quirks.configure(no_date_header=True)
    assert "date" not in httpx.get(server + "/organisations", headers=auth).headers
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    grades[2]["meta"]["modified"] = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    write_jsonl(path, grades)
    s = extract_entity("grades", warehouse_url, _api(server), pseudonymiser)
    assert s["rows_quarantined"] == 1
    assert dt.datetime.fromisoformat(s["watermark"]) < dt.datetime.now(dt.timezone.utc)
