"""The stand-in SS 12000 server and the API client, over a tiny hand-built dataset (no PostgreSQL).

Answers are checked against the spec file itself (openapi-core) for every endpoint served, and against
an independent reading of the dataset files. No timing assertions.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import httpx
import orjson
import pytest

from conftest import ss12000_spec_path
from ss12000_fixtures import HT2025, VT2026, build_dataset, read_entity, read_jsonl, uid, window_sums, write_jsonl

from skolsam.ss12000.client import RetryPolicy, SS12000AuthError, SS12000Client, SS12000Error
from skolsam.standin.running import running_server

SPEC = ss12000_spec_path()
SPEC_HOST = "http://some.server.se"  # the spec's servers entry is http://some.server.se/v2.0


@pytest.fixture
def dataset(tmp_path) -> Path:
    return build_dataset(tmp_path / "dataset")


@pytest.fixture
def server(dataset, tmp_path):
    with running_server(dataset, index_dir=tmp_path / "index", retry_after=0, slow_seconds=0.05, demo=True) as url:
        yield url


def _token(url: str) -> str:
    r = httpx.post(url + "/token", data={"grant_type": "client_credentials", "client_id": "skolsam",
                                         "client_secret": "skolsam"})
    assert r.status_code == 200
    return r.json()["access_token"]


def _get(url: str, path: str, token: str, params=None) -> httpx.Response:
    return httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {token}"})


def _client(url: str, **kw) -> SS12000Client:
    return SS12000Client(url, url + "/token", "skolsam", "skolsam",
                         retry=kw.pop("retry", RetryPolicy(max_attempts=8, backoff_base=0.001, backoff_max=0.01)), **kw)


def _walk(url: str, token: str, path: str, params: dict, limit: int) -> list:
    out, query = [], dict(params, limit=limit)
    while True:
        r = _get(url, path, token, query)
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(body)
        if not body.get("pageToken"):
            return out
        query = {"pageToken": body["pageToken"], "limit": limit}


# --------------------------------------------------------------------------------------------------------
# Tokens and errors
# --------------------------------------------------------------------------------------------------------
def test_token_endpoint_form_and_basic(server):
    r = httpx.post(server.token_url, data={"grant_type": "client_credentials", "client_id": "skolsam",
                                           "client_secret": "skolsam"})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]
    basic = base64.b64encode(b"skolsam:skolsam").decode()
    r = httpx.post(server.token_url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and r.json()["access_token"] != body["access_token"]
    r = httpx.post(server.token_url, data={"grant_type": "client_credentials", "client_id": "skolsam",
                                           "client_secret": "wrong"})
    assert r.status_code == 401 and r.json() == {"error": "invalid_client"}
    r = httpx.post(server.token_url, data={"grant_type": "password", "client_id": "skolsam", "client_secret": "skolsam"})
    assert r.status_code == 400 and r.json() == {"error": "unsupported_grant_type"}


def test_401_without_a_valid_bearer_token(server):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic c2tvbHNhbTpza29sc2Ft"}):
        r = httpx.get(server + "/grades", headers=headers)
        assert r.status_code == 401
        assert r.json()["code"] == "unauthorized" and "message" in r.json()
        assert r.headers["www-authenticate"].startswith("Bearer")
    token = _token(server)
    assert _get(server, "/grades", token).status_code == 200
    server.state.tokens.revoke_all()
    assert _get(server, "/grades", token).status_code == 401


def test_page_token_combined_with_a_filter_is_400(server):
    token = _token(server)
    first = _get(server, "/grades", token, {"limit": 5, "meta.modified.after": "2025-01-01T00:00:00Z"}).json()
    assert first["pageToken"]
    r = _get(server, "/grades", token, {"pageToken": first["pageToken"], "meta.modified.after": "2025-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_filter"
    r = _get(server, "/aggregatedAttendance", token, {"pageToken": first["pageToken"], "startDate": HT2025[0]})
    assert r.status_code == 400
    # limit may go with a token; a token from another endpoint or a forged one may not
    assert _get(server, "/grades", token, {"pageToken": first["pageToken"], "limit": 3}).status_code == 200
    r = _get(server, "/persons", token, {"pageToken": first["pageToken"]})
    assert r.status_code == 400 and r.json()["code"] == "invalid_page_token"
    assert _get(server, "/grades", token, {"pageToken": first["pageToken"][:-2] + "xx"}).status_code == 400
    assert _get(server, "/grades", token, {"sortkey": "ModifiedDesc"}).status_code == 400
    assert _get(server, "/grades", token, {"limit": 0}).status_code == 400
    assert _get(server, "/grades", token, {"meta.modified.after": "yesterday"}).status_code == 400


# --------------------------------------------------------------------------------------------------------
# Lists, filters, objects
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entity", ["organisations", "persons", "syllabuses", "grades"])
def test_pagination_returns_every_object_once_in_modified_order(server, dataset, entity):
    token = _token(server)
    pages = _walk(server, token, f"/{entity}", {}, limit=7)
    objs = [o for p in pages for o in p["data"]]
    expected = {o["id"]: o for o in read_entity(dataset, entity)}
    assert [o["id"] for o in objs].count(objs[0]["id"]) == 1
    assert {o["id"] for o in objs} == set(expected)
    assert all(o == expected[o["id"]] for o in objs)  # served as stored
    stamps = [dt.datetime.fromisoformat(o["meta"]["modified"]) for o in objs]
    assert stamps == sorted(stamps)
    assert pages[-1]["pageToken"] is None and all(p["pageToken"] for p in pages[:-1])


def test_modified_filters(server, dataset):
    token = _token(server)
    grades = read_entity(dataset, "grades")
    stamps = sorted({dt.datetime.fromisoformat(g["meta"]["modified"]) for g in grades})
    pivot = stamps[len(stamps) // 2]
    after = [o for p in _walk(server, token, "/grades", {"meta.modified.after": pivot.isoformat()}, 50) for o in p["data"]]
    assert {o["id"] for o in after} == {g["id"] for g in grades if dt.datetime.fromisoformat(g["meta"]["modified"]) > pivot}
    before = [o for p in _walk(server, token, "/grades", {"meta.modified.before": pivot.isoformat()}, 50) for o in p["data"]]
    assert {o["id"] for o in before} == {g["id"] for g in grades if dt.datetime.fromisoformat(g["meta"]["modified"]) <= pivot}
    student = grades[0]["student"]["id"]
    mine = [o for p in _walk(server, token, "/grades", {"student": student}, 3) for o in p["data"]]
    assert {o["id"] for o in mine} == {g["id"] for g in grades if g["student"]["id"] == student}
    units = _get(server, "/organisations", token, {"type": "Skolenhet"}).json()["data"]
    assert len(units) == 2 and {u["organisationType"] for u in units} == {"Skolenhet"}


def test_get_by_id(server, dataset):
    token = _token(server)
    grade = read_entity(dataset, "grades")[5]
    r = _get(server, f"/grades/{grade['id']}", token)
    assert r.status_code == 200 and r.json() == grade
    person = read_entity(dataset, "persons")[2]
    assert _get(server, f"/persons/{person['id']}", token).json()["id"] == person["id"]
    assert _get(server, f"/grades/{uid('nothing')}", token).status_code == 404
    r = _get(server, "/grades/not-a-uuid", token)
    assert r.status_code == 400 and r.json()["code"] == "invalid_id"


def test_attendance_sums_the_records_inside_the_window(server, dataset):
    token = _token(server)
    for start, end in (HT2025, VT2026):
        pages = _walk(server, token, "/aggregatedAttendance", {"startDate": start, "endDate": end}, limit=5)
        rows = [o for p in pages for o in p["data"]]
        expected = window_sums(dataset, start, end)
        got = {(o["student"]["id"], o["activity"]["id"]): o for o in rows}
        assert len(got) == len(rows) == len(expected) > 0
        for key, sums in expected.items():
            o = got[key]
            assert o["startDate"] == start and o["endDate"] == end
            assert {k: o[k] for k in sums} == sums
    # the record straddling the two windows is in neither, but in a window holding it
    straddling = uid("activity", "x")
    assert all(o["activity"]["id"] != straddling
               for s, e in (HT2025, VT2026)
               for p in _walk(server, token, "/aggregatedAttendance", {"startDate": s, "endDate": e}, 100)
               for o in p["data"])
    whole = [o for p in _walk(server, token, "/aggregatedAttendance", {"startDate": HT2025[0], "endDate": VT2026[1]}, 100)
             for o in p["data"]]
    assert any(o["activity"]["id"] == straddling and o["offeredSum"] == 600 for o in whole)
    # a student filter, an empty window, and the required dates
    student = uid("person", 3)
    mine = _get(server, "/aggregatedAttendance", token,
                {"startDate": HT2025[0], "endDate": HT2025[1], "student": student}).json()["data"]
    assert mine and {o["student"]["id"] for o in mine} == {student}
    assert _get(server, "/aggregatedAttendance", token,
                {"startDate": "2030-01-01", "endDate": "2030-06-01"}).json() == {"data": [], "pageToken": None}
    r = _get(server, "/aggregatedAttendance", token, {"startDate": HT2025[0]})
    assert r.status_code == 400 and "endDate" in r.json()["message"]


def test_deleted_entities(server, dataset):
    token = _token(server)
    deleted = read_entity(dataset, "deletedEntities")
    body = _get(server, "/deletedEntities", token).json()
    assert body == {"data": {"grades": [d["id"] for d in deleted]}, "pageToken": None}
    later = _get(server, "/deletedEntities", token, {"after": deleted[0]["deletedAt"]}).json()
    assert later["data"] == {"grades": [deleted[1]["id"]]}
    assert _get(server, "/deletedEntities", token, {"entities": "Person"}).json()["data"] == {}
    paged = _walk(server, token, "/deletedEntities", {"entities": ["Grade", "Person"]}, limit=1)
    assert [p["data"] for p in paged] == [{"grades": [d["id"]]} for d in deleted]


def test_dataset_edits_are_seen_without_a_restart(server, dataset):
    token = _token(server)
    path = dataset / "ss12000" / "grades.jsonl"
    grades = read_jsonl(path)
    target = grades[10]
    target["gradeValue"] = "A" if target["gradeValue"] != "A" else "B"
    target["meta"]["modified"] = "2026-08-01T10:00:00+02:00"
    write_jsonl(path, grades + [{**grades[0], "id": uid("grade", "new")}])
    assert _get(server, f"/grades/{target['id']}", token).json()["gradeValue"] == target["gradeValue"]
    newer = _get(server, "/grades", token, {"meta.modified.after": "2026-07-01T00:00:00Z"}).json()["data"]
    assert [g["id"] for g in newer] == [target["id"]]
    assert _get(server, f"/grades/{uid('grade', 'new')}", token).status_code == 200
    server.index.reload()  # explicit rebuild works too
    assert _get(server, f"/grades/{target['id']}", token).json()["gradeValue"] == target["gradeValue"]


def test_keyset_pages_read_an_index_range(server):
    """Per-page cost must not grow with the dataset: the page queries start from the key in an index."""
    index = server.index
    conn = index.connection()
    plan = " ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT modified, seq, raw FROM grades WHERE (modified, seq) > (?, ?) "
        "ORDER BY modified, seq LIMIT 10", (0, 0)))
    assert "SEARCH" in plan and "grades_modified" in plan and "TEMP B-TREE" not in plan
    plan = " ".join(r[3] for r in conn.execute(
        'EXPLAIN QUERY PLAN SELECT s, a, sum(offered) FROM att WHERE half = ? AND (s, a) > (?, ?) AND start >= ? '
        'AND "end" <= ? GROUP BY s, a ORDER BY s, a LIMIT 10', (4051, 0, 0, "2025-08-18", "2025-12-19")))
    assert "SEARCH att USING PRIMARY KEY" in plan and "TEMP B-TREE" not in plan


# --------------------------------------------------------------------------------------------------------
# The spec's own response schemas
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openapi():
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(SPEC))


def _validate(openapi, path: str, response: httpx.Response, args=None) -> None:
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest(SPEC_HOST, "get", "/v2.0" + path, args=args)
    openapi.validate_response(request, MockResponse(response.content, status_code=response.status_code,
                                                    content_type=response.headers.get("content-type", "")))


def test_answers_match_the_spec(server, openapi, dataset):
    token = _token(server)
    for entity in ("organisations", "persons", "syllabuses", "grades"):
        query: dict = {"limit": 60}
        while True:  # every page of every list
            r = _get(server, f"/{entity}", token, query)
            _validate(openapi, f"/{entity}", r)
            if not r.json()["pageToken"]:
                break
            query = {"pageToken": r.json()["pageToken"], "limit": 60}
        one = read_entity(dataset, entity)[0]["id"]
        _validate(openapi, f"/{entity}/{one}", _get(server, f"/{entity}/{one}", token))
        _validate(openapi, f"/{entity}/not-a-uuid", _get(server, f"/{entity}/not-a-uuid", token))
    for start, end in (HT2025, VT2026):
        r = _get(server, "/aggregatedAttendance", token, {"startDate": start, "endDate": end, "limit": 7})
        _validate(openapi, "/aggregatedAttendance", r)
        token_page = _get(server, "/aggregatedAttendance", token, {"pageToken": r.json()["pageToken"]})
        _validate(openapi, "/aggregatedAttendance", token_page)
    _validate(openapi, "/deletedEntities", _get(server, "/deletedEntities", token))
    # errors: 400 (Error schema), 401 (no entry in the spec: the default Error schema)
    bad = _get(server, "/grades", token, {"pageToken": "x", "meta.modified.after": "2025-01-01T00:00:00Z"})
    assert bad.status_code == 400
    _validate(openapi, "/grades", bad)
    _validate(openapi, "/grades", httpx.get(server + "/grades"))


def test_grade_school_unit_slip_in_the_spec(openapi, server, dataset):
    """Grade 2.1.0 requires `schoolUnit` but only defines `organisation`: a grade carrying only
    `organisation` fails the spec's own schema. The datasets carry both, and the extractor reads either."""
    import yaml

    schema = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]["Grade"]
    assert "schoolUnit" in schema["required"] and "schoolUnit" not in schema["properties"]
    assert "organisation" in schema["properties"]
    token = _token(server)
    grade = read_entity(dataset, "grades")[0]
    assert grade["organisation"] == grade["schoolUnit"]
    only_org = {k: v for k, v in grade.items() if k != "schoolUnit"}
    fake = httpx.Response(200, content=orjson.dumps({"data": [only_org], "pageToken": None}),
                          headers={"content-type": "application/json"})
    with pytest.raises(Exception, match="schoolUnit"):
        _validate(openapi, "/grades", fake)
    _validate(openapi, "/grades", _get(server, "/grades", token, {"limit": 3}))


# --------------------------------------------------------------------------------------------------------
# Faults and the client
# --------------------------------------------------------------------------------------------------------
def test_fault_kinds(server):
    token = _token(server)
    faults = server.faults
    faults.configure(rate=1.0, kinds=("429",), seed=1, retry_after=3)
    r = _get(server, "/grades", token)
    assert r.status_code == 429 and r.headers["retry-after"] == "3" and r.json()["code"]
    faults.configure(rate=1.0, kinds=("503",), retry_after=0)
    assert _get(server, "/grades", token).status_code == 503
    faults.configure(rate=1.0, kinds=("500",))
    r = _get(server, "/grades", token)
    assert r.status_code == 500 and set(r.json()) == {"code", "message"}
    faults.configure(rate=1.0, kinds=("drop",))
    with pytest.raises(httpx.RemoteProtocolError):
        _get(server, "/grades", token)
    faults.configure(rate=1.0, kinds=("corrupt",))
    r = _get(server, "/grades", token)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        orjson.loads(r.content)
    faults.configure(rate=1.0, kinds=("slow",), slow_seconds=0.01)
    assert _get(server, "/grades", token).status_code == 200 and faults.injected["slow"] == 1
    faults.configure(rate=1.0, kinds=("500",), paths=("persons",))
    assert _get(server, "/grades", token).status_code == 200
    assert _get(server, "/persons", token).status_code == 500
    faults.configure(rate=1.0, kinds=("500",), paths=None, skip=1)
    assert [_get(server, "/grades", token).status_code for _ in range(2)] == [200, 500]
    # the same seed draws the same faults
    draws = []
    for _ in range(2):
        faults.configure(rate=0.5, kinds=("429", "500", "drop"), seed=42, skip=0)
        draws.append([faults.draw("grades") for _ in range(30)])
    assert draws[0] == draws[1] and any(draws[0]) and not all(draws[0])


def test_client_survives_faults_and_refreshes_tokens(server, dataset):
    expected = {g["id"] for g in read_entity(dataset, "grades")}
    server.faults.configure(rate=0.4, kinds=("429", "503", "500", "drop", "corrupt", "slow"), seed=3, retry_after=0,
                            slow_seconds=0.01)
    with _client(server) as client:
        ids = [o["id"] for p in client.pages("/grades", limit=9) for o in p.data]
        assert sorted(ids) == sorted(expected)
        assert client.stats["retries"] > 0 and sum(server.faults.injected.values()) > 0
        # raw pages (the extractor's path) too
        raw = [client.parse_page(p) for p in client.raw_pages("/grades", limit=9)]
        assert sorted(o["id"] for p in raw for o in p.data) == sorted(expected)
        server.faults.configure(rate=0)
        server.state.tokens.revoke_all()
        assert len([o for p in client.pages("/persons", limit=50) for o in p.data]) == 24
        assert client.stats["tokens"] == 2


def test_client_gives_up_with_a_clear_error(server):
    server.faults.configure(rate=1.0, kinds=("500",), seed=1)
    with _client(server, retry=RetryPolicy(max_attempts=3, backoff_base=0.001)) as client:
        with pytest.raises(SS12000Error) as info:
            list(client.pages("/grades", {"meta.modified.after": "2025-01-01T00:00:00Z"}, limit=5))
    message = str(info.value)
    assert "GET /grades page 1 failed after 3 attempts" in message and "HTTP 500" in message
    assert "modified" not in message  # no query string in errors
    with SS12000Client(server, server.token_url, "skolsam", "wrong") as client:
        with pytest.raises(SS12000AuthError):
            client.token()
    server.faults.configure(rate=0)
    with _client(server) as client:
        with pytest.raises(SS12000Error, match="HTTP 400 unsupported_parameter"):
            list(client.pages("/grades", {"nonsense": "1"}))


def test_server_in_a_child_process(dataset, tmp_path):
    with running_server(dataset, in_process=False, demo=True, index_dir=tmp_path / "index", fail_rate=0.3, fault_seed=5,
                        fail_kinds="429,500", retry_after=0) as url:
        assert url.startswith("http://127.0.0.1:")
        with _client(url) as client:
            assert len([o for p in client.pages("/persons", limit=5) for o in p.data]) == 24


def test_term_windows_summed_at_build_time_answer_as_summed_per_page(dataset, tmp_path):
    """The calendar's term windows are summed when the index is built (issue 15); their pages are the
    pages the per-request summation gives, key for key, page by page."""
    from skolsam.standin.index import DatasetIndex

    index = DatasetIndex(dataset, tmp_path / "index")
    index.ensure()
    assert {HT2025, VT2026} <= index._term_windows()

    def pages(idx, start, end, limit):
        out, key, more = [], None, True
        while more:
            objs, key, more = idx.attendance(start, end, None, key, limit)
            out.append(objs)
        return out

    per_page = DatasetIndex(dataset, tmp_path / "index")
    per_page.ensure()
    per_page._term_windows = lambda: set()            # the summation every request ran before
    for start, end in (HT2025, VT2026):
        for limit in (1, 5, 1000):
            built = pages(index, start, end, limit)
            assert built == pages(per_page, start, end, limit) and sum(map(len, built)) > 0
