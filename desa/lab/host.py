"""A lab host: a real Debian 12 booted by systemd-nspawn from the shared base through its own overlay.

The boot loop (a small shell supervisor, its PID recorded) restarts the container when the guest
reboots (nspawn exits 133) and stops on anything else; SIGTERM to the supervisor powers the guest
off (nspawn forwards it to the guest's systemd), SIGKILL only after a timeout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from desa.lab.errors import LabError
from desa.lab.sh import run
from desa.lab.state import HostRecord, Proc, reap

SUPERVISOR = r"""#!/bin/bash
# desa lab boot loop for {name}: restart on guest reboot (exit 133), stop on anything else.
stop=0; child=
# Its own cgroup: nspawn places the guest below its caller's cgroup, and guests sharing one clash.
for root in {roots}; do
  mkdir -p "$root/{cgroup}" && echo $$ > "$root/{cgroup}/cgroup.procs"
done
trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  "$@" &
  child=$!
  echo "$child" > "{pidfile}"
  [ -x "{hook}" ] && "{hook}" >/dev/null 2>&1 &
  wait "$child"; rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  [ "$stop" = 1 ] && exit 0
  [ "$rc" = 133 ] || exit "$rc"
  echo "$(date -Is) guest rebooted; starting it again"
done
"""


CGROUP = Path("/sys/fs/cgroup")


def cgroup_roots() -> list[Path]:
    """The hierarchies a guest's cgroup is made in: the cgroup2 root alone on a unified host; the
    named systemd hierarchy and cgroup2 (at unified/) on a hybrid one, as here."""
    if (CGROUP / "cgroup.controllers").exists():
        return [CGROUP]
    return [p for p in (CGROUP / "systemd", CGROUP / "unified") if p.is_dir()]


def cgroup2_root() -> Path:
    return CGROUP if (CGROUP / "cgroup.controllers").exists() else CGROUP / "unified"


def init_procs(machine: str) -> Path:
    """cgroup.procs of a guest's init (nspawn puts it in payload/init.scope of its caller's cgroup)."""
    return cgroup2_root() / "desa-lab" / machine / "payload" / "init.scope" / "cgroup.procs"



class Host:
    def __init__(self, record: HostRecord, hosts_dir: Path):
        self.r = record
        self.dir = hosts_dir / record.name
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.root = self.dir / "root"
        self.log = self.dir / "console.log"

    # overlay -------------------------------------------------------------------------------
    def mounted(self) -> bool:
        target = str(self.root)
        with open("/proc/mounts") as f:
            return any(line.split()[1] == target for line in f)

    def mount(self, base: Path) -> None:
        if self.mounted():
            return
        for d in (self.upper, self.work, self.root):
            d.mkdir(parents=True, exist_ok=True)
        # The workdir must be empty of a previous mount's leftovers.
        for child in self.work.iterdir():
            shutil.rmtree(child, ignore_errors=True)
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={base},upperdir={self.upper},workdir={self.work}", str(self.root)],
            what=f"mounting the overlay of {self.r.name}")

    def unmount(self) -> None:
        if self.mounted():
            # nspawn's lock file for this root (left behind when nspawn is killed).
            st = os.stat(self.root)
            Path(f"/run/systemd/nspawn/locks/inode-{st.st_dev}:{st.st_ino}").unlink(missing_ok=True)
            if run(["umount", str(self.root)], check=False).returncode != 0:
                run(["umount", "-l", str(self.root)], check=False)

    # identity ------------------------------------------------------------------------------
    def prepare(self, *, public_key: str, apt_proxy: str, extra_hosts: dict[str, str]) -> None:
        """Write the host's identity into its overlay (idempotent: only what differs)."""
        root, r = self.root, self.r
        _write(root / "etc/hostname", f"{r.name}\n")
        lines = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{r.name}", f"{r.address}\t{r.name}"]
        lines += [f"{addr}\t{name}" for name, addr in sorted(extra_hosts.items()) if name != r.name]
        lines += ["::1\tlocalhost ip6-localhost ip6-loopback", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
        _write(root / "etc/hosts", "\n".join(lines) + "\n")
        mid = root / "etc/machine-id"
        if not mid.exists() or not mid.read_text().strip():
            # Its own machine-id (and not a "first boot": systemd-firstboot would prompt).
            _write(mid, uuid.uuid4().hex + "\n")
        key = root / "etc/ssh/ssh_host_ed25519_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{r.name}", "-f", str(key)])
        _write(root / "etc/systemd/network/10-desa-lab.network",
               "# Written by desa lab: the address the inventory gives this host.\n"
               "[Match]\nName=host0\n\n[Network]\n"
               f"Address={r.address}/{r.prefixlen}\nGateway={r.gateway}\n"
               "LinkLocalAddressing=no\nIPv6AcceptRA=no\n")
        _write(root / "etc/apt/apt.conf.d/01desa-lab-proxy",
               f'Acquire::http::Proxy "{apt_proxy}";\n')
        self._deploy_user(public_key)

    def _deploy_user(self, public_key: str) -> None:
        root, user = self.root, self.r.user
        passwd = (root / "etc/passwd").read_text()
        if not any(line.split(":")[0] == user for line in passwd.splitlines()):
            run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", user])
            run(["chroot", str(root), "passwd", "--lock", user])
            _write(root / f"etc/sudoers.d/90-{user}-lab", f"{user} ALL=(ALL) NOPASSWD:ALL\n", 0o440)
            passwd = (root / "etc/passwd").read_text()
        entry = next(line.split(":") for line in passwd.splitlines() if line.split(":")[0] == user)
        uid, gid, home = int(entry[2]), int(entry[3]), entry[5]
        ssh = root / home.lstrip("/") / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        os.chown(ssh, uid, gid)
        keys = ssh / "authorized_keys"
        # Make sure the lab's key is there; keep whatever else the deploys put in the file.
        have = keys.read_text() if keys.exists() else ""
        if public_key.strip() not in have.splitlines():
            _write(keys, have + ("" if not have or have.endswith("\n") else "\n") + public_key.strip() + "\n", 0o600)
            os.chown(keys, uid, gid)

    def host_key(self) -> str:
        """The host's own public key ("ssh-ed25519 AAAA…")."""
        text = (self.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
        return f"{text[0]} {text[1]}"

    # boot ----------------------------------------------------------------------------------
    @property
    def cgroup(self) -> str:
        """The guest's cgroup (relative), made by its supervisor and removed after it stops."""
        return f"desa-lab/{self.r.machine}"

    def remove_cgroups(self) -> None:
        for root in cgroup_roots():
            top = root / self.cgroup
            if not top.exists():
                continue
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
            with contextlib.suppress(OSError):
                top.parent.rmdir()  # desa-lab/, when no other lab uses it

    def running(self) -> bool:
        return self.r.supervisor is not None and self.r.supervisor.alive()

    def nspawn_pid(self) -> Proc | None:
        try:
            pid = int((self.dir / "nspawn.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            return Proc.of(pid)
        except LabError:
            return None

    def start(self, *, bind_tun: bool = True) -> None:
        if self.running():
            return
        script = self.dir / "boot.sh"
        _write(script, SUPERVISOR.format(name=self.r.name, pidfile=self.dir / "nspawn.pid",
                                         cgroup=self.cgroup, hook=self.dir / "after-boot",
                                         roots=" ".join(str(r) for r in cgroup_roots())), 0o700)
        cmd = ["systemd-nspawn", "--boot", "--quiet", "-D", str(self.root), "-M", self.r.machine,
               f"--hostname={self.r.name}", "--register=no", "--keep-unit", "--console=passive",
               "--resolv-conf=off", "--timezone=off", "--link-journal=no",
               f"--network-bridge={self.r.bridge}"]
        if bind_tun:
            cmd.append("--bind=/dev/net/tun")
        log = open(self.log, "ab")
        proc = subprocess.Popen(["bash", str(script), *cmd], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        log.close()
        self.r.supervisor = Proc.of(proc.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """Power the guest off (SIGTERM to its supervisor), then kill whatever is left in its cgroup."""
        sup = self.r.supervisor
        if sup is not None:
            if sup.alive():
                sup.stop(timeout=timeout)
            reap(sup.pid)  # our own child, if this process started it
        self.kill_cgroup()
        self.r.supervisor = None
        self.remove_cgroups()
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.r.machine}", ignore_errors=True)

    def cgroup_pids(self) -> list[int]:
        """Every process left in the host's cgroup (a guest orphaned by a crashed nspawn, say)."""
        top = cgroup2_root() / self.cgroup
        pids: list[int] = []
        if top.exists():
            for procs in top.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids += [int(x) for x in procs.read_text().split()]
        return pids

    def kill_cgroup(self, timeout: float = 10.0) -> None:
        top = cgroup2_root() / self.cgroup
        if not self.cgroup_pids():
            return
        (top / "cgroup.kill").write_text("1\n")
        deadline = time.monotonic() + timeout
        while self.cgroup_pids() and time.monotonic() < deadline:
            for pid in self.cgroup_pids():
                reap(pid)
            time.sleep(0.1)
        if self.cgroup_pids():
            raise LabError(f"{self.r.name}: processes {self.cgroup_pids()} survive in {top} → kill them")


def _write(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write if different; True if written."""
    if path.is_symlink():
        path.unlink()
    elif path.exists() and path.read_text() == text:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".desa-tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)
    return True


