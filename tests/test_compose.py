"""docker-compose.yml checked by parsing it (no Docker engine on the build machines): the services of
Airflow's official 3.x Celery stack, healthchecks, restarts, named volumes, the project mounted, the
stand-in only in the demo profile, and secrets only from the environment."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

import compose_file

AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-init"}
LONG_RUNNING = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "airflow-worker", "ss12000"}
# The only ${...} that may have a default: not secrets.
DEFAULT_ALLOWED = {"AIRFLOW_UID", "SKOLSAM_IMAGE", "SKOLSAM_ALERT_WEBHOOK"}
SECRETISH = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|CONNECTION", re.I)


@pytest.fixture(scope="module")
def compose() -> dict:
    return compose_file.load()


def _full_env() -> dict[str, str]:
    return {name: f"value-of-{name.lower()}" for name, _, _ in compose_file.references()}


def test_services_of_the_official_celery_stack(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "ss12000"} <= set(services)
    for name in AIRFLOW_SERVICES:
        env = compose_file.service_environment(name, _full_env())
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis", name
        # The worker preloads GX and skolsam; every component reads the same Celery app config.
        assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == "skolsam.airflow.celery_config.CELERY_CONFIG", name
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-triggerer": ["airflow", "triggerer"],
        "airflow-worker": ["airflow", "celery", "worker"],
    }
    init = "\n".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "skolsam airflow-init" in init  # warehouse migrations and pools
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_healthchecks_and_restart_policies(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert services[name].get("restart") in ("always", "unless-stopped"), f"{name} does not restart"
    assert services["airflow-init"]["restart"] == "no"
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name


def test_named_volumes_and_project_folders_mounted(compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert used == declared
    assert any(v.startswith("postgres-db:") for v in compose["services"]["postgres"]["volumes"])
    for name in AIRFLOW_SERVICES:
        mounts = {v.split(":")[0] for v in compose["services"][name]["volumes"]}
        assert {"./dags", "./plugins", "./sql", "./expectations", "./config"} <= mounts, name
        assert {"airflow-logs", "skolsam-data"} <= mounts, name


def test_standin_only_in_the_demo_profile(compose):
    services = compose["services"]
    assert services["ss12000"]["profiles"] == ["demo"]
    for name, service in services.items():
        if name != "ss12000":
            assert "profiles" not in service, name
            assert "ss12000" not in (service.get("depends_on") or {}), name
    # The stand-in is started with a secret from the environment, never the demo's skolsam/skolsam.
    assert "--client-secret" in services["ss12000"]["command"]
    secret = services["ss12000"]["command"][services["ss12000"]["command"].index("--client-secret") + 1]
    assert secret.startswith("${") and ":?" in secret


def test_secrets_only_from_the_environment():
    refs = compose_file.references()
    assert refs, "no ${...} in the compose file?"
    for name, op, _ in refs:
        if name in DEFAULT_ALLOWED:
            continue
        assert op in (":?",), f"${{{name}}} must be required (${{{name}:?...}}), not {op or 'optional'}"
    assert {n for n, _, _ in refs if SECRETISH.search(n)} >= {
        "AIRFLOW_JWT_SECRET", "AIRFLOW_DB_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY",
        "SKOLSAM_PSEUDONYM_KEY", "WAREHOUSE_LOADER_PASSWORD", "AIRFLOW_ADMIN_PASSWORD"}
    text = compose_file.text()
    assert "change-me" not in text
    # Every URL with a user in it takes its password from a variable.
    for m in re.finditer(r"[a-z+]+://([^:@/\s]+):([^@\s]*)@", text):
        assert m.group(2).startswith("${") or m.group(2).startswith("$${"), m.group(0)


def test_the_stack_refuses_to_start_without_the_jwt_secret():
    env = _full_env()
    del env["AIRFLOW_JWT_SECRET"]
    with pytest.raises(compose_file.MissingVariable, match="AIRFLOW_JWT_SECRET"):
        compose_file.service_environment("airflow-apiserver", env)
    env["AIRFLOW_JWT_SECRET"] = ""
    with pytest.raises(compose_file.MissingVariable):
        compose_file.service_environment("airflow-apiserver", env)


def test_metadata_and_warehouse_are_separate_databases_and_users(compose):
    env = _full_env()
    meta = urlsplit(compose_file.service_environment("airflow-scheduler", env)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    warehouse = urlsplit(compose_file.service_environment("airflow-worker", env)["AIRFLOW_CONN_SKOLSAM_WAREHOUSE"])
    assert meta.path != warehouse.path
    assert meta.username != warehouse.username
    assert meta.username != compose["services"]["postgres"]["environment"]["POSTGRES_USER"]  # not the superuser


def test_api_server_published_on_loopback_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert compose["services"]["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]


def test_task_secrets_only_on_the_worker(compose):
    """The pseudonym keys, the warehouse password and the SS 12000 secret reach the Celery worker alone: the
    api-server (which answers /execution/connections/...) cannot hand out what it does not have."""
    env = _full_env()
    task_only = ("AIRFLOW_CONN_SKOLSAM_PSEUDONYM", "AIRFLOW_CONN_SKOLSAM_MART_PSEUDONYM",
                 "AIRFLOW_CONN_SKOLSAM_WAREHOUSE", "AIRFLOW_CONN_SKOLSAM_SS12000")
    worker = compose_file.service_environment("airflow-worker", env)
    assert env["SKOLSAM_PSEUDONYM_KEY"] in worker["AIRFLOW_CONN_SKOLSAM_PSEUDONYM"]
    for name in compose["services"]:
        if name == "airflow-worker":
            continue
        others = compose_file.service_environment(name, env)
        for key in task_only:
            assert key not in others, f"{key} given to {name}"
        assert not any(env["SKOLSAM_PSEUDONYM_KEY"] in v for v in others.values()), name
