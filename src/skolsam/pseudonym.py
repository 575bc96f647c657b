"""Pseudonymisation: ``student_key`` = HMAC-SHA256 over the normalised 12-digit personnummer.

The key is a secret held outside the warehouse and the repository (an Airflow Connection, a secrets
backend, or for the local demo a key file under SKOLSAM_HOME created once with mode 0600). Both the
SS 12000 extract and the enrollment intake use the same Pseudonymiser so the join works on the key alone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import date
from pathlib import Path

from . import identity

KEY_ENV = "SKOLSAM_PSEUDONYM_KEY"
KEY_MIN_BYTES = 16


class Pseudonymiser:
    def __init__(self, key: bytes | str):
        key_bytes = key.encode() if isinstance(key, str) else bytes(key)
        if len(key_bytes) < KEY_MIN_BYTES:
            raise ValueError(f"pseudonym key must be at least {KEY_MIN_BYTES} bytes")
        self._key = key_bytes

    def student_key(self, normalised_pnr: str) -> str:
        """Key for an already normalised 12-digit number (see identity.parse)."""
        return hmac.new(self._key, normalised_pnr.encode(), hashlib.sha256).hexdigest()

    def key_for(self, raw: object) -> tuple[str, identity.Identity]:
        """Validate, normalise and pseudonymise; raises identity.InvalidIdentity with a reason code."""
        ident = identity.parse(raw, today=date.today())
        return self.student_key(ident.normalised), ident

    def source_ref(self, namespace: str, source_id: str) -> str:
        """Keyed reference for a source system id (e.g. an SS 12000 person id) that must not be stored."""
        mac = hmac.new(self._key, f"{namespace}:{source_id}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymiser(<secret>)"


def load_key(explicit: str | bytes | None = None, home: Path | None = None) -> bytes:
    """The pseudonym key: explicit value, SKOLSAM_PSEUDONYM_KEY, or the local key file (created once)."""
    if explicit:
        return explicit.encode() if isinstance(explicit, str) else explicit
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    from .settings import project_home

    path = (home or project_home()) / "secrets" / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def default() -> Pseudonymiser:
    return Pseudonymiser(load_key())
