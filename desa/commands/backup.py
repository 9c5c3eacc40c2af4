"""`desa backup SITE` and `desa restore SITE PATH`: the server's encrypted backups on its hub.

    desa backup SITE [--lab]                        take a backup now (hooks, restic backup, retention)
    desa backup SITE --list [--lab]                 list the snapshots
    desa restore SITE PATH [--snapshot latest] [--target /] [--lab] [-y]
                                                    restore PATH (a file or folder) from the hub

Both run `/usr/local/sbin/desa-backup` (roles/backup.py) on the server over SSH with sudo; the restic
password never leaves the server. Restoring to `/` overwrites the current files of PATH: it asks first
unless -y; `--target DIR` restores beside them (DIR/PATH) for a look first.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from desa import inventory as inventory_mod
from desa.console import err, out
from desa.errors import DesaError, UsageError
from desa.intent import SiteIntent

InventoryOpt = Annotated[Optional[Path], typer.Option("--inventory", "-i", help="Inventory folder (default: $DESA_INVENTORY or ./inventory)")]
LabOpt = Annotated[bool, typer.Option("--lab", help="The site's server in the lab (`desa lab up`)")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="Lab state folder (default: $DESA_LAB_STATE or state/lab)")]
SCRIPT = "/usr/local/sbin/desa-backup"


class BackupError(DesaError):
    """A backup or restore failed on the server."""


def _remote(intent: SiteIntent, command: str, *, lab: bool, lab_state: Path | None, timeout: float) -> str:
    from desa.app.remote import RemoteError, run

    try:
        return run(intent, command, lab=lab, lab_state=lab_state, timeout=timeout)
    except RemoteError as e:
        from desa.secrets import mask

        raise BackupError(mask(f"{e} → check `desa check {intent.slug}` (vpn, backup) and the hub")) from None


def take(intent: SiteIntent, *, lab: bool = False, lab_state: Path | None = None, timeout: float = 3600) -> str:
    return _remote(intent, f"{SCRIPT} run", lab=lab, lab_state=lab_state, timeout=timeout)


def snapshots(intent: SiteIntent, *, lab: bool = False, lab_state: Path | None = None) -> str:
    return _remote(intent, f"{SCRIPT} snapshots", lab=lab, lab_state=lab_state, timeout=300)


def restore_path(intent: SiteIntent, path: str, *, snapshot: str = "latest", target: str = "/", lab: bool = False,
                 lab_state: Path | None = None, timeout: float = 3600) -> str:
    if not path.startswith("/") or ".." in path.split("/"):
        raise UsageError(f"{path!r}: give an absolute path on the server, e.g. /srv/desa/opensid/shared/desa")
    if not target.startswith("/"):
        raise UsageError(f"--target {target!r}: give an absolute folder on the server")
    cmd = f"{SCRIPT} restore {shlex.quote(snapshot)} {shlex.quote(path)} {shlex.quote(target)}"
    return _remote(intent, cmd, lab=lab, lab_state=lab_state, timeout=timeout)


def backup(
    site: Annotated[str, typer.Argument(help="Site slug or kode")],
    list_: Annotated[bool, typer.Option("--list", help="List the snapshots instead")] = False,
    lab: LabOpt = False,
    root: InventoryOpt = None,
    state: StateOpt = None,
) -> None:
    """Back up the site's server to its hub now (or list its snapshots)."""
    intent = inventory_mod.load(root).site(site)
    if list_:
        out.print(snapshots(intent, lab=lab, lab_state=state), highlight=False, markup=False, end="")
        return
    take(intent, lab=lab, lab_state=state)
    err.print(f"backup of {intent.server.hostname} taken")
    out.print(snapshots(intent, lab=lab, lab_state=state), highlight=False, markup=False, end="")


def restore(
    site: Annotated[str, typer.Argument(help="Site slug or kode")],
    path: Annotated[str, typer.Argument(help="Absolute path to restore (file or folder)")],
    snapshot: Annotated[str, typer.Option(help="Snapshot id, or latest")] = "latest",
    target: Annotated[str, typer.Option(help="Restore under this folder (/ = in place)")] = "/",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before restoring in place")] = False,
    lab: LabOpt = False,
    root: InventoryOpt = None,
    state: StateOpt = None,
) -> None:
    """Restore PATH on the site's server from its backups on the hub."""
    intent = inventory_mod.load(root).site(site)
    if target == "/" and not yes and not typer.confirm(f"overwrite {path} on {intent.server.hostname} with "
                                                        f"snapshot {snapshot}?"):
        raise typer.Exit(1)
    text = restore_path(intent, path, snapshot=snapshot, target=target, lab=lab, lab_state=state)
    out.print(text, highlight=False, markup=False, end="")
    err.print(f"restored {path} on {intent.server.hostname} from snapshot {snapshot}"
              + (f" under {target}" if target != "/" else ""))
