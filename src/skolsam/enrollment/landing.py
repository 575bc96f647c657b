"""The landing folder's file operations, safe against symbolic links (issue 17, finding 3).

Whoever may drop a list in the landing folder may also drop a symbolic link there, or replace ``archive/``
or ``rejected/`` by one. Followed, such a link moves another district's raw list (personnummer, names) to
where the depositor can read it, writes a reason file anywhere, or has the purge delete a file elsewhere
(the pseudonym key). So, for a local folder, every operation works relative to directory descriptors and
never follows a link:

- the subfolders are opened with ``O_NOFOLLOW | O_DIRECTORY`` and their ``realpath`` must lie inside the
  root: a symlinked ``archive/`` or ``rejected/`` stops the intake (:class:`UnsafeLanding`);
- a delivery is opened with ``O_NOFOLLOW`` and must be a regular file (``fstat``); a link is not read;
- a move is ``link`` + ``unlink`` between the two directory descriptors (never replaces a file; a link
  delivered in the folder is moved as the link itself);
- a reason file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``;
- the purge deletes only regular files (``lstat``) inside the subfolder it opened without following links.

A remote folder (sftp, s3, ...) goes through fsspec: entries that fsspec reports as links or as anything
but a file are not read, and the subfolders must be directories.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

log = logging.getLogger(__name__)

ARCHIVE = "archive"
REJECTED = "rejected"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafeLanding(RuntimeError):
    """The landing folder's layout would make the intake follow a link: nothing is moved or written."""


@dataclass(frozen=True)
class Entry:
    name: str  # base name in the landing folder
    regular: bool  # a regular file (not a link, a fifo, a device)
    size: int | None


class LocalLanding:
    """A landing folder on a local filesystem, handled through directory descriptors."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)

    def exists(self) -> bool:
        return os.path.isdir(self.root)

    def makedirs(self) -> None:
        os.makedirs(self.root, exist_ok=True)

    @contextlib.contextmanager
    def _root_fd(self) -> Iterator[int]:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _sub_fd(self, root_fd: int, sub: str, *, create: bool) -> Iterator[int | None]:
        if create:
            try:
                os.mkdir(sub, 0o700, dir_fd=root_fd)
            except FileExistsError:
                pass
        try:
            fd = os.open(sub, _DIR_FLAGS, dir_fd=root_fd)
        except FileNotFoundError:
            if create:
                raise
            yield None
            return
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeLanding(f"landing subfolder {sub}/ is a symbolic link or not a folder; "
                                    "replace it by a plain folder") from None
            raise
        try:
            expected = os.path.join(self.root, sub)
            if os.path.realpath(expected) != expected:
                raise UnsafeLanding(f"landing subfolder {sub}/ resolves outside the landing folder")
            yield fd
        finally:
            os.close(fd)

    def check(self) -> None:
        """Refuse a landing folder whose existing ``archive/`` or ``rejected/`` is a link."""
        with self._root_fd() as root_fd:
            for sub in (ARCHIVE, REJECTED):
                with self._sub_fd(root_fd, sub, create=False):
                    pass

    def entries(self) -> list[Entry]:
        out = []
        with os.scandir(self.root) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    continue
                regular = e.is_file(follow_symlinks=False)
                size = e.stat(follow_symlinks=False).st_size if regular else None
                out.append(Entry(e.name, regular, size))
        return out

    def opener(self, name: str):
        """A callable opening the delivery for reading, never through a link, only if it is a regular file."""
        def open_stream() -> BinaryIO:
            with self._root_fd() as root_fd:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=root_fd)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, "not a regular file")
            return os.fdopen(fd, "rb")
        return open_stream

    def move(self, name: str, sub: str, target: str, tag: str) -> str:
        """Move ``name`` into ``sub/`` as ``target`` (or ``target`` tagged when taken); returns the new
        path relative to the root. Never follows a link and never replaces a file."""
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=True) as sub_fd:
            for candidate in (target, _tagged(target, tag), _tagged(target, tag + "-2"), _tagged(target, tag + "-3")):
                try:
                    os.link(name, candidate, src_dir_fd=root_fd, dst_dir_fd=sub_fd, follow_symlinks=False)
                except FileExistsError:
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                        raise
                    # No hard links here: rename, after making sure nothing is in the way.
                    try:
                        os.lstat(candidate, dir_fd=sub_fd)
                        continue
                    except FileNotFoundError:
                        os.rename(name, candidate, src_dir_fd=root_fd, dst_dir_fd=sub_fd)
                        return posixpath.join(sub, candidate)
                os.unlink(name, dir_fd=root_fd)
                return posixpath.join(sub, candidate)
        raise FileExistsError(f"no free name in {sub}/")

    def write_new(self, sub: str, name: str, data: bytes) -> None:
        """Create ``sub/name`` (never an existing file, never through a link) with ``data``."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=True) as sub_fd:
            fd = os.open(name, flags, 0o600, dir_fd=sub_fd)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)

    def purge(self, sub: str, cutoff: float) -> int:
        """Delete the regular files in ``sub/`` last modified before ``cutoff``; links and folders stay."""
        removed = 0
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=False) as sub_fd:
            if sub_fd is None:
                return 0
            for e in os.scandir(sub_fd):
                if not e.is_file(follow_symlinks=False):
                    if e.is_symlink():
                        log.warning("landing %s/: a symbolic link was left alone by the purge", sub)
                    continue
                if e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.name, dir_fd=sub_fd)
                    removed += 1
        return removed

    def rewrite(self, sub: str, name: str, data: bytes) -> None:
        """Replace the regular file ``sub/name`` by ``data`` (used by the erasure of archived lists)."""
        tmp = f".{name}.rewrite"
        self.write_new(sub, tmp, data)
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=False) as sub_fd:
            os.rename(tmp, name, src_dir_fd=sub_fd, dst_dir_fd=sub_fd)

    def remove(self, sub: str, name: str) -> None:
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=False) as sub_fd:
            if sub_fd is not None and stat.S_ISREG(os.lstat(name, dir_fd=sub_fd).st_mode):
                os.unlink(name, dir_fd=sub_fd)

    def archived(self, sub: str) -> list[str]:
        """Names of the regular files in ``sub/``."""
        with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=False) as sub_fd:
            if sub_fd is None:
                return []
            return sorted(e.name for e in os.scandir(sub_fd) if e.is_file(follow_symlinks=False))

    def sub_opener(self, sub: str, name: str):
        def open_stream() -> BinaryIO:
            with self._root_fd() as root_fd, self._sub_fd(root_fd, sub, create=False) as sub_fd:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sub_fd)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, "not a regular file")
            return os.fdopen(fd, "rb")
        return open_stream


class RemoteLanding:
    """A landing folder on any fsspec filesystem. Links are not followed where fsspec reports them."""

    def __init__(self, fs: Any, root: str):
        self.fs, self.root = fs, root.rstrip("/") or "/"

    def exists(self) -> bool:
        return self.fs.exists(self.root)

    def makedirs(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)

    def _sub(self, sub: str, *, create: bool) -> str | None:
        folder = posixpath.join(self.root, sub)
        if not self.fs.exists(folder):
            if not create:
                return None
            self.fs.makedirs(folder, exist_ok=True)
        info = self.fs.info(folder)
        if info.get("islink") or info.get("type") != "directory":
            raise UnsafeLanding(f"landing subfolder {sub}/ is a symbolic link or not a folder")
        return folder

    def check(self) -> None:
        for sub in (ARCHIVE, REJECTED):
            self._sub(sub, create=False)

    def entries(self) -> list[Entry]:
        out = []
        for info in self.fs.ls(self.root, detail=True):
            if info.get("type") == "directory":
                continue
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            regular = info.get("type") == "file" and not info.get("islink")
            out.append(Entry(name, regular, info.get("size")))
        return out

    def opener(self, name: str):
        path = posixpath.join(self.root, name)
        return lambda: self.fs.open(path, "rb")

    def move(self, name: str, sub: str, target: str, tag: str) -> str:
        folder = self._sub(sub, create=True)
        for candidate in (target, _tagged(target, tag)):
            if not self.fs.exists(posixpath.join(folder, candidate)):
                self.fs.mv(posixpath.join(self.root, name), posixpath.join(folder, candidate))
                return posixpath.join(sub, candidate)
        raise FileExistsError(f"no free name in {sub}/")

    def write_new(self, sub: str, name: str, data: bytes) -> None:
        path = posixpath.join(self._sub(sub, create=True), name)
        if self.fs.exists(path):
            raise FileExistsError(name)
        self.fs.pipe_file(path, data)

    def purge(self, sub: str, cutoff: float) -> int:
        folder = self._sub(sub, create=False)
        if folder is None:
            return 0
        removed = 0
        for entry in self.fs.ls(folder, detail=True):
            if entry.get("type") != "file" or entry.get("islink"):
                continue
            modified = entry.get("mtime") or entry.get("LastModified") or entry.get("created")
            if hasattr(modified, "timestamp"):
                modified = modified.timestamp()
            if modified is not None and float(modified) < cutoff:
                self.fs.rm(entry["name"])
                removed += 1
        return removed

    def rewrite(self, sub: str, name: str, data: bytes) -> None:
        self.fs.pipe_file(posixpath.join(self._sub(sub, create=False), name), data)

    def remove(self, sub: str, name: str) -> None:
        self.fs.rm(posixpath.join(self._sub(sub, create=False), name))

    def archived(self, sub: str) -> list[str]:
        folder = self._sub(sub, create=False)
        if folder is None:
            return []
        return sorted(posixpath.basename(str(e["name"])) for e in self.fs.ls(folder, detail=True)
                      if e.get("type") == "file" and not e.get("islink"))

    def sub_opener(self, sub: str, name: str):
        path = posixpath.join(self.root, sub, name)
        return lambda: self.fs.open(path, "rb")


def _tagged(name: str, tag: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{tag}{dot}{ext}" if dot else f"{name}.{tag}"


def open_landing(fs: Any, root: str) -> LocalLanding | RemoteLanding:
    """The landing handler for an fsspec filesystem and root (see intake.landing_fs)."""
    protocol = getattr(fs, "protocol", "")
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    if "file" in protocols or "local" in protocols:
        return LocalLanding(root)
    return RemoteLanding(fs, root)


def read_all(open_stream) -> bytes:
    """Whole content of a small file (reason files, tests)."""
    with open_stream() as fh:
        buf = io.BytesIO()
        while chunk := fh.read(1 << 16):
            buf.write(chunk)
        return buf.getvalue()
