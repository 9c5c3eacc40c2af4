"""The run journal: what changed where, when and by whom — one JSON line per deploy run.

Kept in `state/journal.jsonl` (git-ignored runtime state of the repository checkout).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from desa.inventory import PROJECT_ROOT
from desa.results import StageResult


def state_dir() -> Path:
    return Path(os.environ.get("DESA_STATE", PROJECT_ROOT / "state"))


def journal_path() -> Path:
    return state_dir() / "journal.jsonl"


def _revision() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class Run:
    sites: list[str]
    only: list[str]
    lab: bool
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: float = field(default_factory=time.time)
    by: str = field(default_factory=lambda: f"{getpass.getuser()}@{socket.gethostname()}")
    revision: str | None = field(default_factory=_revision)
    results: list[StageResult] = field(default_factory=list)
    finished: float | None = None

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.failed)

    def as_dict(self) -> dict:
        return {
            "id": self.id, "started": self.started, "finished": self.finished, "by": self.by,
            "revision": self.revision, "sites": self.sites, "only": self.only, "lab": self.lab,
            "changed": self.changed, "failed": self.failed,
            "results": [r.as_dict() for r in self.results],
        }


def record(run: Run) -> Path:
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(run.as_dict(), sort_keys=True) + "\n")
    return path


def runs(path: Path | None = None) -> list[dict]:
    path = path or journal_path()
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a run killed mid-write leaves a partial line; the rest stays readable
    return out


def last_deploy(site: str, path: Path | None = None) -> dict | None:
    """The last run that deployed this site: when, by whom, changed/failed for the site."""
    for run in reversed(runs(path)):
        mine = [r for r in run.get("results", []) if r.get("site") == site]
        if mine:
            return {"id": run["id"], "finished": run.get("finished"), "by": run.get("by"),
                    "revision": run.get("revision"),
                    "changed": sum(r["changed"] for r in mine), "failed": any(r["failed"] for r in mine)}
    return None
