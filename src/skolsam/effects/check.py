"""``skolsam effects-check``: how the estimator does on cities with a known effect (bias, 95 % coverage).

For each seed: generate a small city with a planted effect (``skolsam generate --effect``), run the real
pipeline on it (stand-in SS 12000 server, extract, enrollment intake, build without the quality gate) in a
database of its own, and read ``mart.programme_effect`` as of the last term (district ``ALL``). The truth
is the planted rise in share passed for ``share_passed`` and 0 for ``absence_rate`` (no effect on absence
is planted); merit value has no known truth and is left out. Figures, not assertions: this is a benchmark.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

OUTCOMES_WITH_TRUTH = ("share_passed", "absence_rate")


def _fresh_database(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    from ..warehouse import connection

    with connection.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def pipeline(dataset: Path, url: str, workdir: Path) -> str:
    """Extract, ingest and build one generated dataset into a warehouse (quietly); returns its last term."""
    import datetime as dt

    from .. import cli
    from ..generate.output import Manifest
    from ..settings import Settings
    from ..terms import calendar_by_name, load_calendar
    from ..warehouse import build, migrate

    manifest = Manifest.load(dataset / "manifest.json")
    migrate.migrate(url)
    landing = workdir / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.copytree(dataset / "enrollment", landing)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = cli.main(["extract", "--dataset", str(dataset), "--full-refresh", "--terms", ",".join(manifest.terms),
                       "--warehouse-url", url, "--json"])
        if rc != 0:
            raise RuntimeError(f"extract failed:\n{out.getvalue()[-2000:]}")
        rc = cli.main(["ingest", "--landing", str(landing), "--warehouse-url", url, "--json"])
        if rc != 0:
            raise RuntimeError(f"ingest failed:\n{out.getvalue()[-2000:]}")
    last = calendar_by_name(load_calendar())[manifest.terms[-1]]
    build.build_warehouse(url, Settings(), as_of=last.end + dt.timedelta(days=1))
    return manifest.terms[-1]


def run_check(seeds: int = 20, pupils: int = 3000, effects: dict[str, float] | None = None,
              warehouse_url: str | None = None, first_seed: int = 1,
              log: Callable[[str], None] = print) -> dict:
    """Bias and coverage over ``seeds`` cities; returns {"rows": [...], "seeds": n, ...} (JSON-ready)."""
    from ..generate import Config, generate_dataset
    from ..warehouse import connection
    from .estimator import HIGHER_IS_BETTER

    effects = effects or {"PPSS": 0.10, "SkolFam": 0.0, "KP/KF": 0.0}
    admin = connection.resolve_url(warehouse_url)
    found: dict[tuple, list[dict]] = defaultdict(list)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="skolsam-effects-") as tmp:
        work = Path(tmp)
        for seed in range(first_seed, first_seed + seeds):
            t0 = time.perf_counter()
            dataset = work / f"city-{seed}"
            generate_dataset(dataset, pupils=pupils, seed=seed, effects=effects,
                             config=Config(participant_share=0.10))
            url = _fresh_database(admin, "skolsam_effects_check")
            last = pipeline(dataset, url, work)
            with connection.connect(url) as conn:
                rows = conn.execute(
                    """SELECT programme, outcome, event_term, estimator, estimate, ci_low, ci_high, suppressed,
                              n_participants
                         FROM mart.programme_effect WHERE district = 'ALL' AND term = %s""", (last,)).fetchall()
            for prog, outcome, e, est, value, low, high, suppressed, n in rows:
                if outcome in OUTCOMES_WITH_TRUTH:
                    found[(prog, outcome, e, est)].append(
                        {"estimate": value, "low": low, "high": high, "suppressed": suppressed, "n": n})
            shutil.rmtree(dataset, ignore_errors=True)
            log(f"seed {seed}: {time.perf_counter() - t0:.0f} s")
        with connection.connect(admin, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "skolsam_effects_check" WITH (FORCE)')
    out = []
    for (prog, outcome, e, est), results in sorted(found.items()):
        truth = (effects.get(prog, 0.0) if prog != "ALL" else None) if outcome == "share_passed" else 0.0
        shown = [r for r in results if not r["suppressed"]]
        row = {"programme": prog, "outcome": outcome, "event_term": e, "estimator": est, "truth": truth,
               "seeds": len(results), "shown": len(shown)}
        if shown and truth is not None:
            row["bias"] = sum(r["estimate"] for r in shown) / len(shown) - truth
            row["coverage"] = sum(r["low"] <= truth <= r["high"] for r in shown) / len(shown)
            good = HIGHER_IS_BETTER[outcome]
            row["excludes_zero"] = sum((r["low"] > 0) if good else (r["high"] < 0) for r in shown) / len(shown)
            row["mean_participants"] = sum(r["n"] for r in shown) / len(shown)
        out.append(row)
    return {"seeds": seeds, "pupils": pupils, "effects": effects, "rows": out,
            "seconds": round(time.perf_counter() - began, 1)}


def format_table(result: dict) -> str:
    lines = [f"{result['seeds']} seeds, {result['pupils']} pupils, planted "
             + ", ".join(f"{k} {v:+.2f}" for k, v in sorted(result["effects"].items()))
             + " (share passed); truth for absence 0",
             f"{'programme':9} {'outcome':13} {'e':>1} {'estimator':13} {'truth':>6} {'shown':>5} {'bias':>7} "
             f"{'coverage':>8} {'excl. 0':>7} {'n':>5}"]
    for r in result["rows"]:
        if "bias" not in r:
            continue
        lines.append(f"{r['programme']:9} {r['outcome']:13} {r['event_term']:>1} {r['estimator']:13} "
                     f"{r['truth']:>6.2f} {r['shown']:>5} {r['bias']:>+7.3f} {r['coverage']:>8.2f} "
                     f"{r['excludes_zero']:>7.2f} {r['mean_participants']:>5.0f}")
    return "\n".join(lines)
