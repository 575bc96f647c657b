"""The whole pipeline on one dataset folder, through Airflow: what ``make demo`` runs.

Steps: warehouse (embedded unless a URL is given) and migrations (the deploy step: the DAGs only check
the schema); a local Airflow home with the pools the DAGs name; the stand-in
SS 12000 server over the dataset; then, with ``airflow dags test``, the extraction, the enrollment intake,
the warehouse build and the termly report, in that order. Ends with a summary of what was loaded.

A dataset of several school systems (``skolsam generate --sources N``, ``DATASET/sources/<id>/``) gets one
stand-in server per source on its own port, the sources config as the Variable ``skolsam_sources``
(``AIRFLOW_VAR_SKOLSAM_SOURCES``, which the extract DAG file reads when it is parsed), one Connection per
source (``AIRFLOW_CONN_SKOLSAM_SS12000`` for the first, ``AIRFLOW_CONN_SKOLSAM_SS12000_<ID>`` for the
others), and every source's extract DAG runs before the intake, the build and the report.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .settings import project_home
from .warehouse import connection, migrate

log = logging.getLogger(__name__)

EXTRACT = "skolsam_extract_education"
AFTER_EXTRACT = ("skolsam_ingest_enrollment", "skolsam_build_warehouse", "skolsam_termly_report")
PIPELINE = (EXTRACT, *AFTER_EXTRACT)  # one school system; several: one extract DAG per source first
FIRST_CONN_ID = "skolsam_ss12000"  # config/sources.yaml's first source

# Tasks the demo marks success without running: the human approval of the termly report.
SKIPPED_IN_DEMO = {"skolsam_termly_report": "approve_report"}


@dataclass
class DemoResult:
    warehouse_url: str
    logs: dict[str, Path] = field(default_factory=dict)
    report_dir: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)  # source id -> the stand-in's base URL


def demo_sources(source_ids: list[str]) -> list[dict]:
    """The sources config of the demo (config/sources.yaml's structure): the first source uses the
    Connection of the one-system demo, each other its own."""
    return [{"id": sid, "conn_id": FIRST_CONN_ID if i == 0 else f"{FIRST_CONN_ID}_{sid}"}
            for i, sid in enumerate(source_ids)]


def pipeline_for(source_ids: list[str]) -> tuple[str, ...]:
    """The DAGs the demo runs, in order: every source's extract DAG, then intake, build and report."""
    from .ss12000.sources import Source, extract_dag_id

    sources = [Source(c["id"], c["conn_id"]) for c in demo_sources(source_ids)]
    return (*(extract_dag_id(s, sources) for s in sources), *AFTER_EXTRACT)


def run_demo(dataset: Path, warehouse_url: str | None = None, *, home: Path | None = None,
             client_id: str = "skolsam", client_secret: str = "skolsam", echo=print) -> DemoResult:
    from .airflow import local
    from .standin.dataset import dataset_sources
    from .standin.running import running_sources

    dataset = Path(dataset).resolve()
    if not (dataset / "ss12000").is_dir() and not (dataset / "sources").is_dir():
        raise FileNotFoundError(f"{dataset} is not a dataset folder (no ss12000/ nor sources/<id>/ss12000/ inside)")
    source_ids = list(dataset_sources(dataset))
    home = home or project_home()
    url = connection.resolve_url(warehouse_url)
    echo(f"warehouse: {connection.redact(url)}")
    migrate.migrate(url)

    landing = home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    for csv_file in sorted((dataset / "enrollment").glob("*.csv")):
        shutil.copy2(csv_file, landing / csv_file.name)

    result = DemoResult(warehouse_url=url, report_dir=home / "reports" / "published")
    with running_sources(dataset, client_id=client_id, client_secret=client_secret, demo=True) as urls:
        result.sources = dict(urls)
        connections = {}
        for conf in demo_sources(source_ids):
            base_url = urls[conf["id"]]
            echo(f"SS 12000 stand-in server: {base_url}" if len(urls) == 1 else
                 f"SS 12000 stand-in server of {conf['id']}: {base_url}")
            connections[f"AIRFLOW_CONN_{conf['conn_id'].upper()}"] = local.ss12000_connection(
                base_url, client_id, client_secret)
        if len(urls) > 1:  # several systems: the Variable the extract DAG file reads (one DAG per source)
            connections["AIRFLOW_VAR_SKOLSAM_SOURCES"] = json.dumps({"sources": demo_sources(source_ids)})
        env = local.prepare_home(
            home / "airflow",
            {
                "SKOLSAM_HOME": str(home),
                # The local demo: fallbacks (embedded warehouse, key file) allowed (skolsam.airflow.runtime).
                "SKOLSAM_ENV": "demo",
                "SKOLSAM_WAREHOUSE_URL": url,
                "SKOLSAM_ENROLLMENT_LANDING": str(landing),
                "SKOLSAM_RETRY_DELAY_SECONDS": "2",
                # The build has just published the marts: the report's wait for them is short in the demo
                # (3 minutes, a look every 6 s) so a missing mart fails the demo instead of waiting a week.
                "SKOLSAM_REPORT_MARTS_WAIT_HOURS": "0.05",
                "SKOLSAM_REPORT_MARTS_POKE_MINUTES": "0.1",
                **connections,
            },
        )
        for dag_id in pipeline_for(source_ids):
            log_file = home / "logs" / f"{dag_id}.log"
            echo(f"running {dag_id} ...")
            # Nobody can answer the report's approval inside `dags test`: skip it explicitly (the
            # publication records that the draft was not reviewed).
            local.dags_test(dag_id, env, log_file=log_file, mark_success_pattern=SKIPPED_IN_DEMO.get(dag_id))
            result.logs[dag_id] = log_file
    return result
