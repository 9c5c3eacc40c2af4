"""Run one command on a site's server over OpenSSH (the lab's ssh_config in the lab), bounded in time."""

from __future__ import annotations

import subprocess
from pathlib import Path

from desa.intent import SiteIntent


class RemoteError(RuntimeError):
    """The server could not be reached, or the command failed (its stderr in the message)."""


def ssh_argv(intent: SiteIntent, *, lab: bool, lab_state: Path | None = None) -> list[str]:
    if lab:
        from desa.lab import Lab

        config = Lab(lab_state).ssh_config
        if not config.exists():
            raise RemoteError(f"lab ssh_config {config} is missing → run `desa lab up {intent.slug}`")
        return ["ssh", "-F", str(config), "-o", "BatchMode=yes", intent.server.hostname]
    return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "-p", str(intent.server.ssh_port),
            f"{intent.server.ssh_user}@{intent.server.address}"]


def run(intent: SiteIntent, command: str, *, lab: bool, lab_state: Path | None = None,
        timeout: float = 600) -> str:
    """`command` via sudo on the site's server; its stdout. Raises RemoteError."""
    argv = [*ssh_argv(intent, lab=lab, lab_state=lab_state), f"sudo -n {command}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{intent.server.hostname}: `{command.split()[0]}` did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise RemoteError(f"{intent.server.hostname}: {detail[-1] if detail else f'exit status {done.returncode}'}")
    return done.stdout
