"""apt-cacher-ng for the lab hosts: the one way out for their apt, bound only to a lab address.

One cache process per machine, shared by every lab running on it (each engineer's, each test
module's): it listens on a single address of its own (a link of its own, `desa-apt0`) that every lab's
hosts reach through their gateway, and its cache lives in /var/cache/desa/apt-cacher-ng, kept
between labs so a second `lab up` + deploy installs without downloading again. Labs register as
users under an flock; the last one to go down stops it and removes its link.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

from desa.lab import net
from desa.lab.errors import LabError
from desa.lab.sh import run
from desa.lab.state import Proc

CACHE = Path("/var/cache/desa/apt-cacher-ng")
RUN = Path("/run/desa-lab")
LINK = "desa-apt0"
ADDRESS = "100.127.253.1"  # outside every inventory pool; on the controller only
PORT = net.APT_PORT
BACKEND = "http://deb.debian.org/debian/\n"  # Debian's default (ftp.debian.org) does not resolve here


def proxy_url() -> str:
    return f"http://{ADDRESS}:{PORT}"


@contextlib.contextmanager
def _registry():
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / "aptcache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = RUN / "aptcache.json"
        try:
            reg = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            reg = {"users": []}
        yield reg
        path.write_text(json.dumps(reg, indent=1))


def config(conf_dir: Path) -> list[str]:
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
        f"BindAddress: {ADDRESS}\n"
        f"Port: {PORT}\n"
        f"PidFile: {conf_dir / 'pid'}\n"
        f"SocketPath: {conf_dir / 'socket'}\n"
        "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian\n"
        "Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security"
        " /debian-security ; deb.debian.org/debian-security\n"
        "ExThreshold: 4\n"
        "ForeGround: 1\n"
    )
    return ["apt-cacher-ng", "-c", str(conf_dir), "ForeGround=1"]


def ensure(user: Path, timeout: float = 15) -> str:
    """Register `user` (a lab's state dir); start the cache if it is not running. Its address."""
    with _registry() as reg:
        if not net.link_exists(LINK):
            run(["ip", "link", "add", LINK, "type", "bridge"])  # no dummy driver here; a portless bridge
        if f" {ADDRESS}/" not in run(["ip", "-o", "-4", "addr", "show", "dev", LINK]).stdout:
            run(["ip", "addr", "replace", f"{ADDRESS}/32", "dev", LINK])
        run(["ip", "link", "set", LINK, "up"])
        proc = Proc(**reg["proc"]) if reg.get("proc") else None
        if proc is None or not proc.alive() or not answers():
            if proc is not None:
                proc.stop(timeout=5)
            reg["proc"] = _start(RUN / "apt-cacher-ng", timeout).__dict__
        users = [u for u in reg["users"] if Path(u).exists()]
        if str(user) not in users:
            users.append(str(user))
        reg["users"] = users
    return ADDRESS


def release(user: Path) -> None:
    """Unregister `user`; the last user stops the cache and removes its link."""
    with _registry() as reg:
        reg["users"] = [u for u in reg["users"] if u != str(user) and Path(u, "state.json").exists()
                        and _still_up(Path(u))]
        if reg["users"]:
            return
        if reg.get("proc"):
            Proc(**reg["proc"]).stop(timeout=10)
            reg.pop("proc")
        net.delete_link(LINK)


def _still_up(state_dir: Path) -> bool:
    """Does that lab still run hosts? (A lab whose state says nothing runs needs no cache.)"""
    try:
        st = json.loads((state_dir / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return False
    return any(Proc(**h["supervisor"]).alive() for h in st.get("hosts", {}).values() if h.get("supervisor"))


def _start(conf_dir: Path, timeout: float) -> Proc:
    cmd = config(conf_dir)
    log = open(conf_dir / "log" / "daemon.log", "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    log.close()
    rec = Proc.of(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return rec
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    rec.stop(timeout=5)
    raise LabError(f"apt-cacher-ng did not start on {ADDRESS}:{PORT} → see {conf_dir / 'log'}")


def answers() -> bool:
    """Does our cache answer on its own address? (Only a local address counts: off the machine, a
    transparent proxy may accept any connection.)"""
    if not net.link_exists(LINK):
        return False
    try:
        with socket.create_connection((ADDRESS, PORT), timeout=1) as s:
            s.settimeout(3)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return b"Apt-Cacher NG" in s.recv(4096)  # its Server: header
    except OSError:
        return False
