"""apt-cacher-ng run by the lab, bound only to a lab address: the one way out for the lab's apt.

Its cache lives in /var/cache/desa/apt-cacher-ng and is kept between labs, so a second
`lab up` + deploy installs without downloading again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from desa.lab.errors import LabError
from desa.lab.net import APT_PORT
from desa.lab.state import Proc

CACHE = Path("/var/cache/desa/apt-cacher-ng")
# Debian's default backend (ftp.debian.org) does not resolve here.
BACKEND = "http://deb.debian.org/debian/\n"


def config(conf_dir: Path, address: str) -> list[str]:
    """Write the config folder; the command line that runs it in the foreground."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "log").mkdir(exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    for f in Path("/etc/apt-cacher-ng").iterdir():
        if f.is_file() and f.name not in ("acng.conf", "zz_debconf.conf", "security.conf", "backends_debian"):
            shutil.copy(f, conf_dir / f.name)
    (conf_dir / "backends_debian").write_text(BACKEND)
    (conf_dir / "acng.conf").write_text(
        "# Written by desa lab.\n"
        f"CacheDir: {CACHE}\n"
        f"LogDir: {conf_dir / 'log'}\n"
        "SupportDir: /usr/lib/apt-cacher-ng\n"
        f"BindAddress: {address}\n"
        f"Port: {APT_PORT}\n"
        f"PidFile: {conf_dir / 'pid'}\n"
        f"SocketPath: {conf_dir / 'socket'}\n"
        "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian\n"
        "Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security"
        " /debian-security ; deb.debian.org/debian-security\n"
        "ExThreshold: 4\n"
        "ForeGround: 1\n"
        "PassThroughPattern: ^$\n"
    )
    return ["apt-cacher-ng", "-c", str(conf_dir), "ForeGround=1"]


def start(conf_dir: Path, address: str, timeout: float = 15) -> Proc:
    cmd = config(conf_dir, address)
    log = open(conf_dir / "log" / "daemon.log", "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    log.close()
    rec = Proc.of(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(address):
            return rec
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    rec.stop(timeout=5)
    raise LabError(f"apt-cacher-ng did not start on {address}:{APT_PORT} → see {conf_dir / 'log'}")


def answers(address: str) -> bool:
    try:
        with socket.create_connection((address, APT_PORT), timeout=1):
            return True
    except OSError:
        return False
