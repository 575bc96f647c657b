"""Issue 17 finding 1, against a real ``airflow api-server`` started here: the compose file used to ship the
JWT secret ``change-me-in-production`` as a default, and the Execution API only checks a token's
signature, so a token signed with it read every Connection, the pseudonym key included.

The api-server gets the JWT settings the compose file gives its api-server (interpolated as Compose would,
with a random secret as a deployment must set), and a SQLite metadata database of its own:
- the deployment cannot start without a secret (no default to fall back to);
- a token signed with the old default is refused;
- a token signed with the real secret passes, and still cannot read the pseudonym key: the deployment
  gives that to the Celery worker only (docs/deployment.md).
"""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

import compose_file
from airflow_env import airflow_env
from airflow_processes import Processes, airflow, free_port, wait_http

OLD_DEFAULT = "change-me-in-production"
AUDIENCE = "urn:airflow.apache.org:task"


def _api_server_service() -> str:
    return next(name for name, svc in compose_file.load()["services"].items() if "api-server" in svc.get("command", []))


def _token(secret: str) -> str:
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    gen = JWTGenerator(secret_key=secret, audience=AUDIENCE, issuer=None, valid_for=300)
    return gen.generate({"sub": str(uuid.uuid4())})


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("jwt_airflow")
    # An operator who sets every secret but forgets the JWT one: the deployment must refuse (then they set a
    # random one), never fall back to a default that anyone can sign with.
    deploy_env = {name: secrets.token_hex(16) for name, _, _ in compose_file.references()
                  if name != "AIRFLOW_JWT_SECRET"}
    try:
        compose_env = compose_file.service_environment(_api_server_service(), deploy_env)
    except compose_file.MissingVariable:
        deploy_env["AIRFLOW_JWT_SECRET"] = secrets.token_hex(32)
        compose_env = compose_file.service_environment(_api_server_service(), deploy_env)
    deployed = {k: v for k, v in compose_env.items()
                    if k.startswith(("AIRFLOW__API_AUTH__", "AIRFLOW__API__", "AIRFLOW__EXECUTION_API__", "AIRFLOW_CONN_"))}
    import os
    import subprocess

    env = {**os.environ, **airflow_env(home), **deployed}
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_") or k in deployed}
    subprocess.run(airflow("db", "migrate"), env=env, check=True, capture_output=True)
    port = free_port()
    with Processes(home / "logs") as procs:
        procs.start("api-server", airflow("api-server", "--host", "127.0.0.1", "--port", str(port)), env)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/v2/version", procs, timeout=180)
        yield base, deployed["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_deployment_has_no_default_jwt_secret():
    env = {name: "x" for name, _, _ in compose_file.references() if name != "AIRFLOW_JWT_SECRET"}
    for service in (_api_server_service(), "airflow-scheduler", "airflow-worker"):
        with pytest.raises(compose_file.MissingVariable, match="AIRFLOW_JWT_SECRET"):
            compose_file.service_environment(service, env)


def test_token_signed_with_the_old_default_is_refused(api_server):
    base, secret = api_server
    url = f"{base}/execution/connections/skolsam_pseudonym"
    # Generous client timeouts: this test failed once in a full run beside a bench on a loaded 2-core machine
    # (cause not captured; a first answer slower than the old 10 s is the likely one). It asserts status codes,
    # never speed.
    forged = httpx.get(url, headers={"Authorization": f"Bearer {_token(OLD_DEFAULT)}"}, timeout=60)
    assert forged.status_code == 403, forged.text
    assert secret != OLD_DEFAULT
    assert httpx.get(url, timeout=60).status_code == 401

    # Positive control: the same request with a token of the real secret gets past the signature check, and
    # the api-server still has no pseudonym key to give.
    genuine = httpx.get(url, headers={"Authorization": f"Bearer {_token(secret)}"}, timeout=60)
    assert genuine.status_code == 404, genuine.text
