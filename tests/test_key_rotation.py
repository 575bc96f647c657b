"""Issue 17 item 7: `skolsam rotate-key` re-keys staging, core, the marts and the audit trail in one
transaction from the raw numbers of the sources (SS 12000 persons, the landing folder's lists); afterwards
no old key is left, the joins work (same match rate, same group figures), and erased pupils stay erased."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil

import pytest

import enrollment_files as ef
from conftest import TEST_KEY
from skolsam import cli, identity, rotation
from skolsam.enrollment.intake import ingest_landing
from skolsam.enrollment.match import match_rate
from skolsam.generate import generate_dataset
from skolsam.pseudonym import Pseudonymiser, default_mart
from skolsam.settings import Settings
from skolsam.ss12000.extract import ENTITIES, ApiConfig, extract_entity
from skolsam.standin.running import running_server
from skolsam.warehouse import build
from test_build_core import fresh_warehouse, query

pytestmark = pytest.mark.postgres
TERMS = ["HT2025", "VT2026"]
AS_OF = dt.date(2026, 6, 30)
GROUPS = "SELECT * FROM mart.group_term ORDER BY term, population, programme, district, sex, school_year"


@pytest.fixture(scope="module")
def city(pg_admin_url, tmp_path_factory):
    """A small synthetic city extracted, taken in and built under the test key."""
    tmp = tmp_path_factory.mktemp("rotation")
    dataset = tmp / "ds"
    generate_dataset(dataset, pupils=300, seed=11, terms=TERMS)
    old = Pseudonymiser(TEST_KEY)
    with fresh_warehouse(pg_admin_url) as url:
        with running_server(dataset, index_dir=tmp / "index", demo=True) as base:
            api = ApiConfig(base, base + "/token", "skolsam", "skolsam", 500)
            for entity in ENTITIES:
                extract_entity(entity, url, api, old, terms=TERMS)
        landing = tmp / "landing"
        shutil.copytree(dataset / "enrollment", landing)
        ingest_landing(str(landing), url, old)
        build.build_warehouse(url, Settings(), as_of=AS_OF)
        yield url, dataset, landing, old


def _values(url: str, keys: list[str]) -> dict[str, int]:
    """Rows per text column in the data and audit schemas holding any of ``keys``."""
    found = {}
    cols = query(url, """SELECT table_schema, table_name, column_name FROM information_schema.columns c
                          JOIN information_schema.tables t USING (table_schema, table_name)
                         WHERE table_schema IN ('staging', 'core', 'mart', 'mart_candidate', 'audit')
                           AND t.table_type = 'BASE TABLE' AND data_type = 'text'""")
    for schema, table, col in cols:
        [(n,)] = query(url, f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{col}" = ANY(%s)', (keys,))
        if n:
            found[f"{schema}.{table}.{col}"] = n
    return found


def _everything(url: str) -> dict:
    return {t: query(url, f"SELECT * FROM {t} ORDER BY 1, 2") for t in (
        "staging.enrollment", "staging.ss12000_person", "audit.erased_key", "core.dim_pupil")}


def test_unmapped_rows_refuse_the_rotation_and_change_nothing(city):
    url, dataset, landing, old = city
    new = Pseudonymiser(secrets.token_hex(32))
    before = _everything(url)
    # Only the lists, not the SS 12000 persons: the pupils of the education data have no number.
    key_map = rotation.build_map(old, new, numbers=rotation.numbers_from_landing(str(landing)))
    assert key_map.keys
    with pytest.raises(rotation.RotationError) as err:
        rotation.rotate(url, old, new, key_map, old_mart=default_mart())
    assert "audit.erased_ref.person_ref" in str(err.value)  # erased pupils' refs come from the persons
    assert TEST_KEY not in str(err.value) and not any(k in str(err.value) for k in key_map.keys)
    # The persons, less one pupil who was not erased: their rows cannot be re-keyed.
    erased_refs = {r for (r,) in query(url, "SELECT person_ref FROM audit.erased_ref")}
    persons = list(rotation.persons_from_dataset(dataset))
    missing = next(p for p in persons if old.source_ref("person", p["id"]) not in erased_refs)
    key_map = rotation.build_map(old, new, persons=[p for p in persons if p is not missing],
                                 numbers=rotation.numbers_from_landing(str(landing)))
    with pytest.raises(rotation.RotationError) as err:
        rotation.rotate(url, old, new, key_map, old_mart=default_mart())
    assert "staging.ss12000_person" in str(err.value) and "drop_unmapped" in str(err.value)
    assert _everything(url) == before
    # A dry run with everything mapped rolls back too.
    full = rotation.build_map(old, new, persons=rotation.persons_from_dataset(dataset),
                              numbers=rotation.numbers_from_landing(str(landing)))
    report = rotation.rotate(url, old, new, full, old_mart=default_mart(), dry_run=True)
    assert report["dry_run"] and sum(report["rewritten"].values()) > 0
    assert _everything(url) == before


def test_rotation_rekeys_everything_and_joins_still_work(city, monkeypatch):
    url, dataset, landing, old = city
    groups_before = query(url, GROUPS)
    rate_before = match_rate(url)
    participants_before = query(url, "SELECT count(*) FROM mart.participant_term")
    erased_numbers = set()
    for path in sorted((dataset / "enrollment").glob("*.csv")):  # erasure requests and withdrawn consent
        for r in ef.read_list(path):
            asked = path.name.startswith("radering") or r.get("samtycke", "").strip().lower() == "nej"
            if asked and identity.is_valid(r["personnummer"]):
                erased_numbers.add(identity.parse(r["personnummer"]).normalised)
    assert erased_numbers, "the generated city has erasure requests"
    old_keys = [k for (k,) in query(url, "SELECT student_key FROM staging.enrollment UNION "
                                         "SELECT student_key FROM staging.ss12000_person UNION "
                                         "SELECT student_key FROM audit.erased_key")]
    old_refs = [r for (r,) in query(url, "SELECT person_ref FROM staging.ss12000_person UNION "
                                         "SELECT person_ref FROM audit.erased_ref")]
    old_term_keys = [k for (k,) in query(url, "SELECT student_key FROM mart.participant_term")]

    new_key = secrets.token_hex(32)
    monkeypatch.setenv("SKOLSAM_NEW_PSEUDONYM_KEY", new_key)
    assert cli.main(["rotate-key", "--dataset", str(dataset), "--landing", str(landing),
                     "--warehouse-url", url]) == 0
    new = Pseudonymiser(new_key)

    assert _values(url, old_keys + old_refs + old_term_keys) == {}  # no old key or ref is left anywhere
    assert {k for (k,) in query(url, "SELECT student_key FROM audit.erased_key")} == {
        new.student_key(n) for n in erased_numbers}
    assert match_rate(url) == rate_before  # the two sources still meet on student_key
    assert query(url, "SELECT count(*) FROM mart.participant_term") == participants_before
    runs = query(url, "SELECT status, message FROM audit.load_run WHERE entity = 'rotate-key' ORDER BY run_id")
    assert [r[0] for r in runs] == ["failed", "failed", "skipped", "success"]  # refused, refused, dry run, done
    assert "re-keyed" in runs[-1][1]

    # A new build on the re-keyed staging gives the same figures and the same per-term keys.
    term_keys = sorted(query(url, "SELECT student_key, term, programme FROM mart.participant_term"))
    build.build_warehouse(url, Settings(), as_of=AS_OF)
    assert query(url, GROUPS) == groups_before
    assert sorted(query(url, "SELECT student_key, term, programme FROM mart.participant_term")) == term_keys

    # An erased pupil named again in a list is still dropped under the new key.
    number = sorted(erased_numbers)[0]
    again = landing.parent / "again"
    ef.write(again, "igen.csv", [ef.row(1, number=number)])
    summary = ingest_landing(str(again), url, new)
    assert summary["files"][0]["reasons"] == {"erased": 1}
