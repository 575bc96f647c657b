"""The administrators' page: a small FastAPI app that the skolsam Airflow plugin mounts on the api-server.

``GET /skolsam/`` (HTML), ``GET /skolsam/status.json`` and ``GET /skolsam/data-docs/...`` (the Great
Expectations Data Docs, read-only). Every route depends on Airflow's own authentication
(``airflow.api_fastapi.core_api.security``): the JWT from the UI's cookie or an ``Authorization: Bearer``
header, and the auth manager's permission for plugin views; without it the answer is 401 (403 without the
permission). The warehouse is read from ``SKOLSAM_WAREHOUSE_URL`` or the ``skolsam_warehouse`` Connection;
the page never starts a database of its own.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

log = logging.getLogger(__name__)

URL_PREFIX = "/skolsam"


def _auth():
    """Airflow's authentication and the plugin-view permission, as a FastAPI dependency."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    return Depends(requires_access_view(AccessView.PLUGINS))


def warehouse_url() -> str | None:
    from ..warehouse.connection import sqlalchemy_url

    env = os.environ.get("SKOLSAM_WAREHOUSE_URL")
    if env:
        return sqlalchemy_url(env)
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets("skolsam_warehouse")
    except Exception:  # not defined: the page says so
        return None
    uri = conn.get_uri()
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://"):]
    return sqlalchemy_url(uri)


def settings():
    """Settings as the DAGs see them: environment first, then the Airflow Variables ``skolsam_<name>``."""
    from ..settings import Settings

    overrides = {}
    try:
        from airflow.models.variable import Variable

        for f in fields(Settings):
            if os.environ.get(f"SKOLSAM_{f.name.upper()}") is None:
                value = Variable.get(f"skolsam_{f.name}", default_var=None)
                if value is not None:
                    overrides[f.name] = value
    except Exception:  # no metadata database reachable: environment and defaults
        pass
    return Settings.load(overrides)


def data_docs_dir() -> Path:
    from ..quality import docs

    return docs.default_dir()


def create_app() -> FastAPI:
    app = FastAPI(title="skolsam administrators' page", docs_url=None, redoc_url=None, openapi_url=None)
    auth = _auth()

    @app.get("/", response_class=HTMLResponse, dependencies=[auth])
    def page() -> HTMLResponse:
        from .page import render
        from .status import collect

        status = collect(warehouse_url(), settings())
        docs = (data_docs_dir() / "index.html").exists()
        return HTMLResponse(render(status, data_docs=docs))

    @app.get("/status.json", dependencies=[auth])
    def status_json() -> JSONResponse:
        from .status import collect

        return JSONResponse(collect(warehouse_url(), settings()).as_dict())

    @app.get("/data-docs/{path:path}", dependencies=[auth])
    def data_docs(path: str) -> FileResponse:
        root = data_docs_dir().resolve()
        target = (root / (path or "index.html")).resolve()
        if root not in target.parents and target != root or not target.is_file():
            raise HTTPException(status_code=404, detail="not found")
        return FileResponse(target)

    return app
