"""skolsam generate --out DIR [--pupils N] [--seed S] [--terms HT2025,VT2026]"""

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
        default="HT2025,VT2026",
        help="comma-separated terms from the term calendar (default HT2025,VT2026)",
    )


def run(args: argparse.Namespace) -> int:
    from ..generate import generate_dataset

    terms = [t.strip() for t in args.terms.split(",") if t.strip()]
    began = time.perf_counter()
    try:
        manifest = generate_dataset(args.out, pupils=args.pupils, seed=args.seed, terms=terms)
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
    return 0
