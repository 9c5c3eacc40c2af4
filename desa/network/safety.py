"""Safety around a push: a backup before any change, an armed revert for risky changes.

- `backup` takes `/export` (text, kept locally) and a binary `/system backup save` on the router,
  downloads the binary over SCP when it can, and keeps both under `state/network/SLUG/STAMP/`.
- `arm_revert` adds a scheduler that loads that binary backup after `seconds` unless it is
  removed: if a change cuts our management access, the router rolls itself back. A revert still
  armed by an earlier push that was never confirmed keeps its backup (the last confirmed state):
  a re-run after a failed push re-arms it with a fresh interval instead of rolling back to the
  half-applied state.
- `confirm` opens a *new* session (proof that management still works) and removes the scheduler.
  Only a push that went through whole is confirmed: one that failed part-way stays armed, so the
  router returns to its last confirmed state by itself unless a re-run completes first.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from desa.network.export import Export
from desa.network.quoting import quote

REVERT_NAME = "desa-revert"


@dataclass
class Backup:
    name: str  # on the router: NAME.backup and NAME.rsc
    local_dir: Path
    export_file: Path
    binary_file: Path | None


def state_root() -> Path:
    return Path(os.environ.get("DESA_STATE", Path(__file__).resolve().parents[2] / "state"))


def backup(session, slug: str, *, root: Path | None = None) -> Backup:
    # unique even for two pushes in one second from one process: a later backup must never replace
    # the one an armed revert will load
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"
    name = f"desa-pre-{stamp}"
    local = (root or state_root()) / "network" / slug / stamp
    local.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(local, 0o700)
    text = session.send("/export", timeout=120)  # secrets hidden (no show-sensitive)
    export_file = local / "export.rsc"
    export_file.write_text(text)
    os.chmod(export_file, 0o600)
    session.send(f"/system backup save name={quote(name)} dont-encrypt=yes", timeout=120)
    session.send(f"/export file={quote(name)}", timeout=120)
    binary = local / f"{name}.backup"
    try:
        download(session, f"{name}.backup", binary)
        os.chmod(binary, 0o600)
    except Exception:  # noqa: BLE001 - the copy on the router is what the revert loads
        binary = None
    return Backup(name=name, local_dir=local, export_file=export_file, binary_file=binary)


def download(session, remote: str, local: Path, timeout: float = 60.0) -> None:
    from scp import SCPClient

    transport = session.conn.remote_conn.get_transport()
    with SCPClient(transport, socket_timeout=timeout) as client:
        client.get(remote, str(local))


def upload(session, local: Path | str, remote: str, timeout: float = 60.0) -> None:
    from scp import SCPClient

    transport = session.conn.remote_conn.get_transport()
    with SCPClient(transport, socket_timeout=timeout) as client:
        client.put(str(local), remote)


def pending_revert(current: Export) -> str | None:
    """The backup a revert armed by an earlier, unconfirmed push would load (None: nothing armed),
    read from the running configuration the push was planned from."""
    for item in current.menu("/system scheduler"):
        if item.props.get("name") == REVERT_NAME:
            found = re.search(r'backup load name="?([^"\s]+?)\.backup', item.props.get("on-event", ""))
            if found:
                return found.group(1)
    return None


def arm_revert(session, current: Export, backup_name: str, seconds: int) -> str:
    """Arm the self-revert: unless confirmed within `seconds`, the router loads a backup — the one
    an earlier unconfirmed push armed if `current` (the running configuration) shows one, else
    `backup_name`. Returns that backup."""
    target = pending_revert(current) or backup_name
    session.send(f"/system scheduler remove [ find name={quote(REVERT_NAME)} ]")
    event = f'/system backup load name="{target}.backup" password=""'
    session.send(f"/system scheduler add name={quote(REVERT_NAME)} interval={seconds}s "
                 f"on-event={quote(event)} comment={quote('desa: reverts an unconfirmed push')}")
    return target


def confirm(open_session, *, attempts: int = 3, delay: float = 2.0) -> bool:
    """Prove management still works with a new session, then disarm. False if we cannot get in."""
    for attempt in range(attempts):
        try:
            with open_session() as fresh:
                fresh.send("/system identity print")
                fresh.send(f"/system scheduler remove [ find name={quote(REVERT_NAME)} ]")
                return True
        except Exception:  # noqa: BLE001 - any failure to get in means management is cut
            if attempt + 1 < attempts:
                time.sleep(delay)
    return False
