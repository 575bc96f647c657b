"""skolsam rotate-key: re-key the warehouse from the current pseudonym key to a new one (skolsam.rotation)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

NAME = "rotate-key"
HELP = ("Re-key staging, core, the marts and the audit trail from the current pseudonym key to a new one, in "
        "one transaction. The new key is read from an environment variable (never the command line); the "
        "raw numbers come from the SS 12000 persons (--dataset or --base-url) and the landing folder's lists.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-key-env", default="SKOLSAM_NEW_PSEUDONYM_KEY", metavar="VAR",
                   help="environment variable holding the new key (default: SKOLSAM_NEW_PSEUDONYM_KEY)")
    p.add_argument("--new-mart-key-env", metavar="VAR",
                   help="environment variable holding a new mart (per-term) key, to rotate that one too")
    p.add_argument("--dataset", type=Path, action="append", default=[],
                   help="dataset folder whose SS 12000 persons give the numbers (repeatable)")
    p.add_argument("--base-url", action="append", default=[],
                   help="SS 12000 base URL incl. /v2.0 to read /persons from (repeatable; client id and secret "
                        "from SKOLSAM_SS12000_CLIENT_ID / SKOLSAM_SS12000_CLIENT_SECRET)")
    p.add_argument("--landing", help="landing folder whose lists (waiting, archive/, rejected/) give numbers "
                                     "(default: setting enrollment_landing)")
    p.add_argument("--drop-unmapped", action="store_true",
                   help="delete rows no source yields a number for, instead of refusing")
    p.add_argument("--dry-run", action="store_true", help="do everything, then roll back")
    p.add_argument("--warehouse-url", help="PostgreSQL URL (default: SKOLSAM_WAREHOUSE_URL or the embedded one)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from .. import pseudonym, rotation
    from ..enrollment.intake import landing_location
    from ..settings import Settings, project_home
    from ..warehouse import connection

    new_raw = os.environ.get(args.new_key_env)
    if not new_raw:
        print(f"set the new key in ${args.new_key_env} (openssl rand -hex 32)", file=sys.stderr)
        return 2
    try:
        old, new = pseudonym.default(), pseudonym.Pseudonymiser(new_raw)
        old_mart = pseudonym.default_mart()
        new_mart = None
        if args.new_mart_key_env:
            if not os.environ.get(args.new_mart_key_env):
                print(f"${args.new_mart_key_env} is empty", file=sys.stderr)
                return 2
            new_mart = pseudonym.TermPseudonymiser(os.environ[args.new_mart_key_env])
    except pseudonym.WeakKey as exc:
        print(str(exc), file=sys.stderr)
        return 2

    persons = []
    for ds in args.dataset:
        persons.append(rotation.persons_from_dataset(ds))
    if args.base_url:
        from ..ss12000.extract import ApiConfig

        secret = os.environ.get("SKOLSAM_SS12000_CLIENT_SECRET")
        if not secret:
            print("SKOLSAM_SS12000_CLIENT_SECRET is needed to read /persons", file=sys.stderr)
            return 2
        for base in args.base_url:
            api = ApiConfig(base, base.rstrip("/") + "/token", os.environ.get("SKOLSAM_SS12000_CLIENT_ID", "skolsam"),
                            secret, Settings.load().ss12000_page_size)
            persons.append(rotation.persons_from_api(api))
    landing = args.landing or landing_location(Settings.load())
    key_map = rotation.build_map(old, new, persons=(p for source in persons for p in source),
                                 numbers=rotation.numbers_from_landing(landing))
    url = connection.resolve_url(args.warehouse_url)
    try:
        report = rotation.rotate(url, old, new, key_map, old_mart=old_mart, new_mart=new_mart,
                                 drop_unmapped=args.drop_unmapped, dry_run=args.dry_run)
    except rotation.RotationError as exc:
        print(f"rotation refused, nothing changed: {exc}", file=sys.stderr)
        return 1
    key_file = project_home() / "secrets" / pseudonym.KEY_FILE
    if not args.dry_run and not os.environ.get(pseudonym.KEY_ENV) and key_file.exists():
        # The local (demo) key file held the old key: it now holds the new one.
        tmp = key_file.with_suffix(".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_raw.strip())
        os.replace(tmp, key_file)
        report["key_file"] = "replaced"
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"re-keyed {report['mapped_keys']} pupils: {sum(report['rewritten'].values())} values rewritten, "
              f"{sum(report['dropped'].values())} rows dropped{' (dry run, rolled back)' if args.dry_run else ''}")
        if not args.dry_run and "key_file" not in report:
            print("now put the new key in Connection skolsam_pseudonym (or SKOLSAM_PSEUDONYM_KEY) before the DAGs "
                  "run again, and destroy the old key")
    return 0
