"""`desa app rollback SITE`: back to the release before the last upgrade, with the dump taken before it.

The server does the work (desa-opensid-rollback, installed by roles/app.py), under the same lock as
the release switch: the database as it is now is dumped first (records written since the upgrade are
in that dump, nothing is lost), the pre-upgrade dump is restored, `current` switches back, PHP-FPM
reloads. The inventory still names the newer release: set `app.release` back to the older one, or the
next `desa deploy` upgrades again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desa.app import release as rel
from desa.app.remote import RemoteError, run
from desa.intent import SiteIntent


class RollbackError(RuntimeError):
    pass


@dataclass(frozen=True)
class RollbackResult:
    site: str
    rolled_back_from: str
    to: str
    restored_dump: str
    saved_dump: str  # the database as it was just before the rollback


def parse_output(site: str, text: str) -> RollbackResult:
    for line in text.splitlines():
        if line.startswith("rolled back "):
            fields = dict(part.split("=", 1) for part in line.removeprefix("rolled back ").split())
            return RollbackResult(site, fields["from"], fields["to"], fields["dump"], fields["saved"])
    raise RollbackError(f"{site}: unexpected answer from {rel.ROLLBACK}: {text.strip()[:200]!r}")


def rollback(intent: SiteIntent, *, lab: bool = False, lab_state: Path | None = None) -> RollbackResult:
    if intent.app is None or intent.app.kind != "opensid":
        kind = intent.app.kind if intent.app else "no"
        raise RollbackError(f"{intent.slug} runs {kind} app: only OpenSID-shaped apps have releases to roll back")
    try:
        return parse_output(intent.slug, run(intent, rel.ROLLBACK, lab=lab, lab_state=lab_state))
    except RemoteError as e:
        raise RollbackError(str(e)) from None


def status(intent: SiteIntent, *, lab: bool = False, lab_state: Path | None = None) -> rel.ReleaseState:
    """The release state on the server (current, complete releases, rollback target)."""
    if intent.app is None or intent.app.kind != "opensid":
        raise RollbackError(f"{intent.slug}: no OpenSID-shaped app, so no releases")
    try:
        out = run(intent, f"sh -c {_quote(rel.OpensidRelease().command())}", lab=lab, lab_state=lab_state, timeout=60)
    except RemoteError as e:
        raise RollbackError(str(e)) from None
    return rel.parse_state(out.splitlines())


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)
