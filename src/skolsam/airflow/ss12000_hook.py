"""Airflow hook for an SS 12000 API (connection type ``ss12000``).

Connection fields: ``host`` = base URL including ``/v2.0`` (e.g. ``https://sis.example.se/v2.0``; a bare
host name is completed with ``https://``, ``port`` and ``schema`` as the path), ``login`` = OAuth2 client id,
``password`` = client secret, ``extra`` = ``{"token_url": "...", "timeout": 60, "max_attempts": 6}`` (token_url
defaults to ``<base URL>/token``). Servers as they are (DESIGN 3.1.2) may also need in ``extra``:
``bearer_token`` (a static token instead of client credentials; masked like any secret), ``time_zone`` (of
timestamps written without one, default the setting ``ss12000_time_zone``), ``resend_params`` (``"all"`` or
names resent on every page) and, for the demo stack's stand-in only, ``allow_http``. Plain http to any host
but this machine is refused otherwise.

Nothing heavy is imported at module level: httpx and the extractor are imported when used.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook


class SS12000Hook(BaseHook):
    conn_name_attr = "ss12000_conn_id"
    default_conn_name = "skolsam_ss12000"
    conn_type = "ss12000"
    hook_name = "SS 12000 API"

    def __init__(self, ss12000_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ss12000_conn_id = ss12000_conn_id
        self._settings: dict[str, Any] | None = None

    # -- the Connection form ------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Base URL (incl. /v2.0)", "login": "Client ID", "password": "Client secret"},
            "placeholders": {
                "host": "https://sis.example.se/v2.0",
                "extra": '{"token_url": "https://sis.example.se/v2.0/token"}',
            },
        }

    # -- configuration -----------------------------------------------------------------------------------
    def _connection_settings(self) -> dict[str, Any]:
        if self._settings is None:
            conn = self.get_connection(self.ss12000_conn_id)
            extra = conn.extra_dejson or {}
            host = (conn.host or "").strip()
            if not host:
                raise ValueError(f"connection {self.ss12000_conn_id} has no host (the SS 12000 base URL)")
            if "://" in host:
                base = host.rstrip("/")
            else:
                base = f"https://{host}" + (f":{conn.port}" if conn.port else "")
                if conn.schema:
                    base += "/" + conn.schema.strip("/")
            self._settings = {
                "base_url": base,
                "token_url": extra.get("token_url") or base + "/token",
                "client_id": conn.login or "",
                "client_secret": conn.password or "",
                "timeout": float(extra.get("timeout", 60.0)),
                "max_attempts": int(extra.get("max_attempts", 6)),
                "static_token": extra.get("bearer_token") or None,
                "time_zone": extra.get("time_zone") or None,
                "resend_params": extra.get("resend_params"),
                "allow_http": bool(extra.get("allow_http", False)),
            }
        return self._settings

    def api_config(self, page_size: int = 5000):
        """The extractor's ApiConfig for this connection."""
        from skolsam.ss12000.client import ApiConfig

        s = self._connection_settings()
        return ApiConfig(s["base_url"], s["token_url"], s["client_id"], s["client_secret"], page_size,
                         timeout=s["timeout"], max_attempts=s["max_attempts"], static_token=s["static_token"],
                         time_zone=s["time_zone"], resend_params=s["resend_params"], allow_http=s["allow_http"])

    def get_conn(self):
        """An open SS12000Client (close it when done)."""
        return self.api_config().client()

    def test_connection(self) -> tuple[bool, str]:
        """Fetch a token (the UI's Test button)."""
        from skolsam.ss12000.client import RetryPolicy

        try:
            with self.get_conn() as client:
                client.retry = RetryPolicy(max_attempts=2, backoff_base=0.2)
                client.token()
        except Exception as exc:  # the message names no secret
            return False, f"{type(exc).__name__}: {exc}"
        return True, "token obtained"


def source_call(source_id: str, settings=None):
    """(ApiConfig, Settings) for a configured source (``config/sources.yaml``): its Connection, with the
    source's page size, time zone, resend parameters and history start over the settings'."""
    import dataclasses

    from skolsam.settings import Settings
    from skolsam.ss12000.sources import load_sources

    source = next((s for s in load_sources() if s.id == source_id), None)
    if source is None:
        raise ValueError(f"SS 12000 source {source_id!r} is not configured (config/sources.yaml or skolsam_sources)")
    settings = settings or Settings.load()
    api = SS12000Hook(source.conn_id).api_config(page_size=source.page_size or settings.ss12000_page_size)
    api = dataclasses.replace(api, time_zone=source.time_zone or api.time_zone,
                              resend_params=source.resend_params if source.resend_params is not None
                              else api.resend_params)
    if source.history_start:
        settings = dataclasses.replace(settings, history_start_term=source.history_start)
    return api, settings
