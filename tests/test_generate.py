"""The synthetic city (skolsam generate): spec validity, determinism, identities, dirt, outcomes.

One small city (200 pupils) is generated once per module; everything here is synthetic.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import yaml

from conftest import ss12000_spec_path
from openapi_schema_validator import OAS30ReadValidator

from skolsam import cli, districts, identity
from skolsam.generate import Config, generate_dataset
from skolsam.generate.schooldays import easter_sunday, month_windows, school_days, stockholm_offset
from skolsam.terms import calendar_by_name, load_calendar

SPEC = ss12000_spec_path()
PUPILS = 200
TERMS = ["HT2025", "VT2026"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city") / "ds"
    generate_dataset(out, pupils=PUPILS, seed=1, terms=TERMS)
    return out


@pytest.fixture(scope="module")
def validators() -> dict[str, OAS30ReadValidator]:
    """Validators for the component schemas, with every $ref resolved (inlined) from the spec as written."""
    with open(SPEC, encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = spec["components"]["schemas"]

    def inline(node, stack: tuple[str, ...]):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/components/schemas/"), ref
                name = ref.rsplit("/", 1)[-1]
                assert name not in stack, f"cyclic schema {name}"
                return inline(schemas[name], stack + (name,))
            return {k: inline(v, stack) for k, v in node.items() if k not in ("example", "description")}
        if isinstance(node, list):
            return [inline(v, stack) for v in node]
        return node

    names = ["Organisation", "Person", "Syllabus", "Grade", "AggregatedAttendance", "Organisations", "Syllabuses"]
    return {
        n: OAS30ReadValidator(inline(schemas[n], (n,)), format_checker=OAS30ReadValidator.FORMAT_CHECKER)
        for n in names
    }


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _persons(ds: Path) -> list[dict]:
    return list(_jsonl(ds / "ss12000" / "persons.jsonl"))


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252"), "cp1252"


def _enrollment_rows(ds: Path):
    """(file name, encoding, normalised header -> value) for every non-blank data row of every list."""
    for path in sorted((ds / "enrollment").glob("*.csv")):
        text, enc = _decode(path.read_bytes())
        first = text.splitlines()[0]
        delim = "," if first.count(",") > first.count(";") else ";"
        rows = list(csv.reader(io.StringIO(text), delimiter=delim))
        header = [h.strip().lower() for h in rows[0]]
        for r in rows[1:]:
            if any(c.strip() for c in r):
                yield path.name, enc, dict(zip(header, r))


def _date(text: str) -> dt.date:
    text = text.strip()
    return dt.date.fromisoformat(text) if "-" in text else dt.datetime.strptime(text, "%Y%m%d").date()


def _participants(ds: Path) -> dict[str, dt.date]:
    """person id -> earliest programme start, for enrolled numbers found in persons.jsonl."""
    by_civic = {p["civicNo"]["value"]: p["id"] for p in _persons(ds)}
    out: dict[str, dt.date] = {}
    for name, _, row in _enrollment_rows(ds):
        if name.startswith("radering"):
            continue
        try:
            ident = identity.parse(row["personnummer"])
        except identity.InvalidIdentity:
            continue
        pid = by_civic.get(ident.normalised)
        if pid:
            start = _date(row["startdatum"])
            out[pid] = min(start, out.get(pid, start))
    return out


# --------------------------------------------------------------------------------------------------
# SS 12000 validity


def test_every_object_validates_against_the_spec(dataset, validators):
    problems = []

    def check(schema: str, obj: dict, where: str) -> None:
        for err in validators[schema].iter_errors(obj):
            # Path and validator only: never the instance (it could hold a civic number).
            problems.append(f"{where}: {list(err.absolute_path)} {err.validator}")

    ss = dataset / "ss12000"
    for file, schema, wrapper in (("organisations.json", "Organisation", "Organisations"),
                                  ("syllabuses.json", "Syllabus", "Syllabuses")):
        doc = json.loads((ss / file).read_text(encoding="utf-8"))
        check(wrapper, doc, file)
        for i, obj in enumerate(doc["data"]):
            check(schema, obj, f"{file}[{i}]")
    counts = collections.Counter()
    for file, schema in (("persons.jsonl", "Person"), ("grades.jsonl", "Grade"),
                         ("aggregatedAttendance.jsonl", "AggregatedAttendance")):
        for i, obj in enumerate(_jsonl(ss / file)):
            check(schema, obj, f"{file}:{i + 1}")
            counts[file] += 1
    assert not problems, problems[:20]
    assert counts["persons.jsonl"] == PUPILS
    assert counts["grades.jsonl"] > PUPILS * 0.4 * 2 * 15      # years 6-9 only: 4 of the 10 school years
    assert counts["aggregatedAttendance.jsonl"] > PUPILS * 2 * 5 * 8


def test_organisations_tree_and_codes(dataset):
    orgs = json.loads((dataset / "ss12000" / "organisations.json").read_text(encoding="utf-8"))["data"]
    by_id = {o["id"]: o for o in orgs}
    heads = [o for o in orgs if o["organisationType"] == "Huvudman"]
    assert [h["displayName"] for h in heads] == ["Stockholms stad"]
    units = [o for o in orgs if o["organisationType"] == "Skolenhet"]
    codes = [u["schoolUnitCode"] for u in units]
    assert len(set(codes)) == len(codes) and all(len(c) == 8 and c.isdigit() for c in codes)
    assert len(units) == max(3, round(PUPILS * 1.3 / 1000))
    for u in units:
        assert u["schoolTypes"] == ["GR"] and u["municipalityCode"] == "0180"
        parent = by_id[u["parentOrganisation"]["id"]]
        assert parent["organisationType"] == "Förvaltning"
        assert parent["displayName"] in districts.CURRENT
        assert by_id[parent["parentOrganisation"]["id"]]["organisationType"] == "Huvudman"


def test_city_scale_unit_count_without_writing():
    # 130 units at 100,000 pupils, förskoleklass to year 9 (DESIGN 7), checked on the organisation step alone.
    import random

    from skolsam.generate.city import _organisations

    _, dists, units, _ = _organisations(random.Random(1), Config(), 1, 100_000)
    assert len(units) == 130 and len(dists) == 11
    assert all(any(0 in u.years for u in units if u.district == d.name) for d in dists)
    assert all(any(9 in u.years for u in units if u.district == d.name) for d in dists)


def test_syllabuses(dataset):
    syl = json.loads((dataset / "ss12000" / "syllabuses.json").read_text(encoding="utf-8"))["data"]
    codes = {s["subjectDesignation"] for s in syl}
    assert {"SV", "SVA", "EN", "MA", "BI", "FY", "KE", "GE", "HI", "RE", "SH", "BL", "HKK", "IDH", "MU",
            "SL", "TK", "M2SPA", "M2TYS", "M2FRA", "MLARA", "MLSOM", "MLPER"} <= codes
    for s in syl:
        assert s["official"] is True and s["schoolType"] == "GR"
        if s["subjectDesignation"].startswith(("M2", "ML")):
            assert len(s["languageCode"]) == 3


# --------------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_bytes_other_seed_differs(dataset, tmp_path):
    again = tmp_path / "again"
    other = tmp_path / "other"
    generate_dataset(again, pupils=PUPILS, seed=1, terms=TERMS)
    generate_dataset(other, pupils=PUPILS, seed=2, terms=TERMS)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    a, b, c = files(dataset), files(again), files(other)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    for name in ("ss12000/persons.jsonl", "ss12000/grades.jsonl", "ss12000/aggregatedAttendance.jsonl"):
        assert a[name] != c[name], name
    assert a["manifest.json"] != c["manifest.json"]


def test_rerun_over_a_dataset_replaces_it_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / "ds"
    first = generate_dataset(out, pupils=60, seed=3)
    second = generate_dataset(out, pupils=40, seed=3)
    listed = {f.path for f in second.files}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == listed
    assert first.counts["persons"] == 60 and second.counts["persons"] == 40
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate_dataset(foreign, pupils=20, seed=1)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_manifest_counts_match_files(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 1 and manifest["pupils"] == PUPILS and manifest["terms"] == TERMS
    assert "version" in manifest
    files = manifest["files"]
    for rel in ("ss12000/persons.jsonl", "ss12000/grades.jsonl", "ss12000/aggregatedAttendance.jsonl",
                "ss12000/deletedEntities.jsonl"):
        lines = (dataset / rel).read_bytes().count(b"\n")
        assert files[rel]["records"] == lines, rel
    assert manifest["counts"]["grades"] == files["ss12000/grades.jsonl"]["records"]
    assert not any(k in json.dumps(manifest) for k in ("generated_at", "timestamp"))


# --------------------------------------------------------------------------------------------------
# persons and identities


def test_civic_numbers_sex_birth_and_school_year(dataset):
    persons = _persons(dataset)
    cal = calendar_by_name(load_calendar())
    units = {e["enroledAt"]["id"] for p in persons for e in p["enrolments"]}
    coordination = 0
    for p in persons:
        ident = identity.parse(p["civicNo"]["value"])
        assert ident.normalised == p["civicNo"]["value"] and p["civicNo"]["nationality"] == "SE"
        assert ident.birth_date.isoformat() == p["birthDate"]
        coordination += ident.coordination
        if p["sex"] != "Okänt":
            assert ident.sex == p["sex"]
        (enrolment,) = p["enrolments"]  # one school year covered by HT2025+VT2026
        assert enrolment["schoolYear"] == 2025 - ident.birth_year - 6
        assert 0 <= enrolment["schoolYear"] <= 9
        assert enrolment["startDate"] == cal["HT2025"].start.isoformat()
        assert enrolment["endDate"] == cal["VT2026"].end.isoformat()
        assert p["securityMarking"] in ("Ingen", "Sekretessmarkering", "Skyddad folkbokföring")
        assert p["meta"]["modified"] >= p["meta"]["created"][:10]
    assert len({p["civicNo"]["value"] for p in persons}) == len(persons)
    assert len({p["id"] for p in persons}) == len(persons)
    assert units  # enrolled somewhere
    years = collections.Counter(p["enrolments"][0]["schoolYear"] for p in persons)
    assert set(years) == set(range(10)) and min(years.values()) == PUPILS // 10


def test_two_school_years_move_pupils_up(tmp_path):
    manifest = generate_dataset(tmp_path / "ds", pupils=40, seed=5, terms=["VT2025", "HT2025"])
    assert manifest.counts["persons"] == 44  # 40 in 2024/25, + a new förskoleklass cohort of 4 in 2025/26
    for p in _jsonl(tmp_path / "ds" / "ss12000" / "persons.jsonl"):
        years = [e["schoolYear"] for e in p["enrolments"]]
        assert years == sorted(years) and all(b - a == 1 for a, b in zip(years, years[1:]))
        assert all(0 <= y <= 9 for y in years)


def test_no_civic_number_in_command_output(tmp_path, capsys):
    assert cli.main(["generate", "--out", str(tmp_path / "ds"), "--pupils", "40", "--seed", "9"]) == 0
    out = capsys.readouterr()
    assert "40 pupils" in out.out
    assert not identity.CANDIDATE.search(out.out + out.err)
    assert cli.main(["generate", "--out", str(tmp_path / "x"), "--terms", "HT1999"]) == 2


# --------------------------------------------------------------------------------------------------
# grades


def test_grades_rules(dataset):
    grades = list(_jsonl(dataset / "ss12000" / "grades.jsonl"))
    persons = {p["id"]: p for p in _persons(dataset)}
    syl = json.loads((dataset / "ss12000" / "syllabuses.json").read_text(encoding="utf-8"))["data"]
    code = {s["id"]: s["subjectDesignation"] for s in syl}
    cal = calendar_by_name(load_calendar())
    groups = collections.defaultdict(list)
    for g in grades:
        assert g["organisation"] == g["schoolUnit"]
        assert g["gradeValue"] in ("A", "B", "C", "D", "E", "F", "-")
        assert g["adaptedStudyPlan"] == "" and g["trial"] is False
        term = cal[f"{g['semester']}{g['year']}"]
        assert 0 < (dt.date.fromisoformat(g["registeredDate"]) - term.end).days < 90
        year = persons[g["student"]["id"]]["enrolments"][0]["schoolYear"]
        assert g["finalGrade"] is (g["semester"] == "VT" and year == 9)
        groups[(g["student"]["id"], g["syllabus"]["id"], g["semester"])].append(g)
    corrections = 0
    for recs in groups.values():
        originals = [g for g in recs if "correctionType" not in g]
        fixes = [g for g in recs if "correctionType" in g]
        assert len(originals) == 1 and len(fixes) <= 1
        for f in fixes:
            corrections += 1
            assert f["correctionType"] in ("Ändring", "Rättelse")
            assert f["registeredDate"] > originals[0]["registeredDate"]
            assert f["meta"]["modified"] > originals[0]["meta"]["modified"]
    assert corrections >= 1
    per_term = collections.Counter((s, sem) for s, _, sem in groups)
    assert 15.5 < sum(per_term.values()) / len(per_term) < 18
    subjects = collections.Counter(code[syl_id] for _, syl_id, _ in groups)
    assert subjects["SVA"] > 0 and subjects["SV"] > subjects["SVA"]
    assert any(c.startswith("M2") for c in subjects)
    values = collections.Counter(g["gradeValue"] for g in grades)
    mid = values["C"] + values["D"]
    assert mid > values["A"] + values["B"] and mid > values["F"] + values["-"]


def test_deleted_grades_are_listed_and_absent(dataset):
    deleted = list(_jsonl(dataset / "ss12000" / "deletedEntities.jsonl"))
    ids = {g["id"] for g in _jsonl(dataset / "ss12000" / "grades.jsonl")}
    for d in deleted:
        assert d["entity"] == "grades" and d["id"] not in ids
        assert dt.datetime.fromisoformat(d["deletedAt"]).tzinfo is not None


# --------------------------------------------------------------------------------------------------
# attendance


def test_attendance_sums_and_windows(dataset):
    cal = calendar_by_name(load_calendar())
    terms = [cal[t] for t in TERMS]
    for a in _jsonl(dataset / "ss12000" / "aggregatedAttendance.jsonl"):
        start, end = dt.date.fromisoformat(a["startDate"]), dt.date.fromisoformat(a["endDate"])
        assert any(t.start <= start <= end <= t.end for t in terms)
        assert start.month == end.month
        assert a["attendanceSum"] + a["validAbsenceSum"] + a["invalidAbsenceSum"] == a["offeredSum"] > 0
        assert min(a["attendanceSum"], a["validAbsenceSum"], a["invalidAbsenceSum"]) >= 0
        assert a["otherAttendanceSum"] == 0 and a["reportedSum"] == a["offeredSum"]


def test_grades_from_year_6_attendance_for_every_year(dataset):
    year = {p["id"]: p["enrolments"][0]["schoolYear"] for p in _persons(dataset)}
    graded = {g["student"]["id"] for g in _jsonl(dataset / "ss12000" / "grades.jsonl")}
    attending = {a["student"]["id"] for a in _jsonl(dataset / "ss12000" / "aggregatedAttendance.jsonl")}
    assert graded and all(year[pid] >= 6 for pid in graded)
    assert attending == set(year)
    assert {year[pid] for pid in attending} == set(range(10))


def test_programmes_take_pupils_from_the_years_they_serve():
    # In memory (nothing written): 5,000 pupils, 250 participants over two school years.
    from skolsam.generate.city import build_city

    cal = calendar_by_name(load_calendar())
    city = build_city(Config(), 4, 5000, [cal["HT2024"], cal["VT2025"], cal["HT2025"]], list(cal.values()))
    seen = collections.defaultdict(set)
    for e in city.enrollments:
        if e.pupil is None:
            continue
        term = next((t for t in city.terms if t.dates.start <= e.start <= t.dates.end), city.terms[0])
        seen[e.programme].add(e.pupil.school_year(term))
    assert seen["PPSS"] <= {6, 7, 8, 9} and seen["SkolFam"] <= set(range(7))
    assert len(seen["KP/KF"]) >= 6 and min(seen["KP/KF"]) < 6 and max(seen["KP/KF"]) >= 6
    assert seen["SkolFam"] >= {0, 3, 6}
    n = collections.Counter(e.programme for e in city.enrollments if e.pupil is not None)
    assert n["PPSS"] > n["SkolFam"] > n["KP/KF"]


def test_participants_have_more_absence_and_some_improve(dataset):
    participants = _participants(dataset)
    assert len(participants) >= PUPILS * 0.04
    offered = collections.Counter()
    absent = collections.Counter()
    for a in _jsonl(dataset / "ss12000" / "aggregatedAttendance.jsonl"):
        key = (a["student"]["id"], a["startDate"][:4] == "2025")
        offered[key] += a["offeredSum"]
        absent[key] += a["validAbsenceSum"] + a["invalidAbsenceSum"]
    rates = {k: absent[k] / offered[k] for k in offered}
    part = [r for (pid, _), r in rates.items() if pid in participants]
    rest = [r for (pid, _), r in rates.items() if pid not in participants]
    part_mean, rest_mean = sum(part) / len(part), sum(rest) / len(rest)
    assert 0.03 < rest_mean < 0.10
    assert part_mean > rest_mean + 0.05


# --------------------------------------------------------------------------------------------------
# enrollment lists


def test_enrollment_lists_are_dirty_but_usable(dataset):
    rows = list(_enrollment_rows(dataset))
    encodings = {enc for _, enc, _ in rows}
    assert {"cp1252", "utf-8-sig", "utf-8"} <= encodings
    names = sorted(p.name for p in (dataset / "enrollment").glob("*.csv"))
    assert any(n.startswith("radering_") for n in names)
    assert any(n.endswith("_avslut.csv") for n in names)
    commas = [n for n in names if (dataset / "enrollment" / n).read_bytes().lstrip(b"\xef\xbb\xbf").startswith(b'"')]
    assert len(commas) == 1
    data = [(n, r) for n, _, r in rows if not n.startswith("radering_")]
    invalid = valid = 0
    programmes = set()
    for _, r in data:
        assert {"personnummer", "insats", "stadsdelsförvaltning", "startdatum"} <= set(r)
        try:
            identity.parse(r["personnummer"])
            valid += 1
        except identity.InvalidIdentity:
            invalid += 1
        programmes.add(r["insats"].replace(" ", "").upper())
    assert invalid >= 3 and valid > invalid * 3
    assert {"PPSS", "SKOLFAM", "KP/KF", "MENTORSPROGRAM"} >= programmes >= {"PPSS", "SKOLFAM", "KP/KF"}
    unknown = {r["stadsdelsförvaltning"] for _, r in data if districts.lookup(r["stadsdelsförvaltning"]) is None}
    assert unknown and unknown <= {"Solna", "Sundbyberg", "Vasastan"}
    assert any(r.get("samtycke", "").strip().lower() == "nej" for _, r in data)
    assert any(r.get("slutdatum") and _date(r["slutdatum"]) < _date(r["startdatum"]) for _, r in data)
    raw = [tuple(r.items()) for _, r in data]
    assert len(raw) > len(set(raw))  # exact duplicates
    assert any(len(r["startdatum"].strip()) == 8 for _, r in data)  # YYYYMMDD
    forms = {len(r["personnummer"].replace("-", "")) for _, r in data}
    assert {10, 12} <= forms
    found = [districts.lookup(r["stadsdelsförvaltning"]) for _, r in data]
    assert any(d is not None and d.valid_to is not None for d in found)  # a pre-merger name
    blobs = [(dataset / "enrollment" / n).read_bytes() for n in names]
    assert any(b"INSATS" in b or b" Personnummer " in b for b in blobs)
    assert any(b.endswith(b"\r\n\r\n") for b in blobs)  # trailing blank lines


def test_every_catalogue_string_fits_windows_1252():
    from skolsam.generate import catalogue as cat
    from skolsam.generate.enrollment import HEADERS

    texts = [n for group in cat.NAMES.values() for names in group for n in names]
    texts += [n for names in cat.SCHOOL_NAMES.values() for n in names]
    texts += [d for d, _, _, hist in cat.DISTRICTS for d in (d, *hist)] + list(cat.COMMENTS)
    texts += [h for header in HEADERS for h in header.values()]
    for text in texts:
        text.encode("cp1252")


def test_closing_list_sets_slutdatum_on_rows_delivered_open(dataset):
    def key(r):
        return (identity.parse(r["personnummer"]).normalised, r["insats"].replace(" ", "").upper(),
                _date(r["startdatum"]))

    open_rows, closed = set(), set()
    for name, _, r in _enrollment_rows(dataset):
        if name.startswith("radering_") or not identity.is_valid(r["personnummer"]):
            continue
        if name.endswith("_avslut.csv"):
            if r["slutdatum"].strip():
                closed.add(key(r))
        elif not r["slutdatum"].strip():
            open_rows.add(key(r))
    assert open_rows & closed


def test_enrollment_match_rate_is_realistic(dataset):
    by_civic = {p["civicNo"]["value"] for p in _persons(dataset)}
    enrolled = set()
    for name, _, r in _enrollment_rows(dataset):
        if name.startswith("radering_"):
            continue
        try:
            enrolled.add(identity.parse(r["personnummer"]).normalised)
        except identity.InvalidIdentity:
            pass
    rate = len(enrolled & by_civic) / len(enrolled)
    assert 0.85 <= rate < 1.0


# --------------------------------------------------------------------------------------------------
# calendar helpers


def test_school_calendar_helpers():
    assert easter_sunday(2026) == dt.date(2026, 4, 5)
    assert easter_sunday(2025) == dt.date(2025, 4, 20)
    assert stockholm_offset(dt.date(2025, 8, 18)) == "+02:00"
    assert stockholm_offset(dt.date(2025, 12, 19)) == "+01:00"
    assert stockholm_offset(dt.date(2026, 3, 29)) == "+02:00"  # last Sunday of March 2026
    cal = calendar_by_name(load_calendar())
    days = sum(school_days(cal[t].start, cal[t].end) for t in TERMS)
    assert 178 <= days <= 190
    windows = month_windows(cal["HT2025"])
    assert windows[0] == (dt.date(2025, 8, 18), dt.date(2025, 8, 31))
    assert windows[-1] == (dt.date(2025, 12, 1), dt.date(2025, 12, 19))


def test_effect_mode_chooses_at_a_bad_term_with_history_and_calibrates():
    # In memory: participants start two or more terms into the history, after a bad term, and stay.
    from skolsam.commands.generate import parse_effects
    from skolsam.generate.city import BAD_TERM_NOISE, build_city, pass_share

    assert parse_effects("PPSS=0.10, SkolFam=0") == {"PPSS": 0.10, "SkolFam": 0.0}
    with pytest.raises(ValueError):
        parse_effects("PPSS")
    cal = calendar_by_name(load_calendar())
    terms = [cal[t] for t in ("HT2023", "VT2024", "HT2024", "VT2025", "HT2025", "VT2026")]
    city = build_city(Config(effects=(("PPSS", 0.10), ("SkolFam", 0.0))), 5, 3000, terms, list(cal.values()))
    enrolled = [e for e in city.enrollments if e.pupil is not None]
    assert enrolled and all(e.end is None for e in enrolled)
    for e in enrolled:
        g = next(t for t in city.terms if t.dates.start <= e.start <= t.dates.end)
        assert g.index >= 2 and e.pupil.term_noise[g.index - 1] >= BAD_TERM_NOISE
    ppss = [e.pupil for e in enrolled if e.programme == "PPSS"]
    gain = sum(pass_share(-0.45 * p.r + 0.85 * p.z_ability + p.boost, p.subjects)
               - pass_share(-0.45 * p.r + 0.85 * p.z_ability, p.subjects) for p in ppss) / len(ppss)
    assert gain == pytest.approx(0.10, abs=1e-6)
    assert {e.pupil.boost for e in enrolled if e.programme == "SkolFam"} == {0.0}
