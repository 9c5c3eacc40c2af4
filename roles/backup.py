"""backup: scheduled, encrypted backups (restic, from Debian) of app data and configs to the hub.

    backup.run(intent)
    backup.settings(intent) -> dict     (tests as data: repository account, paths, retention; no secret)

Data (host data overrides these defaults):
    backup_paths         ["/etc", "/home", "/root", "/srv/desa", "/var/backups/desa"]  (missing ones skipped)
    backup_excludes      ["/root/.cache", "/var/cache"]
    backup_on_calendar   "*-*-* 02:30"       (WIB: the server runs Asia/Jakarta)
    backup_random_delay  "45m"
The repository: `sftp:desa-backup:/restic`, i.e. the account `backup_user(slug)` on the hub (reached at
the hub's VPN address through the tunnel), chrooted by roles/hub.py. Its SSH key is
`secret:sites/SLUG/backup-ssh-key` and the repository password `secret:sites/SLUG/backup`; both reach the
server only as 0600 files under /etc/desa/backup/ (0700). Retention: `forget --keep-within Nd --prune`
with N = the site's `backup_retention_days`.

Hook point for apps (agreed with roles/app.py, roles/opaque_app.py): every executable
/etc/desa/backup.d/*.sh runs before each backup, in name order (database dumps to /var/backups/desa/).

The first deploy leaves a fresh snapshot: when the repository has none, a backup runs right away (so a
check "latest snapshot < 26 h" passes after the first deploy). Restore: `desa restore SITE PATH`, or on the
server `desa-backup restore latest PATH [TARGET]`.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, deploy, operation
from pyinfra.operations import apt, files, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, bundle, file_text, render, setting

DEFAULTS = {
    "backup_paths": ["/etc", "/home", "/root", "/srv/desa", "/var/backups/desa"],
    "backup_excludes": ["/root/.cache", "/var/cache"],
    "backup_on_calendar": "*-*-* 02:30",
    "backup_random_delay": "45m",
}
SCRIPT = "/usr/local/sbin/desa-backup"
CONF_DIR = "/etc/desa/backup"
MARKER = "/var/lib/desa/backup-last-success"
T = TEMPLATES / "server"


def backup_user(slug: str) -> str:
    return f"bk-{slug}"[:32]


def password_ref(slug: str) -> str:
    return f"secret:sites/{slug}/backup"


def key_ref(slug: str) -> str:
    return f"secret:sites/{slug}/backup-ssh-key"


def settings(intent: SiteIntent) -> dict:
    return {
        "hostname": intent.server.hostname, "slug": intent.slug, "account": backup_user(intent.slug),
        "hub_address": str(intent.plan.hub_vpn_address), "hub_port": 22,
        "paths": list(setting(DEFAULTS, "backup_paths")), "excludes": list(setting(DEFAULTS, "backup_excludes")),
        "retention_days": intent.server.backup_retention_days,
    }


class SnapshotCount(FactBase):
    """Snapshots in the site's repository (-1: no repository yet, or the hub is unreachable)."""

    default = int

    def command(self) -> str:
        # a marker the script writes after each successful backup saves a restic round trip to the hub
        return f"if test -s {MARKER}; then echo 1; elif test -x {SCRIPT}; then {SCRIPT} count; else echo -1; fi"

    def process(self, output) -> int:
        try:
            return int("".join(output).strip() or -1)
        except ValueError:
            return -1


@operation(is_idempotent=False)
def initial_snapshot():
    """A first backup when the repository holds no snapshot (the first deploy, a rebuilt hub)."""
    if host.get_fact(SnapshotCount) > 0:
        host.noop("the repository has snapshots")
        return
    yield f"{SCRIPT} initial"


@deploy("backup")
def run(intent: SiteIntent):
    from desa import secrets

    s = settings(intent)
    apt.packages(name="restic", packages=["restic", "openssh-client"], no_recommends=True)
    for path, mode in ((CONF_DIR, "0700"), ("/etc/desa/backup.d", "0755"), ("/var/backups/desa", "0700")):
        files.directory(name=f"folder {path}", path=path, user="root", group="root", mode=mode)
    files_ = bundle([f"{CONF_DIR}/password", f"{CONF_DIR}/id_ed25519", f"{CONF_DIR}/ssh_config", f"{CONF_DIR}/env",
                     SCRIPT, "/etc/systemd/system/desa-backup.service", "/etc/systemd/system/desa-backup.timer"])
    file_text(name="backup: repository password (0600)", dest=f"{CONF_DIR}/password", mode="0600", states=files_,
              content=secrets.resolve(password_ref(intent.slug)))
    file_text(name="backup: SSH key of the hub account (0600)", dest=f"{CONF_DIR}/id_ed25519", mode="0600",
              states=files_, content=secrets.resolve(key_ref(intent.slug)))
    file_text(name="backup: SSH to the hub", dest=f"{CONF_DIR}/ssh_config", mode="0600", states=files_,
              content=render("server/backup-ssh_config.j2", **s))
    file_text(name="backup: restic environment", dest=f"{CONF_DIR}/env", mode="0600", states=files_,
              content=("RESTIC_REPOSITORY=sftp:desa-backup:/restic\n"
                       f"RESTIC_PASSWORD_FILE={CONF_DIR}/password\nRESTIC_CACHE_DIR=/var/cache/restic\n"))
    file_text(name="backup: desa-backup command", dest=SCRIPT, mode="0755", states=files_,
              content=render("server/desa-backup.sh.j2", **s))
    unit = file_text(name="backup: desa-backup.service", dest="/etc/systemd/system/desa-backup.service",
                     states=files_, content=render("systemd/desa-backup.service.j2",
                                                   wg_interface=host.data.get("wg_interface") or "wg-desa"))
    timer = file_text(name="backup: desa-backup.timer", dest="/etc/systemd/system/desa-backup.timer", states=files_,
                      content=render("systemd/desa-backup.timer.j2", on_calendar=setting(DEFAULTS, "backup_on_calendar"),
                                     random_delay=setting(DEFAULTS, "backup_random_delay")))
    systemd.daemon_reload(name="backup: systemd reloaded (a unit changed)",
                          _if=lambda: unit.did_change() or timer.did_change())
    systemd.service(name="backup: timer enabled", service="desa-backup.timer", running=True, enabled=True)
    systemd.service(name="backup: timer restarted (changed)", service="desa-backup.timer", restarted=True,
                    _if=timer.did_change)
    initial_snapshot(name="backup: first snapshot when the repository has none")
