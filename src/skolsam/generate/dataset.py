"""generate_dataset: the synthetic city written to a dataset folder (format in the package docstring)."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

from ..settings import Settings
from ..terms import TermDates, calendar_by_name, load_calendar, parse_term
from . import enrollment, ss12000
from .city import build_city
from .config import Config
from .output import Manifest
from .systems import outputs, split_city

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0"
SS12000_FILES = (
    "organisations.json", "persons.jsonl", "syllabuses.json", "grades.jsonl",
    "aggregatedAttendance.jsonl", "deletedEntities.jsonl",
)
DEFAULT_TERMS = ("HT2025", "VT2026")
# Effect mode (a planted effect) needs history: start terms with a g−2 baseline and event terms after.
EFFECT_TERMS = ("HT2023", "VT2024", "HT2024", "VT2025", "HT2025", "VT2026")
# Names this generator gives enrollment files (an interrupted run leaves them without a manifest).
_OURS = re.compile(r"^(?:(?:ppss|skolfam|kpkf)_[a-z-]+_\d{4}-\d{2}(?:_avslut)?|radering_\d{4}-\d{2}-\d{2})\.csv$")


def resolve_terms(terms: list[str] | tuple[str, ...], calendar: list[TermDates]) -> list[TermDates]:
    by_name = calendar_by_name(calendar)
    out = []
    for name in terms:
        t = parse_term(name)
        if t.name not in by_name:
            raise ValueError(f"term {t.name} is not in the term calendar")
        if by_name[t.name] not in out:
            out.append(by_name[t.name])
    if not out:
        raise ValueError("no terms given")
    out.sort(key=lambda td: td.term.order)
    return out


def _clear_previous(out: Path) -> None:
    """Remove what an earlier run wrote here; refuse to touch a folder that is not a dataset."""
    manifest = out / "manifest.json"
    if not out.exists():
        return
    entries = [p for p in out.iterdir()]
    if not entries:
        return
    if not manifest.exists():
        ours = {"ss12000", "sources", "enrollment", "manifest.json.tmp"}
        if any(p.name not in ours for p in entries):
            raise FileExistsError(f"{out} is not empty and holds no dataset manifest; choose an empty folder")
        listed: set[str] = set()
    else:
        listed = {f.path for f in Manifest.load(manifest).files}
    enr = out / enrollment.DIR
    if enr.is_dir():
        strangers = sorted(
            p.name for p in enr.iterdir()
            if f"{enrollment.DIR}/{p.name}" not in listed and not _OURS.match(p.name)
        )
        if strangers:
            raise FileExistsError(
                f"{enr} holds files this generator did not write ({len(strangers)}); move them away first"
            )
        for p in enr.iterdir():
            p.unlink()
    folders = [out / ss12000.DIR]
    if (out / "sources").is_dir():
        folders += [d / ss12000.DIR for d in (out / "sources").iterdir()]
    for folder in folders:
        for name in SS12000_FILES:
            p = folder / name
            if p.exists():
                p.unlink()
        if folder.parent.parent == out / "sources" and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            if not any(folder.parent.iterdir()):
                folder.parent.rmdir()
    if (out / "sources").is_dir() and not any((out / "sources").iterdir()):
        (out / "sources").rmdir()
    if manifest.exists():
        manifest.unlink()


def generate_dataset(
    out: Path,
    pupils: int = 10000,
    seed: int = 1,
    terms: list[str] | tuple[str, ...] | None = None,
    *,
    config: Config | None = None,
    effects: dict[str, float] | None = None,
    calendar: list[TermDates] | None = None,
    sources: int = 1,
    one_system: bool = False,
) -> Manifest:
    """Write a synthetic city of ``pupils`` pupils (förskoleklass to year 9, in the first school year) to ``out``.

    Deterministic: the same arguments (and term calendar) give byte-identical files. A folder holding an
    earlier dataset is overwritten; a non-empty folder that is not a dataset is refused.

    ``effects`` (programme -> rise in share passed, e.g. ``{"PPSS": 0.10, "SkolFam": 0}``) switches to effect
    mode (see ``Config.effects``); its default terms are ``EFFECT_TERMS``, otherwise ``DEFAULT_TERMS``.

    ``sources`` > 1 splits the city into school systems (skolsam.generate.systems): the city's own
    (``stockholm``) and ``sources - 1`` independent operators, each in ``out/sources/<id>/ss12000/``, with
    pupils who move between them mid-year. ``one_system`` writes that same city as one system in
    ``out/ss12000/`` (the control a multi-source run is compared with). The manifest lists the source ids
    under ``sources`` (``Manifest.source_dirs`` maps them to their folders).
    """
    if pupils < 1:
        raise ValueError("pupils must be at least 1")
    if sources < 1:
        raise ValueError("sources must be at least 1")
    cfg = config or Config()
    if effects:
        unknown = sorted(set(effects) - {p for p, _ in cfg.programme_shares})
        if unknown:
            raise ValueError(f"unknown programme in --effect: {', '.join(unknown)}")
        cfg = dataclasses.replace(cfg, effects=tuple(sorted((k, float(v)) for k, v in effects.items())))
    if terms is None:
        terms = EFFECT_TERMS if cfg.effects else DEFAULT_TERMS
    out = Path(out)
    if calendar is None:
        calendar = load_calendar(Settings.load().term_calendar or None)
    term_dates = resolve_terms(list(terms), calendar)
    city = build_city(cfg, seed, pupils, term_dates, calendar)
    split_city(city, cfg, sources)  # before anything is written: it refuses more systems than units
    outs = outputs(sources, one_system)
    _clear_previous(out)
    for o in outs:
        (out / o.dir).mkdir(parents=True, exist_ok=True)
    (out / enrollment.DIR).mkdir(parents=True, exist_ok=True)

    files = []
    for o in outs:
        files += [ss12000.write_organisations(out, city, o), ss12000.write_syllabuses(out, city, o)]
    syllabus_entry = files[1]
    files.extend(ss12000.write_persons(out, city, outs))
    log.info("generate: %d school units, %d pupils written", len(city.units), len(city.pupils))
    more, counters = ss12000.write_grades_and_attendance(out, city, cfg, outs)
    files.extend(more)
    log.info("generate: %d grades, %d attendance records written", counters.grades, counters.attendance)
    csv_files, csv_stats = enrollment.write_files(out, city)
    files.extend(csv_files)

    manifest = Manifest(seed=seed, pupils=pupils, terms=[t.name for t in term_dates], version=GENERATOR_VERSION,
                        planted_effect=dict(cfg.effects),
                        sources=[o.source_id for o in outs] if len(outs) > 1 else [])
    participants = [p for p in city.pupils if p.participant]
    manifest.counts = {
        "organisations": 1 + len(city.districts) + len(city.operators) + len(city.units),
        "school_units": len(city.units),
        "districts": len(city.districts),
        "persons": len(city.pupils),
        "protected_persons": sum(1 for p in city.pupils if p.marking != "Ingen"),
        "syllabuses": syllabus_entry.records,
        "grades": counters.grades,
        "grade_corrections": counters.corrections,
        "deleted_grades": counters.deleted,
        "aggregated_attendance": counters.attendance,
        "participants": len(participants),
        "enrollments": len(city.enrollments),
        "enrollments_outside_city": sum(1 for e in city.enrollments if e.pupil is None),
        "consent_refused": len({e.civic for e in city.enrollments if e.consent_no}),
        "enrollment_files": csv_stats["files"],
        "enrollment_rows": csv_stats["rows"],
        "enrollment_invalid_numbers": csv_stats["invalid_numbers"],
        "erasure_requests": csv_stats["erasure_requests"],
    }
    if sources > 1:
        manifest.counts.update({
            "school_systems": sources,
            "independent_school_units": sum(1 for u in city.units if u.system),
            "movers": city.movers,
            # person records over every folder: a pupil has one in each system he was enrolled in
            "person_records": sum(f.records for f in files if f.path.endswith("/persons.jsonl")),
        })
    manifest.files = sorted(files, key=lambda f: f.path)
    tmp = out / "manifest.json.tmp"
    tmp.write_bytes(manifest.to_json())
    os.replace(tmp, out / "manifest.json")
    return manifest
