"""The whole pipeline on one dataset folder, through Airflow: what ``make demo`` runs.

Steps: warehouse (embedded unless a URL is given) and migrations (the deploy step: the DAGs only check
the schema); a local Airflow home with the pools the DAGs name; the stand-in
SS 12000 server over the dataset; then, with ``airflow dags test``, the extraction, the enrollment intake,
the warehouse build and the termly report, in that order. Ends with a summary of what was loaded.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .settings import project_home
from .warehouse import connection, migrate

log = logging.getLogger(__name__)

PIPELINE = (
    "skolsam_extract_education",
    "skolsam_ingest_enrollment",
    "skolsam_build_warehouse",
    "skolsam_termly_report",
)

# Tasks the demo marks success without running: the human approval of the termly report.
SKIPPED_IN_DEMO = {"skolsam_termly_report": "approve_report"}


@dataclass
class DemoResult:
    warehouse_url: str
    logs: dict[str, Path] = field(default_factory=dict)
    report_dir: Path | None = None


def run_demo(dataset: Path, warehouse_url: str | None = None, *, home: Path | None = None,
             client_id: str = "skolsam", client_secret: str = "skolsam", echo=print) -> DemoResult:
    from .airflow import local
    from .standin.running import running_server

    dataset = Path(dataset).resolve()
    if not (dataset / "ss12000").is_dir():
        raise FileNotFoundError(f"{dataset} is not a dataset folder (no ss12000/ inside)")
    home = home or project_home()
    url = connection.resolve_url(warehouse_url)
    echo(f"warehouse: {connection.redact(url)}")
    migrate.migrate(url)

    landing = home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    for csv_file in sorted((dataset / "enrollment").glob("*.csv")):
        shutil.copy2(csv_file, landing / csv_file.name)

    result = DemoResult(warehouse_url=url, report_dir=home / "reports" / "published")
    with running_server(dataset, client_id=client_id, client_secret=client_secret, demo=True) as base_url:
        echo(f"SS 12000 stand-in server: {base_url}")
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
                "AIRFLOW_CONN_SKOLSAM_SS12000": local.ss12000_connection(base_url, client_id, client_secret),
            },
        )
        for dag_id in PIPELINE:
            log_file = home / "logs" / f"{dag_id}.log"
            echo(f"running {dag_id} ...")
            # Nobody can answer the report's approval inside `dags test`: skip it explicitly (the
            # publication records that the draft was not reviewed).
            local.dags_test(dag_id, env, log_file=log_file, mark_success_pattern=SKIPPED_IN_DEMO.get(dag_id))
            result.logs[dag_id] = log_file
    return result
