"""``skolsam bench --growth``: the bench at several sizes (default 25,000 to 200,000 pupils), seconds per
pupil per stage, and the ratio largest/smallest size (DESIGN 7: within 1.15 for linear growth). The
pipeline only (extract to grants, not the report); sizes run in the order given and are tabled by size,
so ``--sizes 25000,200000,50000,...`` has the ratio first if the run is cut short.

Writes ``growth.json`` (every run's full result) and ``growth.png`` (seconds per pupil against pupils, the
pipeline and its main stages) into ``out_dir``. Each size's dataset is generated (or reused) and its
database dropped after the run; a dataset generated for the growth run is removed with its index after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .pipeline import remove_with_index, run_bench
from .stages import PIPELINE

SIZES = (25_000, 50_000, 100_000, 150_000, 200_000)
# The lines of the plot and the columns of the table: the pipeline and its stages.
SHOWN = ("total", "extract", "ingest", "staging_gate", "match_rate", "prepare", "mart_gate", "publish", "grants")


def per_pupil(result: dict) -> dict[str, float]:
    """Microseconds per pupil of the pipeline and each of its stages."""
    pupils = result["pupils"]
    out = {"total": result["total_seconds"] / pupils * 1e6}
    for name, stage in result["stages"].items():
        if not stage.get("setup"):
            out[name] = stage["seconds"] / pupils * 1e6
    return {k: round(v, 1) for k, v in out.items()}


def growth_table(results: list[dict]) -> dict:
    """{"sizes", "us_per_pupil": {stage: [..per size..]}, "ratio_largest_smallest": {stage: r},
    "ratios": {size: {total_vs_copy, load_vs_copy, extract_vs_copy}}, "peak_rss_mb": [..]}."""
    results = sorted(results, key=lambda r: r["pupils"])  # run in any order (largest and smallest first)
    sizes = [r["pupils"] for r in results]
    rows = [per_pupil(r) for r in results]
    names = [n for n in SHOWN if all(n in row for row in rows)]
    table = {n: [row[n] for row in rows] for n in names}
    return {
        "sizes": sizes,
        "us_per_pupil": table,
        "ratio_largest_smallest": {n: round(v[-1] / v[0], 3) if v[0] else None for n, v in table.items()},
        "ratios": {str(r["pupils"]): {k: r.get(k) for k in ("total_vs_copy", "load_vs_copy", "extract_vs_copy")}
                   for r in results},
        "copy_us_per_pupil": [round(r["copy_seconds"] / r["pupils"] * 1e6, 1) for r in results],
        "peak_rss_mb": [r["peak_rss_mb"] for r in results],
        "load_average": [r["machine"]["load_average"] for r in results],
    }


def format_table(growth: dict) -> str:
    sizes = growth["sizes"]
    head = f"{'µs per pupil':<14}" + "".join(f"{s:>10,}" for s in sizes) + f"{'ratio':>8}"
    lines = [head, "-" * len(head)]
    for name, values in growth["us_per_pupil"].items():
        ratio = growth["ratio_largest_smallest"][name]
        lines.append(f"{name:<14}" + "".join(f"{v:>10.1f}" for v in values) + f"{ratio:>8.2f}")
    lines.append(f"{'COPY baseline':<14}" + "".join(f"{v:>10.1f}" for v in growth["copy_us_per_pupil"]))
    lines.append(f"{'peak RSS MB':<14}" + "".join(f"{v:>10.0f}" for v in growth["peak_rss_mb"]))
    return "\n".join(lines)


def plot(growth: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    sizes = growth["sizes"]
    for name, values in growth["us_per_pupil"].items():
        if name in ("total", "extract", "staging_gate", "prepare", "mart_gate"):
            ax.plot(sizes, values, marker="o", linewidth=2.5 if name == "total" else 1.2, label=name)
    ax.plot(sizes, growth["copy_us_per_pupil"], linestyle="--", color="grey", label="plain COPY (baseline)")
    ax.set_xlabel("pupils (förskoleklass to year 9)")
    ax.set_ylabel("µs per pupil")
    ax.set_ylim(bottom=0)
    ax.set_title("skolsam bench: seconds per pupil against size (flat = linear)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run_growth(sizes: Sequence[int] = SIZES, *, out_dir: Path, log=print, keep_datasets: bool = False,
               **bench) -> dict:
    """Each size in turn; a dataset this run generated is removed with its index afterwards (unless
    ``keep_datasets``): five cities and their indexes would not fit beside each other on a small disk."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        log(f"== growth: {size:,} pupils")
        results.append(run_bench(size, keep_database=False, log=log, **{"stages": PIPELINE, **bench}))
        if results[-1]["generate_seconds"] is not None and not keep_datasets:
            remove_with_index(Path(results[-1]["dataset"]))
        # Written after every size, so a run stopped half-way keeps what it measured.
        (out_dir / "growth.json").write_text(json.dumps({"runs": results}, indent=2, default=str))
    growth = growth_table(results)
    (out_dir / "growth.json").write_text(json.dumps({"growth": growth, "runs": results}, indent=2, default=str))
    plot(growth, out_dir / "growth.png")
    log(format_table(growth))
    return {"growth": growth, "runs": results, "json": str(out_dir / "growth.json"),
            "plot": str(out_dir / "growth.png")}
