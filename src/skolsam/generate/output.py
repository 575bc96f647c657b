"""Files written while hashing them, and the manifest that lists them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


class HashingWriter:
    """A binary file that counts records and keeps a sha256 of what was written."""

    def __init__(self, root: Path, relpath: str):
        self.relpath = relpath
        self.path = root / relpath
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "wb", buffering=1 << 20)
        self._hash = hashlib.sha256()
        self.records = 0
        self.bytes = 0

    def write(self, data: bytes, records: int = 0) -> None:
        self._fh.write(data)
        self._hash.update(data)
        self.bytes += len(data)
        self.records += records

    def close(self) -> "FileEntry":
        self._fh.close()
        return FileEntry(self.relpath, self.records, self.bytes, self._hash.hexdigest())

    def __enter__(self) -> "HashingWriter":
        return self

    def __exit__(self, *exc) -> None:
        if not self._fh.closed:
            self._fh.close()


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the dataset folder, '/'-separated
    records: int  # objects (SS 12000) or data rows (CSV, blank and header lines not counted)
    bytes: int
    sha256: str


@dataclass
class Manifest:
    seed: int
    pupils: int
    terms: list[str]
    version: str
    counts: dict[str, int] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)
    # effect mode only: programme -> the planted rise in share passed while enrolled
    planted_effect: dict[str, float] = field(default_factory=dict)
    # several school systems only: the source ids, each in sources/<id>/ss12000/ (empty: one, in ss12000/)
    sources: list[str] = field(default_factory=list)

    def source_dirs(self, root: Path) -> dict[str, Path]:
        """Source id -> the folder the stand-in serves for it (holding ``ss12000/``)."""
        if not self.sources:
            return {"stockholm": Path(root)}
        return {sid: Path(root) / "sources" / sid for sid in self.sources}

    def file(self, path: str) -> FileEntry:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": "skolsam.generate",
            "version": self.version,
            "seed": self.seed,
            "pupils": self.pupils,
            "terms": list(self.terms),
            "counts": dict(self.counts),
            **({"planted_effect": dict(self.planted_effect)} if self.planted_effect else {}),
            **({"sources": list(self.sources)} if self.sources else {}),
            "files": {f.path: {"records": f.records, "bytes": f.bytes, "sha256": f.sha256} for f in self.files},
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        d = orjson.loads(Path(path).read_bytes())
        m = cls(d["seed"], d["pupils"], d["terms"], d["version"], dict(d.get("counts", {})))
        m.files = [FileEntry(p, v["records"], v["bytes"], v["sha256"]) for p, v in d.get("files", {}).items()]
        m.planted_effect = dict(d.get("planted_effect", {}))
        m.sources = list(d.get("sources", []))
        return m
