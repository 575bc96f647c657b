"""Keeping personal data out of quality results and Data Docs.

The suites never select a key in a custom query, and the gate asks Great Expectations for counts only on
key-like columns (see ``skolsam.quality.suites.is_key_like``). This module is the backstop behind both:
``scrub`` replaces anything that looks like a pseudonymous key (32 or more hex digits: a ``student_key`` is
64, a ``person_ref`` 32) or a valid personnummer / samordningsnummer with ``[redacted]``, and
``scan_tree`` lists the files of a folder that still hold one (tests and the gate use it on Data Docs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from .. import identity

REDACTED = "[redacted]"
# A run of 32+ hex digits not part of a longer run: student_key (64), person_ref (32), any HMAC or hash.
HEX_KEY = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])")
STUDENT_KEY = re.compile(r"(?<![0-9A-Fa-f])[0-9a-f]{64}(?![0-9A-Fa-f])")


def personnummer_candidates(text: str) -> list[str]:
    """Digit runs in ``text`` that are valid personnummer or samordningsnummer (check digit and date)."""
    return [m.group(0) for m in identity.CANDIDATE.finditer(text) if identity.is_valid(m.group(0))]


def findings(text: str) -> list[str]:
    """What in ``text`` looks like personal data, as kinds ('student_key', 'hex_key', 'personnummer'),
    never the values themselves."""
    kinds = []
    for m in HEX_KEY.finditer(text):
        kinds.append("student_key" if STUDENT_KEY.fullmatch(m.group(0)) else "hex_key")
    kinds.extend("personnummer" for _ in personnummer_candidates(text))
    return kinds


def scrub(text: str) -> str:
    """``text`` with keys and valid personnummer replaced by ``[redacted]``."""
    text = HEX_KEY.sub(REDACTED, text)
    return identity.CANDIDATE.sub(lambda m: REDACTED if identity.is_valid(m.group(0)) else m.group(0), text)


def scrub_value(value: Any) -> Any:
    """Scrub every string inside a JSON-like value (dict keys included), keeping its shape."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub_value(v) for v in value)
    return value


def _read_text(path: Path) -> str:
    if path.suffix == ".pdf":
        text = _pdf_text(path)
        if text is not None:
            return text
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pdf_text(path: Path) -> str | None:
    """A PDF's text and metadata, as a reader sees them. Its raw bytes hold the file's own /ID and font
    subset hashes (32 hex digits, not data), which would read as keys; without pypdf the bytes are scanned."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    reader = PdfReader(str(path))
    parts = [page.extract_text() or "" for page in reader.pages]
    parts.extend(str(v) for v in (reader.metadata or {}).values())
    return "\n".join(parts)


def scan_tree(root: Path, *, skip: Iterable[str] = ()) -> list[tuple[Path, str]]:
    """(file, kind) for every finding in the files under ``root`` (binary files are read as latin-1).
    ``skip`` names top-level folders to leave out."""
    skipped = set(skip)
    out: list[tuple[Path, str]] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in skipped:
            continue
        out.extend((path, kind) for kind in findings(_read_text(path)))
    return out


def scrub_tree(root: Path, *, suffixes: tuple[str, ...] = (".html", ".json"), skip: Iterable[str] = ("static",)) -> int:
    """Scrub the text files under ``root`` in place; returns how many files changed."""
    skipped = set(skip)
    changed = 0
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in suffixes:
            continue
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in skipped:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = scrub(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed += 1
    return changed
