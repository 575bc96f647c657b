"""``skolsam bench`` at a few hundred pupils: every figure DESIGN 7 names is printed and is a number, each
stage has rows, seconds and peak RSS, the daily run reports its share, and the growth table is made from
the runs. Never how fast: no timing is compared with anything (DESIGN 7, speed lives in the bench)."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from skolsam import cli
from skolsam.bench import BenchError, growth, pipeline
from skolsam.bench.stages import PIPELINE, STAGES

pytestmark = pytest.mark.postgres

DESIGN_FIGURES = ("pupils", "total_seconds", "peak_rss_mb", "extract_records_per_second", "load_seconds",
                  "copy_seconds", "load_vs_copy", "extract_vs_copy", "total_vs_copy", "preload_seconds")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory, pg_admin_url):
    """One small bench with the daily run, through the command line (``--json``), in a home of its own."""
    home = tmp_path_factory.mktemp("bench-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SKOLSAM_HOME", str(home))
    mp.setenv("SKOLSAM_PSEUDONYM_KEY", "51abb5223045da05d7f410b293cabf976685093c7b7860f632f6d0e68e1a169e")
    import contextlib
    import io

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["bench", "--pupils", "300", "--daily", "--json", "--warehouse-url", pg_admin_url])
    finally:
        mp.undo()
    assert code == 0
    yield json.loads(out.getvalue())
    from skolsam.bench import harness

    with pytest.MonkeyPatch.context() as m:
        m.setenv("SKOLSAM_HOME", str(home))
        harness.drop_database(pg_admin_url, pipeline.database_name())


def test_every_design_figure_is_a_number(bench_run):
    for name in DESIGN_FIGURES:
        assert _number(bench_run[name]), (name, bench_run[name])
    assert bench_run["pupils"] == 300
    assert bench_run["pipeline_complete"] is True and bench_run["report_in_total"] is False
    # The ratios are what they say: the stage's seconds over the COPY of the same run.
    assert bench_run["total_vs_copy"] == pytest.approx(bench_run["total_seconds"] / bench_run["copy_seconds"], rel=1e-2)
    assert bench_run["extract_vs_copy"] == pytest.approx(bench_run["extract_seconds"] / bench_run["copy_seconds"],
                                                         rel=1e-2)
    assert bench_run["load_vs_copy"] == pytest.approx(bench_run["load_seconds"] / bench_run["load_copy_seconds"],
                                                      rel=1e-2)


def test_every_stage_has_rows_seconds_and_peak_memory(bench_run):
    stages = bench_run["stages"]
    assert list(stages) == list(STAGES)
    for name, stage in stages.items():
        assert _number(stage["seconds"]) and stage["seconds"] > 0, name
        assert _number(stage["peak_rss_mb"]) and stage["peak_rss_mb"] > 10, name  # a Python process, at least
        assert stage["setup"] is False
    assert sum(stages[n]["seconds"] for n in PIPELINE) == pytest.approx(bench_run["total_seconds"], abs=0.05)
    # Rows are counted, not guessed: the extract read what it staged and more (deletions, window sums).
    staged = bench_run["staged_rows"]
    assert stages["extract"]["rows"] >= staged["ss12000_grade"] + staged["ss12000_person"] > 0
    assert set(stages["extract"]["entities"]) == {"organisations", "syllabuses", "persons", "grades",
                                                  "deletedEntities", "aggregatedAttendance"}
    assert stages["ingest"]["rows"] > 0 and stages["prepare"]["rows"] > 0 and stages["mart_gate"]["rows"] > 0
    assert stages["staging_gate"]["passed"] is True and stages["mart_gate"]["passed"] is True
    assert set(bench_run["copy_seconds_per_table"]) == {t for t, n in staged.items() if n}


def test_task_processes_forked_from_a_preloaded_worker(bench_run):
    """By default every stage's task process is forked from a bench worker that ran the Celery worker's
    preload (skolsam.airflow.preload): the figures of the preload are printed, and the gates found GX
    already imported, in the full run and in the daily run."""
    assert bench_run["task_processes"] == "forked_from_preloaded_worker"
    assert _number(bench_run["preload_seconds"]) and bench_run["preload_seconds"] > 0
    assert _number(bench_run["preload_rss_mb"]) and bench_run["preload_failed"] == {}
    for run in (bench_run["stages"], bench_run["daily"]["stages"]):
        for name, stage in run.items():
            assert isinstance(stage["modules_imported_by_task"], int) and stage["modules_imported_by_task"] >= 0, name
        assert run["staging_gate"]["gx_preloaded"] is True and run["mart_gate"]["gx_preloaded"] is True


def test_cold_task_processes_import_everything_themselves(bench_run, tmp_path, monkeypatch, pg_admin_url):
    """``--cold``: fresh interpreters, no preload; the gate imports GX itself, so it imports more modules than
    the same gate forked from the preloaded worker (a count of modules, not a timing)."""
    import contextlib
    import io

    monkeypatch.setenv("SKOLSAM_HOME", str(tmp_path))
    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", "51abb5223045da05d7f410b293cabf976685093c7b7860f632f6d0e68e1a169e")
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["bench", "--pupils", "300", "--stages", "staging_gate", "--cold", "--json",
                             "--warehouse-url", pg_admin_url])
        assert code == 0
        cold = json.loads(out.getvalue())
    finally:
        from skolsam.bench import harness

        harness.drop_database(pg_admin_url, pipeline.database_name())
    assert cold["task_processes"] == "cold" and cold["preload_seconds"] is None
    gate = cold["stages"]["staging_gate"]
    assert gate["gx_preloaded"] is False and gate["setup"] is False
    assert gate["modules_imported_by_task"] > bench_run["stages"]["staging_gate"]["modules_imported_by_task"]


def test_the_daily_run_reads_the_changes_and_reports_its_share(bench_run):
    daily = bench_run["daily"]
    assert _number(bench_run["daily_vs_full"]) and _number(bench_run["daily_seconds"])
    assert list(daily["stages"]) == list(PIPELINE)
    change = daily["change"]
    assert change["grades_changed"] > 0 and change["attendance_added"] > 0
    grades = daily["stages"]["extract"]["entities"]["grades"]
    assert grades["records"] == change["grades_changed"]  # past the watermark: the changed grades, no others
    assert daily["stages"]["extract"]["entities"]["persons"]["records"] == 0
    assert daily["stages"]["ingest"]["rows"] == 0  # no new list in the landing folder
    # The last school day of VT2026: HT2025 closed long before, so only VT2026's attendance is read again.
    assert change["day"] == "2026-06-12" and daily["terms"] == pipeline.daily_terms(change["day"]) == ["VT2026"]
    full = bench_run["stages"]["extract"]["entities"]["aggregatedAttendance"]["records"]
    again = daily["stages"]["extract"]["entities"]["aggregatedAttendance"]["records"]
    assert 0 < again < full  # one term's windows of two (the day's records are inside VT2026's window)


def test_growth_table_and_plot_from_runs(bench_run, tmp_path):
    small = bench_run
    big = json.loads(json.dumps(bench_run))
    big["pupils"] = 600
    table = growth.growth_table([small, big])
    assert table["sizes"] == [300, 600]
    us = table["us_per_pupil"]["total"]
    assert us[0] == pytest.approx(small["total_seconds"] / 300 * 1e6, abs=0.1)
    assert table["ratio_largest_smallest"]["total"] == pytest.approx(us[1] / us[0], rel=1e-3)
    assert "extract" in growth.format_table(table)
    png = growth.plot(table, tmp_path / "growth.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stage_subsets_and_sources():
    assert pipeline.choose_stages(["prepare"]) == (list(STAGES[:STAGES.index("prepare") + 1]), {"prepare"})
    with pytest.raises(BenchError, match="unknown stage"):
        pipeline.choose_stages(["compile"])
    with pytest.raises(BenchError, match="one-system"):
        pipeline.check_sources(2, daily=True)
    with pytest.raises(BenchError, match="at least 1"):
        pipeline.check_sources(0)
    pipeline.check_sources(2)


def test_several_sources_one_extract_task_each(tmp_path, monkeypatch, pg_admin_url):
    """--sources 2: the city split into two school systems, one stand-in and one extract task each; the
    extract stage is their sum and both systems' rows are staged under their own ids."""
    monkeypatch.setenv("SKOLSAM_HOME", str(tmp_path))
    result = pipeline.run_bench(300, sources=2, stages=["extract"], warehouse_url=pg_admin_url, log=lambda m: None)
    try:
        extract = result["stages"]["extract"]
        assert set(extract["sources"]) == {"stockholm", "fristaende_1"}
        assert extract["rows"] == sum(s["rows"] for s in extract["sources"].values()) > 0
        assert _number(result["extract_vs_copy"]) and result["total_vs_copy"] is None  # not the whole pipeline
        from skolsam.warehouse import connection

        db = pipeline.database_name()
        from sqlalchemy.engine import make_url

        url = make_url(pg_admin_url).set(database=db).render_as_string(hide_password=False)
        with connection.connect(url, autocommit=True) as conn:
            sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM staging.ss12000_grade").fetchall()}
        assert sources == {"stockholm", "fristaende_1"}
    finally:
        from skolsam.bench import harness

        harness.drop_database(pg_admin_url, pipeline.database_name())


def test_streamed_dataset_indexes_like_the_files(tmp_path):
    """National scale streams the generator into the stand-in's index: the same index as from the files."""
    from skolsam.generate import generate_dataset
    from skolsam.standin.bench import generate_streamed
    from skolsam.standin.index import DatasetIndex, build_index

    generate_dataset(tmp_path / "files", pupils=120, seed=5, terms=["HT2025", "VT2026"])
    build_index(tmp_path / "files", tmp_path / "files.sqlite")
    result = generate_streamed(tmp_path / "streamed", 120, 5, ["HT2025", "VT2026"], index_dir=tmp_path / "idx",
                               log=lambda m: None)
    assert (tmp_path / "streamed" / "manifest.json").read_bytes() == (tmp_path / "files" / "manifest.json").read_bytes()
    placeholder = tmp_path / "streamed" / "ss12000" / "aggregatedAttendance.jsonl"
    assert placeholder.stat().st_size == (tmp_path / "files" / "ss12000" / "aggregatedAttendance.jsonl").stat().st_size
    index = DatasetIndex(tmp_path / "streamed", tmp_path / "idx")
    path = index.ensure()  # found by the files' size and mtime: not rebuilt from the placeholders
    assert index.build_seconds is None
    queries = ["SELECT count(*), sum(offered), sum(attended), sum(valid), sum(invalid) FROM att",
               "SELECT count(*), sum(length(raw)), max(modified) FROM grades", "SELECT count(*) FROM persons",
               "SELECT count(*) FROM deleted", "SELECT count(*), sum(length(raw)) FROM organisations"]
    with sqlite3.connect(tmp_path / "files.sqlite") as a, sqlite3.connect(path) as b:
        for q in queries:
            assert a.execute(q).fetchall() == b.execute(q).fetchall(), q
    assert result["counts"]["aggregatedAttendance"] > 0
