"""SSH trust for the lab: the deploy key, a known_hosts of the hosts' own keys, an ssh_config.

The known_hosts is written from each host's key as found in its overlay — never learnt on first
connection — and every client (OpenSSH, pyinfra, testinfra) checks host keys strictly against it.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from pathlib import Path

from desa.lab.errors import LabError
from desa.lab.sh import run

# OpenSSH's default post-quantum key exchange costs ~0.13 s of client CPU per connection.
KEX = "curve25519-sha256,curve25519-sha256@libssh.org"


class SshTrust:
    def __init__(self, state_dir: Path, control_dir: Path):
        self.dir = state_dir / "ssh"
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.config = state_dir / "ssh_config"  # the one file users pass: ssh -F state/lab/ssh_config
        self.control_dir = control_dir  # short path: unix socket names are limited to 108 bytes

    def ensure_key(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        if not self.key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "desa-lab-deploy", "-f", str(self.key)])
        return self.key.with_suffix(".pub").read_text().strip()

    def write(self, hosts: list[dict], known_only: list[dict] = ()) -> None:
        """hosts: [{name, address, port, user, host_key}] (host_key None for hosts without one yet);
        known_only: [{name, address, port, host_key}] for known_hosts only (the routers)."""
        self.control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        kh, cfg = [], ["# Written by desa lab; regenerated on every `desa lab up`.", ""]
        for h in sorted(hosts, key=lambda h: h["name"]):
            where = h["address"] if h["port"] == 22 else f"[{h['address']}]:{h['port']}"
            alias = h["name"] if h["port"] == 22 else f"[{h['name']}]:{h['port']}"
            if h.get("host_key"):
                kh.append(f"{alias},{where} {h['host_key']}")
            cfg += [
                f"Host {h['name']}",
                f"  HostName {h['address']}",
                f"  Port {h['port']}",
                f"  User {h['user']}",
                f"  IdentityFile {self.key}",
                "  IdentitiesOnly yes",
                f"  UserKnownHostsFile {self.known_hosts}",
                "  GlobalKnownHostsFile /dev/null",
                "  StrictHostKeyChecking yes",
                f"  HostKeyAlias {h['name']}",
                "  PasswordAuthentication no",
                "  BatchMode yes",
                f"  KexAlgorithms {KEX}",
                "  ControlMaster auto",
                f"  ControlPath {self.control_dir}/%C",
                "  ControlPersist 120s",
                "  ConnectTimeout 10",
                "  ServerAliveInterval 15",
                "  LogLevel ERROR",
                "",
            ]
        for h in known_only:
            where = h["address"] if h["port"] == 22 else f"[{h['address']}]:{h['port']}"
            alias = h["name"] if h["port"] == 22 else f"[{h['name']}]:{h['port']}"
            kh.append(f"{alias},{where} {h['host_key']}")
        _atomic(self.known_hosts, "\n".join(kh) + "\n")
        _atomic(self.config, "\n".join(cfg))
        (self.dir / "ssh_config").unlink(missing_ok=True)  # where an earlier version kept it

    def ssh(self, name: str, command: str, *, timeout: float = 30) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["ssh", "-F", str(self.config), name, command], capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([name, command], 255, "", f"timed out after {timeout:.0f} s")

    def close_masters(self, names: list[str]) -> None:
        """`ssh -O exit` every ControlMaster the lab's config may have opened."""
        if not self.config.exists():
            return
        for name in names:
            subprocess.run(["ssh", "-F", str(self.config), "-O", "exit", name], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)


def wait_port(address: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def wait_system(trust: SshTrust, name: str, timeout: float = 120) -> str:
    """Wait for the guest's boot to settle; its `systemctl is-system-running` state."""
    proc = trust.ssh(name, f"timeout {int(timeout)} systemctl is-system-running --wait", timeout=timeout + 15)
    state = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode == 255 or not state:
        raise LabError(f"cannot ssh into {name}: {proc.stderr.strip()[-300:]} → see `desa lab status` "
                       f"and {shlex.quote(str(trust.dir.parent / 'hosts' / name / 'console.log'))}")
    return state


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)
