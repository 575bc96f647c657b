"""skolsam demo --dataset DIR [--warehouse-url URL]"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "Run the whole pipeline through Airflow on a dataset folder and print what it loaded."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, type=Path, help="dataset folder (see skolsam generate)")
    p.add_argument("--warehouse-url", help="PostgreSQL URL; default: the embedded warehouse")
    p.add_argument("--client-id", default="skolsam")
    p.add_argument("--client-secret", default="skolsam")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..summary import print_summary

    result = run_demo(args.dataset, args.warehouse_url, client_id=args.client_id, client_secret=args.client_secret)
    print_summary(result.warehouse_url)
    if result.report_dir:
        reports = sorted(result.report_dir.glob("**/*.html"))
        if reports:
            print(f"\nTermly report: {reports[-1]}")
            if reports[-1].with_suffix(".pdf").exists():
                print(f"  and as PDF: {reports[-1].with_suffix('.pdf')}")
    print("Airflow logs of this run:", ", ".join(str(p) for p in result.logs.values()))
    return 0
