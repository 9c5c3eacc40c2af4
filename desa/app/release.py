"""Releases of an OpenSID-shaped app on a server: versioned folders, a `current` switch, data kept apart.

Layout under BASE (/srv/desa/opensid):
    releases/VERSION/        one unpacked release, root-owned, read-only to the web server
    releases/VERSION/{desa,storage,backup_inkremental} → ../../shared/…   (villager data, never in a release)
    shared/desa/             the app's `desa/` folder: config/, upload/, app_key … (seeded once from the
                             release's `desa-contoh/`, copied without overwriting anything)
    shared/storage/, shared/backup_inkremental/
    current → releases/VERSION
    .state/                  root-only: lock, pid of a running switch, `previous` (what rollback returns to),
                             one `complete-VERSION` marker per fully unpacked release

The switch itself runs on the server (`desa-opensid-release`, templates/app/), under a lock, each step
re-runnable: verify the archive's sha256 → unpack into `releases/.VERSION.partial` and rename when
complete → dump the database to /var/backups/desa/ before an upgrade (the first dump of an upgrade is
kept when the upgrade is re-run after an interruption) → migrate → switch `current` atomically →
reload PHP-FPM. Killed at any point, the next run resumes; `current` only ever names a complete
release whose migrations have run.

This module holds the pyinfra fact and operation (facts in → commands out) and the pure helpers.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.operations import files

BASE = "/srv/desa/opensid"
SWITCH = "/usr/local/sbin/desa-opensid-release"
ROLLBACK = "/usr/local/sbin/desa-opensid-rollback"
ARCHIVES = "/var/cache/desa/app"
DUMPS = "/var/backups/desa"
VERSION_RE = re.compile(r"^[0-9A-Za-z._-]+$")


@dataclass(frozen=True)
class ReleaseState:
    current: str | None  # the version `current` points at (None: nothing installed)
    complete: tuple[str, ...]  # fully unpacked releases
    previous: str | None  # what `desa app rollback` would return to
    switching: bool  # a switch was interrupted (or is running): its pid file is there

    @property
    def installed(self) -> bool:
        return self.current is not None


class OpensidRelease(FactBase):
    """The release state of BASE: `current`, complete releases, `previous`, an unfinished switch."""

    @staticmethod
    def default() -> ReleaseState:
        return parse_state([])

    def command(self, base: str = BASE) -> str:
        b = shlex.quote(base)
        return (f"echo current=$(readlink {b}/current 2>/dev/null | sed 's#.*/##'); "
                f"for m in {b}/.state/complete-*; do [ -e \"$m\" ] && echo complete=${{m##*/complete-}}; done; "
                f"[ -r {b}/.state/previous ] && sed -n 's/^from=/previous=/p' {b}/.state/previous; "
                f"[ -e {b}/.state/switch.pid ] && echo switching=1; true")

    def process(self, output: list[str]) -> ReleaseState:
        return parse_state(output)


def parse_state(lines: list[str]) -> ReleaseState:
    current = previous = None
    complete: list[str] = []
    switching = False
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "current" and value:
            current = value
        elif key == "complete" and VERSION_RE.match(value):
            complete.append(value)
        elif key == "previous" and value:
            previous = value
        elif key == "switching":
            switching = True
    return ReleaseState(current, tuple(sorted(complete)), previous, switching)


def needs_switch(state: ReleaseState, version: str) -> bool:
    """True when `current` is not the complete `version`, or a switch was left unfinished."""
    return state.current != version or version not in state.complete or state.switching


def archive_path(version: str) -> str:
    return f"{ARCHIVES}/opensid-{version}.tar.gz"


def switch_command(version: str, sha256: str, base: str = BASE) -> str:
    if not VERSION_RE.match(version):
        raise ValueError(f"release version {version!r} is not a plain version string")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("release sha256 must be 64 lowercase hex digits")
    return f"{SWITCH} --base {shlex.quote(base)} {version} {archive_path(version)} {sha256}"


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


@operation()
def release(version: str, source: str, sha256: str, base: str = BASE):
    """Make `version` the current release of the app at `base` (no change when it already is).

    + version: the release version (folder name under releases/)
    + source: a local archive path (uploaded) or an http(s) URL (downloaded by the server)
    + sha256: the archive's checksum, verified on the server before anything is unpacked
    """
    state = host.get_fact(OpensidRelease, base=base)
    if not needs_switch(state, version):
        host.noop(f"release {version} is current at {base}")
        return
    dest = archive_path(version)
    if is_url(source):
        yield from files.download._inner(src=source, dest=dest, sha256sum=sha256, mode="0600")
    else:
        if not Path(source).is_file():
            raise FileNotFoundError(f"release archive {source} not found (run `desa app fixture` for the fixture)")
        yield from files.put._inner(src=source, dest=dest, mode="0600", user="root", group="root")
    yield switch_command(version, sha256, base)
