"""skolsam generate --out DIR [--pupils N] [--seed S] [--terms HT2025,VT2026] [--effect PPSS=0.10,SkolFam=0]
[--sources N [--one-system]]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

NAME = "generate"
HELP = "Generate a synthetic city (SS 12000 files and enrollment lists) into a dataset folder."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="dataset folder (created; an earlier dataset is replaced)")
    p.add_argument("--pupils", type=int, default=10000,
                   help="pupils in förskoleklass to year 9 in the first school year (default 10000)")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same files")
    p.add_argument(
        "--terms",
        default=None,
        help="comma-separated terms from the term calendar (default HT2025,VT2026; with --effect "
             "HT2023 to VT2026)",
    )
    p.add_argument(
        "--effect",
        default=None,
        help="plant a known programme effect, e.g. PPSS=0.10,SkolFam=0: the rise in the share of subjects "
             "passed while enrolled; participants are chosen at a bad term (for skolsam effects-check)",
    )
    p.add_argument("--sources", type=int, default=1,
                   help="school systems: 1 (default) the city's own; N > 1 adds N-1 independent operators, each "
                        "in DIR/sources/<id>/ss12000/, with pupils who move between them mid-year")
    p.add_argument("--one-system", action="store_true",
                   help="with --sources N: write that same city (operators, movers) as one system in DIR/ss12000/")


def parse_effects(text: str | None) -> dict[str, float] | None:
    """"PPSS=0.10,SkolFam=0" -> {"PPSS": 0.1, "SkolFam": 0.0}; None or "" -> None."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--effect wants PROGRAMME=RISE pairs, got {part!r}")
        out[name.strip()] = float(value)
    return out


def run(args: argparse.Namespace) -> int:
    from ..generate import generate_dataset

    terms = [t.strip() for t in args.terms.split(",") if t.strip()] if args.terms else None
    began = time.perf_counter()
    try:
        manifest = generate_dataset(args.out, pupils=args.pupils, seed=args.seed, terms=terms,
                                    effects=parse_effects(args.effect), sources=args.sources,
                                    one_system=args.one_system)
    except (ValueError, FileExistsError) as exc:
        print(f"skolsam generate: {exc}")
        return 2
    seconds = time.perf_counter() - began
    c = manifest.counts
    print(f"dataset written to {args.out} in {seconds:.1f} s (seed {manifest.seed}, terms {', '.join(manifest.terms)})")
    print(
        f"  {c['school_units']} school units, {c['persons']} pupils, {c['grades']} grades "
        f"({c['grade_corrections']} corrections, {c['deleted_grades']} deleted), "
        f"{c['aggregated_attendance']} attendance records"
    )
    print(
        f"  {c['participants']} participants, {c['enrollments']} enrollments "
        f"({c['enrollments_outside_city']} outside the city's schools) in {c['enrollment_files']} lists, "
        f"{c['erasure_requests']} erasure request(s)"
    )
    if c.get("school_systems"):
        where = ", ".join(manifest.sources) if manifest.sources else "one system (--one-system)"
        print(f"  {c['school_systems']} school systems ({where}): {c['independent_school_units']} independent "
              f"school units, {c['movers']} pupils moved mid-year, {c['person_records']} person records")
    if manifest.planted_effect:
        planted = ", ".join(f"{k} {v:+.2f}" for k, v in sorted(manifest.planted_effect.items()))
        print(f"  planted effect on the share of subjects passed while enrolled: {planted}")
    return 0
