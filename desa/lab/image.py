"""The shared base image: one mmdebstrap Debian 12 rootfs, cached by a hash of its recipe.

Every lab host boots from it read-only through its own overlay. The image holds what a freshly
installed Debian server holds — never what the roles install (nginx, php, mariadb, wireguard-tools,
restic, node-exporter, fail2ban, chrony): the deploys must do that for real.

Built at most once per recipe under an flock, so parallel labs share one build; a finished image
is published by an atomic rename, so a crash mid-build leaves nothing half-made in use.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from desa.lab.errors import LabError

CACHE = Path("/var/cache/desa/lab")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
DEPLOY_USER = "desa"

PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo", "iproute2",
    "ca-certificates", "iputils-ping", "netbase", "systemd-timesyncd", "cron", "logrotate",
    "nftables", "curl", "gnupg", "locales", "tzdata", "less",
)

# Run in the new rootfs (mmdebstrap --customize-hook), in this order. `$1` is the rootfs.
CUSTOMIZE = (
    # apt as on a lean server: no translations, no recommends pulled in by the lab itself.
    """printf 'Acquire::Languages "none";\\n' > "$1/etc/apt/apt.conf.d/90desa-lab" """,
    # apt-daily* race with deploys; mask them.
    """for u in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service; """
    """do ln -sf /dev/null "$1/etc/systemd/system/$u"; done""",
    # Nothing for systemd-firstboot to ask.
    """echo Etc/UTC > "$1/etc/timezone"; ln -sf /usr/share/zoneinfo/Etc/UTC "$1/etc/localtime" """,
    """echo 'en_US.UTF-8 UTF-8' > "$1/etc/locale.gen"; chroot "$1" locale-gen >/dev/null; """
    """echo 'LANG=C.UTF-8' > "$1/etc/default/locale" """,
    # The deploy user: key-only login (the key is per lab, written into each host's overlay).
    f"""chroot "$1" useradd --create-home --shell /bin/bash {DEPLOY_USER}; """
    f"""chroot "$1" passwd --lock {DEPLOY_USER} >/dev/null""",
    f"""printf '{DEPLOY_USER} ALL=(ALL) NOPASSWD:ALL\\n' > "$1/etc/sudoers.d/90-{DEPLOY_USER}-lab"; """
    f"""chmod 0440 "$1/etc/sudoers.d/90-{DEPLOY_USER}-lab" """,
    # sshd: keys only; host keys are made per host.
    """printf 'PasswordAuthentication no\\nKbdInteractiveAuthentication no\\nUseDNS no\\n' """
    """> "$1/etc/ssh/sshd_config.d/10-desa-lab.conf"; rm -f "$1"/etc/ssh/ssh_host_*""",
    # Each host gets its own machine-id at first boot.
    """: > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id" """,
    # Networking: systemd-networkd with a static .network per host (written by the lab).
    """systemctl --root="$1" enable systemd-networkd.service >/dev/null 2>&1; """
    """rm -f "$1/etc/hostname"; : > "$1/etc/resolv.conf" """,
    """rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin""",
)


def recipe() -> dict:
    return {
        "suite": SUITE,
        "variant": "apt",
        "mirror": MIRROR,
        "packages": sorted(PACKAGES),
        "customize": list(CUSTOMIZE),
        "version": 1,
    }


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BaseImage:
    root: Path  # the rootfs directory (an overlay lowerdir)
    hash: str
    built: bool  # built by this call (False: came from the cache)
    seconds: float


def image_dir(cache: Path = CACHE) -> Path:
    return cache / f"base-{SUITE}-{recipe_hash()}"


def cached(cache: Path = CACHE) -> Path | None:
    rootfs = image_dir(cache) / "rootfs"
    return rootfs if (image_dir(cache) / "READY").exists() else None


def ensure(*, proxy: str | None = None, cache: Path = CACHE, log: Path | None = None,
           timeout: float = 1800) -> BaseImage:
    """The base image for the current recipe; builds it (under an flock) if it is missing.
    `proxy`: the lab's apt cache, so the build's packages are cached too."""
    start = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    target = image_dir(cache)
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another lab building the same image: wait for it
        if (target / "READY").exists():
            return BaseImage(target / "rootfs", recipe_hash(), False, time.monotonic() - start)
        tmp = cache / f".build-{recipe_hash()}"
        shutil.rmtree(tmp, ignore_errors=True)  # the remains of a crashed build
        tmp.mkdir()
        cmd = [
            "mmdebstrap", "--mode=root", "--variant=apt", "--format=directory",
            "--include=" + ",".join(PACKAGES),
            "--aptopt=Acquire::Languages \"none\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*",
        ]
        if proxy:
            cmd.append(f"--aptopt=Acquire::http::Proxy \"{proxy}\"")
        for hook in CUSTOMIZE:
            cmd.append(f"--customize-hook={hook}")
        # mmdebstrap's own apt options (the build's proxy): 90desa-lab keeps what hosts need.
        cmd.append('--customize-hook=rm -f "$1/etc/apt/apt.conf.d/99mmdebstrap"')
        cmd += [
            SUITE, str(tmp / "rootfs"),
            f"deb {MIRROR} {SUITE} main",
            f"deb {MIRROR} {SUITE}-updates main",
            f"deb {SECURITY} {SUITE}-security main",
        ]
        logf = open(log, "ab") if log else subprocess.DEVNULL
        try:
            proc = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise LabError(f"building the base image took over {timeout:.0f} s → check the network "
                           f"to the Debian mirror (log: {log})") from None
        finally:
            if log:
                logf.close()
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise LabError(f"mmdebstrap failed (exit {proc.returncode}) → see {log or 'its output'}")
        (tmp / "recipe.json").write_text(json.dumps(recipe(), indent=1, sort_keys=True))
        (tmp / "READY").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
        return BaseImage(target / "rootfs", recipe_hash(), True, time.monotonic() - start)
