"""Results of deploy stages, per site and host — what changed, what failed (Nornir-style)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class HostResult:
    host: str
    changed: int = 0
    failed: bool = False
    error: str | None = None
    operations: list[dict] = field(default_factory=list)  # {"name": str, "changed": bool, "failed": bool}


@dataclass
class StageResult:
    """One stage (network, hub, server, app) of one site."""

    stage: str
    site: str
    hosts: dict[str, HostResult] = field(default_factory=dict)
    skipped: str | None = None  # why the stage did not run (an earlier stage failed, say)

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    @property
    def failed(self) -> bool:
        return any(h.failed for h in self.hosts.values())

    @property
    def error(self) -> str | None:
        errors = [f"{h.host}: {h.error}" for h in self.hosts.values() if h.error]
        return "; ".join(errors) or None

    def as_dict(self) -> dict:
        return {"stage": self.stage, "site": self.site, "changed": self.changed, "failed": self.failed,
                "error": self.error, "skipped": self.skipped,
                "hosts": {n: asdict(h) for n, h in self.hosts.items()}}
