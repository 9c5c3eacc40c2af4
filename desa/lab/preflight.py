"""Before the lab touches the machine: root? the kernel features it needs? its Debian packages?

Missing packages are installed with apt-get (the project installs its own lab dependencies);
what cannot be installed — root, kernel features — is a clear error naming what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from desa.lab.errors import LabError

# Debian package → a file it installs (cheaper than asking dpkg for each).
PACKAGES = {
    "mmdebstrap": "/usr/bin/mmdebstrap",
    "systemd-container": "/usr/bin/systemd-nspawn",
    "apt-cacher-ng": "/usr/sbin/apt-cacher-ng",
    "iproute2": "/usr/sbin/ip",
    "nftables": "/usr/sbin/nft",
    "wireguard-tools": "/usr/bin/wg",
    "wireguard-go": "/usr/bin/wireguard-go",
    "openssh-client": "/usr/bin/ssh",
}

INOTIFY = {"max_user_instances": 1024, "max_user_watches": 524288}


def missing_packages() -> list[str]:
    return [pkg for pkg, path in PACKAGES.items() if not Path(path).exists()]


def install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=600)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        raise LabError(f"could not install the lab's packages {' '.join(packages)}: "
                       f"{proc.stderr.strip().splitlines()[-1:]} → install them with apt-get")
    # Debian starts apt-cacher-ng's own service where an init exists; the lab runs its own.


def kernel_problems() -> list[str]:
    problems = []
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("no overlayfs (modprobe overlay)")
    if not Path("/dev/net/tun").exists():
        problems.append("no /dev/net/tun (wireguard-go needs it; modprobe tun)")
    if not Path("/proc/self/ns/net").exists():
        problems.append("no network namespaces")
    if not Path("/sys/fs/cgroup").exists():
        problems.append("no cgroup filesystem at /sys/fs/cgroup (systemd-nspawn needs it)")
    if shutil.which("nft"):
        probe = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=10)
        if probe.returncode != 0:
            problems.append(f"nftables unusable: {probe.stderr.strip()}")
    return problems


def raise_inotify() -> None:
    """Many systemd guests exhaust the default 128 inotify instances."""
    for name, want in INOTIFY.items():
        path = Path(f"/proc/sys/fs/inotify/{name}")
        if int(path.read_text()) < want:
            path.write_text(f"{want}\n")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, systemd-nspawn) → run it with sudo")


def check(*, install_missing: bool = True) -> None:
    require_root()
    missing = missing_packages()
    if missing:
        if not install_missing:
            raise LabError(f"missing Debian packages: {' '.join(missing)} → apt-get install them")
        install(missing)
    problems = kernel_problems()
    if problems:
        raise LabError("this kernel lacks what the lab needs: " + "; ".join(problems))
    raise_inotify()
