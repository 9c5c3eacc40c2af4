"""Router slots: the sites' simulated RouterOS routers, run by one background daemon per lab.

Each router answers at its inventory management address and port, inside its slot (a network
namespace the lab made), with the inventory's username and the password `desa.secrets` resolves
for it. The password reaches the daemon through a 0600 file, never its command line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from desa.intent import SiteIntent
from desa.lab.errors import LabError
from desa.lab.state import Proc, RouterRecord, State


class NotYet(LabError):
    """A part the routers need has not landed yet."""


def _resolve(ref: str) -> str:
    try:
        from desa.secrets import resolve
    except ModuleNotFoundError as e:
        if e.name == "desa.secrets":
            raise NotYet("router simulators: not yet — desa.secrets (the secrets store) has not landed, "
                           "so router passwords cannot be resolved") from None
        raise
    return resolve(ref)


def host_key(lab) -> str:
    """The routers' SSH host key (one per lab, kept so known_hosts stays valid). Its public line."""
    path = lab.state_dir / "routers" / "host_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "desa-lab-routers", "-f", str(path)],
                       check=True, capture_output=True, timeout=30)
    pub = path.with_suffix(".pub").read_text().split()
    return f"{pub[0]} {pub[1]}"


def config(lab, st: State) -> dict:
    routers = []
    for r in sorted(st.routers.values(), key=lambda r: r.name):
        routers.append({"identity": r.name, "address": r.address, "port": r.port, "username": r.user,
                        "password": _resolve(r.password_ref), "version": r.version, "model": r.model,
                        "netns": r.netns, "state": str(lab.state_dir / "routers" / r.name)})
    return {"host_key": str(lab.state_dir / "routers" / "host_key"), "routers": routers}


def ensure(lab, st: State, intents: list[SiteIntent], say) -> None:
    """Start (or restart, when the set of routers changed) the daemon; wait until every router answers."""
    proc = st.procs.get("routers")
    wanted = sorted(st.routers)
    path = lab.state_dir / "routers" / "routerd.json"
    if proc is not None and proc.alive():
        try:
            running = sorted(r["identity"] for r in json.loads(path.read_text())["routers"])
        except (FileNotFoundError, ValueError, KeyError):
            running = []
        if running == wanted and all(_answers(r) for r in st.routers.values()):
            return
        proc.stop(timeout=10)
        del st.procs["routers"]
    host_key(lab)
    cfg = config(lab, st)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    os.chmod(path, 0o600)
    log = open(lab.state_dir / "routers" / "routerd.log", "ab")
    popen = subprocess.Popen([sys.executable, "-m", "desa.lab.routerd", str(path)], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    log.close()
    st.procs["routers"] = Proc.of(popen.pid)
    deadline = time.monotonic() + 60
    pending = list(st.routers.values())
    while pending and time.monotonic() < deadline:
        if popen.poll() is not None:
            break
        pending = [r for r in pending if not _answers(r)]
        time.sleep(0.1)
    if pending:
        raise LabError(f"router simulators did not answer ({', '.join(r.name for r in pending)}) → see "
                       f"{lab.state_dir / 'routers' / 'routerd.log'}")
    say(f"routers: {', '.join(f'{r.name} ({r.address})' for r in st.routers.values())}")


def state(st: State, r: RouterRecord) -> str:
    proc = st.procs.get("routers")
    if proc is None or not proc.alive():
        return "stopped"
    return "running" if _answers(r) else "degraded"


def _answers(r: RouterRecord) -> bool:
    try:
        with socket.create_connection((r.address, r.port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(16).startswith(b"SSH-2.0-ROSSSH")
    except OSError:
        return False
