"""A local SMTP sink (aiosmtpd) that keeps every message it receives, for alert tests."""

from __future__ import annotations

import email
import json
import socket
import time
from email.message import Message


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._handler = _Handler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self._handler.messages

    def connection(self) -> str:
        """AIRFLOW_CONN_SMTP_DEFAULT for this sink (plain SMTP on loopback, no TLS)."""
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "skolsam@localhost",
                                     "retry_limit": 1, "timeout": 10}})

    def wait_for(self, predicate, timeout: float = 60) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages:
                if predicate(m):
                    return m
            time.sleep(0.5)
        raise TimeoutError(f"no matching mail within {timeout} s; got {[m['Subject'] for m in self.messages]}")

    def __enter__(self) -> "SmtpSink":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


def body(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(p.get_payload(decode=True).decode("utf-8", "replace") for p in parts
                     if p.get_content_maintype() == "text")
