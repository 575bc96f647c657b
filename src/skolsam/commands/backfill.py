"""skolsam backfill --terms HT2024,VT2025 (--base-url URL | --dataset DIR): read named terms again."""

from __future__ import annotations

import argparse

from . import extract

NAME = "backfill"
HELP = ("Read the attendance windows of named terms again (DESIGN 3.1.3), e.g. after the history start moved "
        "back or a school re-registered a term. Running it twice changes nothing. Same options as extract.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    extract.add_arguments(p)
    for action in p._actions:  # the terms are what a backfill is about
        if action.dest == "terms":
            action.required = True
            action.help = "terms to read again, e.g. HT2024,VT2025"


def run(args: argparse.Namespace) -> int:
    args.entities = args.entities or ["aggregatedAttendance"]
    return extract.run(args)
