"""Privacy: after dirty lists have been through the intake, no personnummer and no name from them is anywhere
in the database (every column of every table in every schema), in the logs, in the summary (XCom) or in the
reason files of rejected lists. The lists are the synthetic city's plus hand-made ones with invented names."""

from __future__ import annotations

import json
import logging
import re
import shutil

import pytest

import enrollment_files as ef
from skolsam import identity
from skolsam.enrollment.intake import ingest_landing
from skolsam.generate import generate_dataset
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres

_TOKEN = re.compile(r"[0-9A-Za-z]+")
_PSEUDONYM = re.compile(r"[0-9a-f]{32,64}")


class Secrets:
    """What must not come out: every number written in the lists (valid or not) and every name."""

    def __init__(self) -> None:
        self.numbers: set[str] = set()
        self.names: set[str] = set()

    def add_list(self, path) -> None:
        for r in ef.read_list(path):
            digits = "".join(ch for ch in r.get("personnummer", "") if ch.isdigit())
            if len(digits) >= 6:
                self.numbers.add(digits[-10:])  # the 10-digit tail is inside every written form
            for col in ("förnamn", "efternamn", "handläggare"):
                self.names.update(w for w in r.get(col, "").split() if len(w) >= 3)

    def leaks(self, text: str) -> list[str]:
        """Kinds of leak in a text (never the leaked value itself, so a failure prints nothing personal)."""
        found = []
        joined = re.sub(r"(?<=\d)[-+ ](?=\d)", "", text)  # 120517-0051 -> 1205170051
        runs = re.findall(r"\d+", joined)
        if any(n in run for run in runs for n in self.numbers):
            found.append("input number")
        for m in identity.CANDIDATE.finditer(text):
            token = next(t for t in _TOKEN.finditer(text) if t.start() <= m.start() < t.end())
            if _PSEUDONYM.fullmatch(token.group()):
                continue  # inside a student_key / person_ref (hex), not a number written as one
            if identity.is_valid(m.group()):
                found.append("personnummer candidate")
        lowered = text.casefold()
        for name in self.names:
            if re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", lowered):
                found.append("name")
                break
        return found


@pytest.fixture
def dirty_landing(tmp_path):
    dataset = tmp_path / "ds"
    generate_dataset(dataset, pupils=200, seed=11, terms=["HT2025", "VT2026"])
    landing = tmp_path / "landing"
    shutil.copytree(dataset / "enrollment", landing)
    ef.write(landing, "handgjord_cp1252.csv", [
        ef.row(101), ef.row(102, number=ef.bad_checksum(ef.pnr(102))), ef.row(103, number="1205-17"),
        ef.row(104, number=ef.pnr(104, month=13)), ef.row(105, programme="Mentorsprogram"),
        ef.row(106, district="Vasastan"), ef.row(107, end="2025-01-01"), ef.row(101),
        ef.row(108, consent="nej"), ef.row(109, consent="kanske"), ef.row(110, unit="12-34"),
        ef.row(111, number=ef.pnr(111, coordination=True, form="12dash")),
    ], encoding="cp1252")
    ef.write(landing, "handgjord_bom_komma.csv",
             [ef.row(112, number=ef.pnr(112, form="12")), ef.row(101, end="2026-06-12")],
             encoding="utf-8-sig", delimiter=",", quote_all=True)
    # Rejected lists that still carry numbers and names.
    ef.write(landing, "fel_kolumner.csv", [ef.row(113), ef.row(114)],
             header=["förnamn", "efternamn", "personnummer", "handläggare"])
    (landing / "binar.csv").write_bytes(b"\x00\x01" + ef.pnr(115).encode() + "Testa Testsson".encode())
    ef.erasure_request(landing, "radering_handgjord.csv", [ef.pnr(112), ef.bad_checksum(ef.pnr(116))])
    secrets = Secrets()
    for path in landing.glob("*.csv"):
        if path.name != "binar.csv":
            secrets.add_list(path)
    secrets.numbers.add(ef.pnr(115).replace("-", ""))
    secrets.names.update({"Testa", "Testsson"})
    return landing, secrets, dataset


def test_nothing_personal_anywhere(dirty_landing, warehouse_url, pseudonymiser, caplog):
    landing, secrets, dataset = dirty_landing
    ef.seed_persons(warehouse_url, dataset, pseudonymiser)
    assert len(secrets.numbers) > 20 and len(secrets.names) > 20
    caplog.set_level(logging.DEBUG)

    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)

    statuses = {f["status"] for f in summary["files"]}
    assert statuses == {"loaded", "rejected"} and summary["rows_quarantined"] > 15 and summary["rows_erased"] > 0

    problems: list[str] = []
    with connect(warehouse_url) as conn:
        columns = conn.execute(
            """SELECT c.table_schema, c.table_name, c.column_name
               FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND t.table_type = 'BASE TABLE'
               ORDER BY 1, 2, 3"""
        ).fetchall()
        assert {s for s, _, _ in columns} >= {"staging", "core", "mart", "mart_candidate", "audit"}
        scanned = 0
        for schema, table, column in columns:
            values = conn.execute(
                f'SELECT DISTINCT "{column}"::text FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
            ).fetchall()
            for (value,) in values:
                scanned += 1
                for kind in secrets.leaks(value):
                    problems.append(f"{schema}.{table}.{column}: {kind}")
    assert scanned > 100
    assert sorted(set(problems)) == []

    # Logs, the summary that becomes an XCom, and the reason files of rejected lists.
    for record in caplog.records:
        assert secrets.leaks(record.getMessage()) == [], record.name
    assert secrets.leaks(json.dumps(summary, ensure_ascii=False)) == []
    reason_files = list((landing / "rejected").glob("*.reason.txt"))
    assert len(reason_files) == 2
    for p in reason_files:
        assert secrets.leaks(p.read_text()) == [], p.name


def test_scanner_finds_what_it_looks_for():
    s = Secrets()
    s.numbers.add(ef.pnr(5).replace("-", ""))
    s.names.add("Provå")
    assert s.leaks(f"x {ef.pnr(5, form='12dash')} y") == ["input number", "personnummer candidate"]
    assert s.leaks(f"{ef.pnr(6, form='12')}") == ["personnummer candidate"]
    assert s.leaks("anteckning om provå i dag") == ["name"]
    assert s.leaks("3f" * 16 + ef.pnr(7, form="12") + "ab" * 8) == []  # digits inside a hex key: no number
    assert s.leaks("Provåsson, 2025-09-01, 12345678") == []
