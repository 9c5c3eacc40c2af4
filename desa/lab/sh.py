"""Running the host's tools with bounded time and errors that say what failed."""

from __future__ import annotations

import subprocess

from desa.lab.errors import LabError


def run(cmd: list[str], *, check: bool = True, timeout: float = 60, input: str | None = None,
        what: str | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise LabError(f"{what or cmd[0]} did not finish within {timeout:.0f} s: {' '.join(cmd)}") from None
    except FileNotFoundError:
        raise LabError(f"{cmd[0]} is not installed → run `desa lab up` as root (it installs the lab's "
                       f"Debian packages)") from None
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{what or ' '.join(cmd)} failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
    return proc
