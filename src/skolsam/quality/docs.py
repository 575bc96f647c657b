"""Data Docs: the static HTML site operators open, ``$SKOLSAM_HOME/data_docs/index.html`` by default.

Great Expectations renders it from two stores. The gate runs in an ephemeral (in-memory) context, so the
site's sources are made to outlive one run:

* validation results: a file store inside the site folder (``.validation_results/``), written by the gate
  with already sanitised results only (never GX's raw result), the newest ``KEEP_VALIDATIONS`` per suite
  and table kept; GX drops the pages of pruned results when it rebuilds;
* suites: every suite is added to the context on every run, so each keeps its page.

GX's index lists validations through JavaScript loaded from public CDNs, which a machine without internet
(or a privacy-minded browser) does not load. ``write_overview`` therefore puts a plain, script-free list of
the latest validations, linking to their pages (which render without the CDN), at the top of index.html.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

from ..settings import project_home
from . import privacy

log = logging.getLogger(__name__)

SITE_NAME = "skolsam"
RESULTS_STORE = "skolsam_validation_results"
RESULTS_FOLDER = ".validation_results"
KEEP_VALIDATIONS = 20          # per suite and table
OVERVIEW_ROWS = 60
_OVERVIEW_MARK = "<!-- skolsam-overview -->"
_MARKS_MARK = "<!-- skolsam-status-marks -->"
# Validation pages show pass/fail as icons of a web font from a CDN. Offline, these words stand in; placed
# before the page's own stylesheets and no more specific than the font's rules, so the icons win online.
_STATUS_MARKS = _MARKS_MARK + """
<style>
.fa-check-circle::before { content: "\\2713  passed"; color: #155724; }
.fa-times::before { content: "\\2717  FAILED"; color: #721c24; font-weight: bold; }
</style>"""


def default_dir() -> Path:
    return project_home() / "data_docs"


def configure(context, docs_dir: Path) -> None:
    """Add the persistent results store and the site to an (ephemeral) GX context."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_store(RESULTS_STORE, {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(docs_dir / RESULTS_FOLDER)},
    })
    context.add_data_docs_site(SITE_NAME, {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "site_section_builders": {
            "validations": {"source_store_name": RESULTS_STORE},
            "profiling": "None",
        },
    })


def store_result(context, key, result) -> None:
    context.stores[RESULTS_STORE].set(key, result)


def page_path(key) -> str:
    """The site-relative path of a validation result's page."""
    return "validations/" + "/".join(str(p) for p in key.to_tuple()) + ".html"


def prune(docs_dir: Path, keep: int = KEEP_VALIDATIONS) -> int:
    """Remove stored results beyond the newest ``keep`` per suite and table. Returns how many went."""
    root = docs_dir / RESULTS_FOLDER
    if not root.is_dir():
        return 0
    groups: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    # layout: <suite>/<run_name>/<run_time>/<batch_identifier>.json
    for path in root.glob("*/*/*/*.json"):
        suite, _run_name, run_time = path.parts[-4:-1]
        groups.setdefault((suite, path.stem), []).append((run_time, path))
    removed = 0
    for entries in groups.values():
        entries.sort(reverse=True)
        for _, path in entries[keep:]:
            run_dir = path.parent
            path.unlink()
            removed += 1
            for folder in (run_dir, run_dir.parent):
                try:
                    folder.rmdir()
                except OSError:
                    break
    return removed


@dataclass(frozen=True)
class OverviewRow:
    run_time: str
    suite: str
    table: str
    gate_id: str
    evaluated: int
    failed_critical: list[str]    # check names
    failed_warning: list[str]
    page: str


def _overview_rows(context) -> list[OverviewRow]:
    store = context.stores[RESULTS_STORE]
    rows = []
    for key in store.list_keys():
        try:
            result = store.get(key)
        except Exception:  # a half-written or foreign file: leave it out of the overview
            continue
        spec = (result.meta or {}).get("batch_spec") or {}
        failed: dict[str, list[str]] = {"critical": [], "warning": []}
        for r in result.results:
            if not r.success:
                meta = r.expectation_config.meta or {}
                failed.setdefault(meta.get("severity") or "critical", []).append(
                    str(meta.get("check") or r.expectation_config.type))
        rows.append(OverviewRow(
            run_time=key.run_id.run_time.strftime("%Y-%m-%d %H:%M:%S UTC") if key.run_id.run_time else "",
            suite=result.suite_name,
            table=f"{spec.get('schema_name', '')}.{spec.get('table_name', '')}".strip("."),
            gate_id=key.run_id.run_name or "",
            evaluated=len(result.results),
            failed_critical=failed.get("critical", []),
            failed_warning=failed.get("warning", []),
            page=page_path(key),
        ))
    rows.sort(key=lambda r: r.run_time)                 # within a gate run: the order validated
    rows.sort(key=lambda r: r.gate_id, reverse=True)    # newest gate run first (gate ids sort by time)
    return rows[:OVERVIEW_ROWS]


def write_overview(index: Path, rows: list[OverviewRow]) -> None:
    """Put a script-free table of the latest validations at the top of index.html."""
    text = index.read_text(encoding="utf-8")
    if _OVERVIEW_MARK in text:
        return
    lines = [
        _OVERVIEW_MARK,
        '<section id="skolsam-overview" style="font-family: sans-serif; margin: 16px 40px;">',
        "<h2>skolsam quality gate: latest validations</h2>",
        "<p>Critical failures stop the pipeline; warnings are recorded. "
        "The same results are in <code>audit.dq_result</code> (<code>skolsam dq --latest</code>).</p>",
        '<table border="1" cellpadding="4" style="border-collapse: collapse;">',
        "<tr><th>checked</th><th>suite</th><th>table</th><th>status</th><th>checks</th><th>gate run</th></tr>",
    ]
    for r in rows:
        if r.failed_critical:
            status, colour = "FAILED (critical: " + ", ".join(r.failed_critical) + ")", "#f8d7da"
            if r.failed_warning:
                status += " (warning: " + ", ".join(r.failed_warning) + ")"
        elif r.failed_warning:
            status, colour = "passed with warnings (" + ", ".join(r.failed_warning) + ")", "#fff3cd"
        else:
            status, colour = "passed", "#d4edda"
        suite_page = f"expectations/{r.suite}.html"
        lines.append(
            f'<tr style="background: {colour};"><td><a href="{html.escape(r.page)}">{html.escape(r.run_time)}</a></td>'
            f'<td><a href="{html.escape(suite_page)}">{html.escape(r.suite)}</a></td><td>{html.escape(r.table)}</td>'
            f"<td>{html.escape(status)}</td><td>{r.evaluated}</td><td>{html.escape(r.gate_id)}</td></tr>"
        )
    if not rows:
        lines.append('<tr><td colspan="6">no validations yet</td></tr>')
    lines += ["</table>", "</section>"]
    block = "\n".join(lines)
    marker = "<body>"
    pos = text.find(marker)
    if pos < 0:
        log.warning("Data Docs index has no <body>; the skolsam overview was not added")
        return
    pos += len(marker)
    index.write_text(text[:pos] + "\n" + block + text[pos:], encoding="utf-8")


def add_status_marks(page: Path) -> None:
    """Give a validation page words for its pass/fail icons, for when the icon font cannot load."""
    text = page.read_text(encoding="utf-8")
    pos = text.find("<head>")
    if _MARKS_MARK in text or pos < 0:
        return
    pos += len("<head>")
    page.write_text(text[:pos] + "\n" + _STATUS_MARKS + text[pos:], encoding="utf-8")


def build(context, docs_dir: Path, validation_keys: list, suite_names: list[str]) -> Path:
    """Prune old results, render this run's pages (its validations, every suite) and the index, add the
    overview, and scrub as a last line of defence. Older validation pages are left as they were."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    removed = prune(docs_dir)
    if removed:
        log.info("Data Docs: pruned %d old validation result(s)", removed)
    resources = list(validation_keys) + [ExpectationSuiteIdentifier(name=n) for n in suite_names]
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=resources)
    for key in validation_keys:
        page = docs_dir / page_path(key)
        if page.is_file():
            add_status_marks(page)
    index = docs_dir / "index.html"
    write_overview(index, _overview_rows(context))
    # The results stored were sanitised already; this only matters if GX renders something new.
    changed = privacy.scrub_tree(docs_dir)
    if changed:
        log.error("Data Docs: %d file(s) held key-like or personnummer-like values and were scrubbed", changed)
    return index
