"""Where report drafts and published reports live: one location (a path or an fsspec URL) all workers share.

Layout under the location (``Settings.report_location``, default ``$SKOLSAM_HOME/reports``)::

    drafts/<term>/<draft_id>/      the files of one draft, draft.json (term, build id, gate status,
                                   headline), report_inputs.json (what its report was drawn from, never
                                   published) and, once decided, decision.json
    published/<term>/              the approved files of the term's current publication + publication.json
                                   (the report re-rendered from the draft's inputs as "Slutlig", or "Ej
                                   granskad" when nobody approved it; the exports as drafted)
    published/<term>/earlier/<id>/ earlier publications of the same term, moved aside, never deleted
    announcements.jsonl            one line per announcement (published, rejected), no recipient addresses

Drafts are kept whatever the decision, so a rejected draft can still be read. Every term keeps its own
folder, so publishing VT2026 never touches HT2025. Files are written through fsspec: a local folder, an
NFS mount, ``s3://`` or ``sftp://`` behave the same.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings, project_home

DRAFT_MANIFEST = "draft.json"
DECISION = "decision.json"
PUBLICATION = "publication.json"
ANNOUNCEMENTS = "announcements.jsonl"


try:  # the project's error base (fail fast, no retries), once skolsam.errors exists
    from ..errors import DeterministicError as _Deterministic
except ImportError:  # pragma: no cover - before the error hierarchy lands
    _Deterministic = RuntimeError


class PublicationError(_Deterministic):
    """A draft cannot be published (missing, already decided, or rejected): retrying cannot help."""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def default_location(settings: Settings | None = None) -> str:
    settings = settings or Settings.load()
    return settings.report_location or str(project_home() / "reports")


@dataclass
class ReportStore:
    location: str

    def __post_init__(self) -> None:
        import fsspec

        self.fs, root = fsspec.core.url_to_fs(self.location)
        self.root = root.rstrip("/") or "/"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "ReportStore":
        return cls(default_location(settings))

    # -- paths ---------------------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def url(self, path: str) -> str:
        """A path as the user can open it: plain for local folders, with the protocol otherwise."""
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return path if protocol in ("file", "local") else self.fs.unstrip_protocol(path)

    def draft_dir(self, term: str, draft_id: str) -> str:
        return self.path("drafts", term, draft_id)

    def published_dir(self, term: str) -> str:
        return self.path("published", term)

    # -- json helpers -------------------------------------------------------------------------------------
    def _write_json(self, path: str, data: dict) -> None:
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with self.fs.open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=True)

    def _read_json(self, path: str) -> dict | None:
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)

    def _files(self, folder: str) -> list[str]:
        """File names directly in ``folder`` (no sub-folders), sorted."""
        if not self.fs.exists(folder):
            return []
        return sorted(posixpath.basename(p["name"].rstrip("/")) for p in self.fs.ls(folder, detail=True)
                      if p["type"] == "file")

    # -- drafts -------------------------------------------------------------------------------------------
    def write_draft(self, term: str, draft_id: str, local_dir: Path, manifest: dict) -> dict:
        """Upload every file of ``local_dir`` (sub-folders included) as a draft; draft.json is written last."""
        target = self.draft_dir(term, draft_id)
        self.fs.makedirs(target, exist_ok=True)
        files = []
        for f in sorted(Path(local_dir).rglob("*")):
            if f.is_file():
                rel = f.relative_to(local_dir).as_posix()
                self.fs.makedirs(posixpath.dirname(posixpath.join(target, rel)), exist_ok=True)
                self.fs.put_file(str(f), posixpath.join(target, rel))
                files.append(rel)
        manifest = {**manifest, "term": term, "draft_id": draft_id, "files": files,
                    "location": self.url(target), "created_at": manifest.get("created_at") or now_iso()}
        self._write_json(posixpath.join(target, DRAFT_MANIFEST), manifest)
        return manifest

    def add_to_draft(self, term: str, draft_id: str, local_dir: Path, subfolder: str) -> list[str]:
        """Add the files of ``local_dir`` under ``subfolder`` of an existing draft and list them in draft.json."""
        manifest = self.draft(term, draft_id)
        if manifest is None:
            raise PublicationError(f"no draft {draft_id} for {term}")
        target = self.draft_dir(term, draft_id)
        added = []
        for f in sorted(Path(local_dir).rglob("*")):
            if f.is_file():
                rel = posixpath.join(subfolder, f.relative_to(local_dir).as_posix())
                self.fs.makedirs(posixpath.dirname(posixpath.join(target, rel)), exist_ok=True)
                self.fs.put_file(str(f), posixpath.join(target, rel))
                added.append(rel)
        manifest["files"] = sorted(set(manifest.get("files", [])) | set(added))
        self._write_json(posixpath.join(target, DRAFT_MANIFEST), manifest)
        return added

    def write_draft_file(self, term: str, draft_id: str, name: str, data: bytes) -> None:
        """A file kept beside the draft but not among its files (so never published): its report's inputs."""
        path = posixpath.join(self.draft_dir(term, draft_id), name)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with self.fs.open(path, "wb") as fh:
            fh.write(data)

    def read_draft_file(self, term: str, draft_id: str, name: str) -> bytes | None:
        path = posixpath.join(self.draft_dir(term, draft_id), name)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def draft(self, term: str, draft_id: str) -> dict | None:
        return self._read_json(posixpath.join(self.draft_dir(term, draft_id), DRAFT_MANIFEST))

    def decision(self, term: str, draft_id: str) -> dict | None:
        return self._read_json(posixpath.join(self.draft_dir(term, draft_id), DECISION))

    def drafts(self, term: str | None = None) -> list[dict]:
        """Every draft manifest (of one term, or all), oldest first, each with its decision if any."""
        out = []
        terms = [term] if term else [posixpath.basename(p.rstrip("/")) for p in self._dirs(self.path("drafts"))]
        for t in terms:
            for d in self._dirs(self.path("drafts", t)):
                draft_id = posixpath.basename(d.rstrip("/"))
                manifest = self.draft(t, draft_id)
                if manifest is not None:
                    manifest["decision"] = self.decision(t, draft_id)
                    out.append(manifest)
        return sorted(out, key=lambda m: (m.get("created_at") or "", m.get("draft_id") or ""))

    def _dirs(self, folder: str) -> list[str]:
        if not self.fs.exists(folder):
            return []
        return sorted(p["name"] for p in self.fs.ls(folder, detail=True) if p["type"] == "directory")

    def record_decision(self, term: str, draft_id: str, decision: dict) -> dict:
        """Write decision.json once: a draft is decided one way, never both."""
        if self.draft(term, draft_id) is None:
            raise PublicationError(f"no draft {draft_id} for {term}")
        earlier = self.decision(term, draft_id)
        if earlier is not None:
            if earlier.get("decision") == decision.get("decision"):
                return earlier  # a retried task: the same decision again changes nothing
            raise PublicationError(f"draft {draft_id} of {term} was already {earlier.get('decision')}")
        decision = {**decision, "term": term, "draft_id": draft_id}
        self._write_json(posixpath.join(self.draft_dir(term, draft_id), DECISION), decision)
        return decision

    # -- publication --------------------------------------------------------------------------------------
    def publish(self, term: str, draft_id: str, rendered: Path | None = None, report_status: str | None = None) -> dict:
        """Copy an approved draft to published/<term>/ (the previous publication moves to earlier/).

        ``rendered``: a local folder with the approved renderings of the draft's report files (status
        "Slutlig", skolsam.publication.signoff); those are published in place of the draft's preliminary
        ones, every other file (the exports) is copied from the draft as it is."""
        manifest = self.draft(term, draft_id)
        decision = self.decision(term, draft_id)
        if manifest is None:
            raise PublicationError(f"no draft {draft_id} for {term}")
        if not decision or decision.get("decision") != "approved":
            raise PublicationError(f"draft {draft_id} of {term} is not approved: nothing is published")
        target = self.published_dir(term)
        current = self.publication(term)
        if current is not None and current.get("draft_id") == draft_id:
            return current  # published already (a retried task)
        if current is not None:
            aside = self.path("published", term, "earlier", f"{current['published_at'][:19].replace(':', '')}"
                              f"_{current['draft_id']}")
            self.fs.makedirs(aside, exist_ok=True)
            for rel in current.get("files", []) + [PUBLICATION]:
                src = posixpath.join(target, rel)
                if self.fs.exists(src):
                    self.fs.makedirs(posixpath.dirname(posixpath.join(aside, rel)), exist_ok=True)
                    self.fs.mv(src, posixpath.join(aside, rel))
        source = self.draft_dir(term, draft_id)
        for rel in manifest["files"]:
            self.fs.makedirs(posixpath.dirname(posixpath.join(target, rel)), exist_ok=True)
            if rendered is not None and (Path(rendered) / rel).is_file():
                self.fs.put_file(str(Path(rendered) / rel), posixpath.join(target, rel))
            else:
                self.fs.copy(posixpath.join(source, rel), posixpath.join(target, rel))
        publication = {
            "term": term, "draft_id": draft_id, "files": manifest["files"], "published_at": now_iso(),
            "build_id": manifest.get("build_id"), "gate_status": manifest.get("gate_status"),
            "approved_by": decision.get("by"), "approved_at": decision.get("at"), "report_status": report_status,
            "comment": decision.get("comment"), "how": decision.get("how"),
            "location": self.url(target),
        }
        self._write_json(posixpath.join(target, PUBLICATION), publication)  # last: marks it complete
        return publication

    def publication(self, term: str) -> dict | None:
        return self._read_json(posixpath.join(self.published_dir(term), PUBLICATION))

    def earlier_publications(self, term: str) -> list[dict]:
        out = []
        for d in self._dirs(self.path("published", term, "earlier")):
            found = self._read_json(posixpath.join(d, PUBLICATION))
            if found:
                out.append({**found, "location": self.url(d)})
        return sorted(out, key=lambda p: p.get("published_at") or "")

    def published_terms(self) -> list[dict]:
        """The current publication of every term, oldest term first."""
        from ..terms import parse_term

        out = []
        for d in self._dirs(self.path("published")):
            term = posixpath.basename(d.rstrip("/"))
            pub = self.publication(term)
            if pub:
                out.append({**pub, "earlier": len(self.earlier_publications(term))})
        return sorted(out, key=lambda p: parse_term(p["term"]).order)

    def report_file(self, term: str) -> str | None:
        """The published HTML report of a term, as a path or URL (None if the term is not published)."""
        pub = self.publication(term)
        if not pub:
            return None
        html = [f for f in pub["files"] if f.endswith(".html") and "/" not in f]
        return self.url(posixpath.join(self.published_dir(term), html[0])) if html else None

    # -- announcements ------------------------------------------------------------------------------------
    def log_announcement(self, record: dict) -> None:
        path = self.path(ANNOUNCEMENTS)
        self.fs.makedirs(self.root, exist_ok=True)
        old = b""
        if self.fs.exists(path):
            with self.fs.open(path, "rb") as fh:
                old = fh.read()
        # Rewritten whole: object stores have no append; the file stays small (a few lines a term).
        with self.fs.open(path, "wb") as fh:
            fh.write(old + (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))

    def announcements(self) -> list[dict]:
        path = self.path(ANNOUNCEMENTS)
        if not self.fs.exists(path):
            return []
        with self.fs.open(path, "r", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
