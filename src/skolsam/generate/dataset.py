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
        ours = {"ss12000", "enrollment", "manifest.json.tmp"}
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
    for name in SS12000_FILES:
        p = out / ss12000.DIR / name
        if p.exists():
            p.unlink()
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
) -> Manifest:
    """Write a synthetic city of ``pupils`` pupils (förskoleklass to year 9, in the first school year) to ``out``.

    Deterministic: the same arguments (and term calendar) give byte-identical files. A folder holding an
    earlier dataset is overwritten; a non-empty folder that is not a dataset is refused.

    ``effects`` (programme -> rise in share passed, e.g. ``{"PPSS": 0.10, "SkolFam": 0}``) switches to effect
    mode (see ``Config.effects``); its default terms are ``EFFECT_TERMS``, otherwise ``DEFAULT_TERMS``.
    """
    if pupils < 1:
        raise ValueError("pupils must be at least 1")
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
    _clear_previous(out)
    (out / ss12000.DIR).mkdir(parents=True, exist_ok=True)
    (out / enrollment.DIR).mkdir(parents=True, exist_ok=True)

    city = build_city(cfg, seed, pupils, term_dates, calendar)
    files = [ss12000.write_organisations(out, city), ss12000.write_syllabuses(out, city)]
    files.append(ss12000.write_persons(out, city))
    log.info("generate: %d school units, %d pupils written", len(city.units), len(city.pupils))
    more, counters = ss12000.write_grades_and_attendance(out, city, cfg)
    files.extend(more)
    log.info("generate: %d grades, %d attendance records written", counters.grades, counters.attendance)
    csv_files, csv_stats = enrollment.write_files(out, city)
    files.extend(csv_files)

    manifest = Manifest(seed=seed, pupils=pupils, terms=[t.name for t in term_dates], version=GENERATOR_VERSION,
                        planted_effect=dict(cfg.effects))
    participants = [p for p in city.pupils if p.participant]
    manifest.counts = {
        "organisations": 1 + len(city.districts) + len(city.units),
        "school_units": len(city.units),
        "districts": len(city.districts),
        "persons": len(city.pupils),
        "protected_persons": sum(1 for p in city.pupils if p.marking != "Ingen"),
        "syllabuses": files[1].records,
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
    manifest.files = sorted(files, key=lambda f: f.path)
    tmp = out / "manifest.json.tmp"
    tmp.write_bytes(manifest.to_json())
    os.replace(tmp, out / "manifest.json")
    return manifest
