"""What a lab started, by recorded ids: processes (PID + start time), mounts, links, namespaces.

`down` removes exactly what is recorded here and nothing else; a PID is only signalled while its
start time still matches the record, so a recycled PID is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from desa.lab.errors import LabError


def prefix_for(state_dir: Path) -> str:
    """Short, stable name prefix for the lab's links and tables (fits Linux's 15-char names)."""
    return "d" + hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:5]


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


@dataclass
class Proc:
    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc:
        st = start_time(pid)
        if st is None:
            raise LabError(f"process {pid} exited right after it started → see the lab logs")
        return cls(pid, st)

    def alive(self) -> bool:
        if start_time(self.pid) != self.start:
            return False
        try:  # a zombie still has /proc/PID/stat: it is not alive
            return Path(f"/proc/{self.pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    def send(self, sig: int) -> bool:
        if not self.alive():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        return True

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        """`sig`, wait up to `timeout`, then SIGKILL."""
        if not self.send(sig):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reap(self.pid)
            if not self.alive():
                return
            time.sleep(0.1)
        self.send(signal.SIGKILL)
        for _ in range(50):
            reap(self.pid)
            if not self.alive():
                return
            time.sleep(0.1)


def reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@dataclass
class HostRecord:
    name: str  # the hostname (srv-lambangsari, hub-bekasi)
    kind: str  # server | hub
    site: str | None  # slug; None for a hub
    regency: str
    address: str
    prefixlen: int
    gateway: str
    bridge: str
    machine: str  # nspawn's machine name (unique per lab, gives the veth its name)
    user: str
    port: int = 22
    base: str = ""  # the base image its overlay was made on (kept while the host's disk lives)
    supervisor: Proc | None = None


@dataclass
class RouterRecord:
    name: str  # router identity
    site: str
    address: str
    port: int
    netns: str
    veth: str
    user: str = "desa"
    password_ref: str = ""  # a `secret:` reference, never the password
    version: str = "7.16"
    model: str = ""


@dataclass
class State:
    prefix: str
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    routers: dict[str, RouterRecord] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # bridges and veths we created
    netns: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    nft_table: str | None = None
    procs: dict[str, Proc] = field(default_factory=dict)  # aptcache, simulator, relay-SITE
    sites: dict[str, dict] = field(default_factory=dict)  # slug → {bridge, gateway, ...}
    link_emulation: dict[str, dict] = field(default_factory=dict)  # slug → uplink profile applied

    @classmethod
    def load(cls, path: Path, prefix: str) -> State:
        if not path.exists():
            return cls(prefix)
        raw = json.loads(path.read_text())
        st = cls(raw["prefix"])
        for name, h in raw.get("hosts", {}).items():
            sup = h.pop("supervisor", None)
            st.hosts[name] = HostRecord(**h, supervisor=Proc(**sup) if sup else None)
        st.routers = {n: RouterRecord(**r) for n, r in raw.get("routers", {}).items()}
        st.links = raw.get("links", [])
        st.netns = raw.get("netns", [])
        st.mounts = raw.get("mounts", [])
        st.nft_table = raw.get("nft_table")
        st.procs = {n: Proc(**p) for n, p in raw.get("procs", {}).items()}
        st.sites = raw.get("sites", {})
        st.link_emulation = raw.get("link_emulation", {})
        return st

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))
        tmp.replace(path)

    def remember(self, kind: str, value: str) -> None:
        lst = getattr(self, kind)
        if value not in lst:
            lst.append(value)


@contextlib.contextmanager
def locked(state_dir: Path, timeout: float = 900):
    """One lab command at a time per state dir."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "lock", "w") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"another lab command holds {state_dir}/lock → wait for it") from None
                time.sleep(0.2)
        yield
