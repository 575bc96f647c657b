"""The local key file (laptop, demo) is created atomically: never half a key, and racing processes end with
one key (issue 10, left-alone item)."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from skolsam import pseudonym


def _race(path: str, start, out) -> None:
    import secrets
    import time
    from pathlib import Path

    real = secrets.token_hex

    def slow_token(n):  # a slow disk: every racer is inside the creation at once
        time.sleep(0.3)
        return real(n)

    secrets.token_hex = slow_token
    start.wait()
    try:
        out.put(pseudonym._key_file(Path(path)).decode())
    except Exception as exc:  # the parent sees the failure as a value, not as a hang
        out.put(f"error: {type(exc).__name__}")


def test_processes_racing_to_create_the_key_file_end_with_one_key(tmp_path):
    path = tmp_path / "secrets" / pseudonym.KEY_FILE
    ctx = multiprocessing.get_context("fork")
    n = 8
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(path), start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    keys = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(keys)) == 1 and path.read_text() == keys[0]
    pseudonym.check_key(keys[0])  # a whole, strong key
    assert (path.stat().st_mode & 0o777) == 0o600 and (path.parent.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [pseudonym.KEY_FILE]  # no temporary left


def test_a_crash_while_writing_leaves_no_key_file_not_half_a_key(tmp_path, monkeypatch):
    path = tmp_path / "secrets" / pseudonym.KEY_FILE

    def broken(n):  # the process dies while making the key
        raise OSError("disk full")

    monkeypatch.setattr(pseudonym.secrets, "token_hex", broken)
    with pytest.raises(OSError, match="disk full"):
        pseudonym._key_file(path)
    assert list(path.parent.iterdir()) == []  # neither the key nor its temporary file
    monkeypatch.undo()
    key = pseudonym._key_file(path)
    assert pseudonym._key_file(path) == key and len(key) == pseudonym.KEY_MIN_CHARS


def test_an_existing_key_file_is_never_replaced(tmp_path):
    path = tmp_path / "secrets" / pseudonym.KEY_FILE
    first = pseudonym._key_file(path)
    os.utime(path, (0, 0))
    assert pseudonym._key_file(path) == first and path.stat().st_mtime == 0
