"""Pseudonymisation: ``student_key`` = HMAC-SHA256 over the normalised 12-digit personnummer.

The key is a secret held outside the warehouse and the repository (an Airflow Connection, a secrets
backend, or for the local demo a key file under SKOLSAM_HOME created once with mode 0600). Both the
SS 12000 extract and the enrollment intake use the same Pseudonymiser so the join works on the key alone.

The personnummer space is small (a few million numbers per range of birth years): whoever holds the key
recovers the number behind any ``student_key`` by trying them all, in under a minute. So a key must be at
least 32 random bytes, written as at least 64 characters (``secrets.token_hex(32)``, ``openssl rand -hex
32``), and :func:`check_key` refuses keys that are long but not random (``aaaa…``, ``0123…`` repeated,
``deadbeef`` × 8, the alphabet). The check is a guard against a typed or placeholder key, not a proof of
randomness.

A second key, held apart (Connection ``skolsam_mart_pseudonym``), derives the per-term pseudonym of
``mart.participant_term`` (:class:`TermPseudonymiser`, DESIGN 5): HMAC of the warehouse ``student_key`` and
the term, so an analyst's rows cannot be linked across terms or back to staging and core.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import math
import os
import secrets
import tempfile
import zlib
from datetime import date
from pathlib import Path

from . import identity
from .errors import DeterministicError

KEY_ENV = "SKOLSAM_PSEUDONYM_KEY"
MART_KEY_ENV = "SKOLSAM_MART_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"
MART_KEY_FILE = "mart_pseudonym.key"
KEY_MIN_BYTES = 32  # random bytes
KEY_MIN_CHARS = 2 * KEY_MIN_BYTES  # as text (hex): 64 characters
# Low-entropy guards, over the first 64 characters. Random hex scores at least 3.3 bits per character
# (over 100,000 keys), compresses to at least 54 bytes, and has about 12 of 63 neighbours one apart.
_MIN_BITS_PER_CHAR = 3.0
_MIN_COMPRESSED = 40
_MAX_STEP_SHARE = 0.5


class WeakKey(DeterministicError, ValueError):
    """The key is too short or not random enough. The message never holds the key."""


def _text(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def check_key(key: bytes | str, what: str = "pseudonym key") -> bytes:
    """The key as bytes, or WeakKey: at least 64 characters, and not repetitive, sequential or compressible."""
    raw = _text(key)
    if len(raw) < KEY_MIN_CHARS:
        raise WeakKey(f"{what} must be at least {KEY_MIN_BYTES} random bytes, written as {KEY_MIN_CHARS} hex "
                      f"characters (openssl rand -hex {KEY_MIN_BYTES}); it has {len(raw)} characters")
    head = raw[:KEY_MIN_CHARS]
    counts = collections.Counter(head)
    bits = -sum(c / len(head) * math.log2(c / len(head)) for c in counts.values())
    steps = sum(1 for a, b in zip(head, head[1:]) if abs(a - b) <= 1) / (len(head) - 1)
    if bits < _MIN_BITS_PER_CHAR or len(zlib.compress(head, 9)) < _MIN_COMPRESSED or steps > _MAX_STEP_SHARE:
        raise WeakKey(f"{what} looks typed or repeated, not random: make one with openssl rand -hex "
                      f"{KEY_MIN_BYTES}")
    return raw


class Pseudonymiser:
    def __init__(self, key: bytes | str):
        self._key = check_key(key)

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

    def same_key(self, other: "Pseudonymiser") -> bool:
        return hmac.compare_digest(self._key, other._key)

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymiser(<secret>)"


class TermPseudonymiser:
    """The per-term pupil key of mart.participant_term: HMAC-SHA256(mart key, student_key ':' term)."""

    def __init__(self, key: bytes | str):
        self._key = check_key(key, "mart pseudonym key")

    def term_key(self, student_key: str, term: str) -> str:
        return hmac.new(self._key, f"{student_key}:{term}".encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "TermPseudonymiser(<secret>)"


def _key_file(path: Path) -> bytes:
    """The local key file (created once with a fresh 32-byte key, mode 0600): for a laptop or the demo.

    Created without a window in which another process could read a half-written or empty key: the key is
    written and synced to a temporary file in the same folder (mode 0600 from the start), then hard-linked to
    its name. A link, not ``os.replace``: a link never replaces an existing file, so when two processes race
    the first link wins and the other reads the winner's key (with replace, each could go on with its own
    key and pseudonymise the same pupil twice). A crash leaves no key file rather than a broken one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(KEY_MIN_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: its key is the key
        finally:
            os.unlink(tmp)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as fh:
        return fh.read().strip().encode()


def load_key(explicit: str | bytes | None = None, home: Path | None = None) -> bytes:
    """The pseudonym key: explicit value, SKOLSAM_PSEUDONYM_KEY, or the local key file (created once)."""
    if explicit:
        return _text(explicit)
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    from .settings import project_home

    return _key_file((home or project_home()) / "secrets" / KEY_FILE)


def load_mart_key(explicit: str | bytes | None = None, home: Path | None = None) -> bytes:
    """The mart's per-term key: explicit value, SKOLSAM_MART_PSEUDONYM_KEY, or its own local key file."""
    if explicit:
        return _text(explicit)
    env = os.environ.get(MART_KEY_ENV)
    if env:
        return env.encode()
    from .settings import project_home

    return _key_file((home or project_home()) / "secrets" / MART_KEY_FILE)


def default() -> Pseudonymiser:
    return Pseudonymiser(load_key())


def default_mart() -> TermPseudonymiser:
    return TermPseudonymiser(load_mart_key())
