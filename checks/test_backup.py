"""Checks of roles/backup.py and the hub's repositories (roles/hub.py): recent encrypted backups, secrets
kept private, the hub account SFTP-only in its chroot.

Run by `desa check SITE` (fixtures `intent`, `server`, `hub` from checks/conftest.py).
"""

from __future__ import annotations

import sys
import time

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import backup  # noqa: E402

MAX_AGE_HOURS = 26  # a daily timer with its random delay, plus slack


def _fix(intent) -> str:
    return f"run `desa deploy {intent.slug} --only server`"


def test_timer_scheduled(server, intent):
    timer = server.service("desa-backup.timer")
    assert timer.is_enabled, f"desa-backup.timer does not start at boot → {_fix(intent)}"
    assert timer.is_running, f"desa-backup.timer is not active → systemctl start desa-backup.timer"
    failed = server.run("systemctl is-failed desa-backup.service").stdout.strip()
    assert failed != "failed", (f"the last backup failed → `journalctl -u desa-backup` on {intent.server.hostname}, "
                                f"then `desa backup {intent.slug}`")


def test_secrets_are_root_only(server, intent):
    with server.sudo():
        folder = server.file(backup.CONF_DIR)
        assert folder.is_directory and folder.mode == 0o700 and folder.user == "root", (
            f"{backup.CONF_DIR} is not a root-only folder (0700) → {_fix(intent)}")
        for name in ("password", "id_ed25519", "env"):
            f = server.file(f"{backup.CONF_DIR}/{name}")
            assert f.exists and f.mode == 0o600 and f.user == "root", (
                f"{backup.CONF_DIR}/{name} is missing or not 0600 root → {_fix(intent)}")


def test_latest_snapshot_is_recent(server, intent):
    with server.sudo():
        out = server.run(f"{backup.SCRIPT} latest")
    assert out.rc == 0 and out.stdout.strip().isdigit(), (
        f"cannot read the backup repository ({out.stderr.strip()[-120:]}) → check the tunnel (test_vpn), "
        f"then {_fix(intent)}")
    latest = int(out.stdout.strip())
    assert latest > 0, (f"the repository has no snapshot (or cannot be read: tunnel, password) → "
                        f"`desa backup {intent.slug}`")
    age_h = (time.time() - latest) / 3600
    assert age_h < MAX_AGE_HOURS, f"the latest backup is {age_h:.0f} h old → `desa backup {intent.slug}`"


def test_backup_covers_app_data_and_hooks(server, intent):
    script = server.file(backup.SCRIPT).content_string
    assert "/etc/desa/backup.d/" in script, f"backups do not run the app hooks → {_fix(intent)}"
    for path in ("/var/backups/desa", "/etc"):
        assert path in script, f"backups leave out {path} → {_fix(intent)}"
    if intent.app is not None and intent.app.kind == "opaque":
        for path in intent.app.data_paths:
            with server.sudo():  # the hooks are root's (mode 0750)
                hooks = server.run("cat /etc/desa/backup.d/*.sh 2>/dev/null").stdout
            assert path in script or path in hooks, (
                f"the app data {path} is in no backup → `desa deploy {intent.slug} --only app`")


def test_repository_is_encrypted_and_chrooted_on_the_hub(hub, intent):
    user = backup.backup_user(intent.slug)
    with hub.sudo():
        home = hub.run(f"getent passwd {user} | cut -d: -f6").stdout.strip()
        assert home, f"the hub has no backup account {user} → {_fix(intent)}"
        chroot = hub.file(home)
        assert chroot.user == "root" and chroot.mode & 0o022 == 0, (
            f"{home} on the hub must be root-owned and not group/world-writable (sshd's chroot) → {_fix(intent)}")
        config = hub.file(f"{home}/restic/config")
        assert config.exists, f"no restic repository in {home}/restic on the hub → `desa backup {intent.slug}`"
        # restic encrypts the config; a plain one is JSON naming its chunker polynomial.
        plain = hub.run(f"grep -c chunker_polynomial {home}/restic/config || true").stdout.strip()
        assert plain in ("", "0"), (
            f"the repository config on the hub is readable plain text → re-create the repository encrypted")


def test_hub_account_is_sftp_only(server, intent):
    with server.sudo():
        shell = server.run(f"timeout 20 ssh -F {backup.CONF_DIR}/ssh_config desa-backup 'echo SHELL-OK'; true")
    assert "SHELL-OK" not in shell.stdout, (
        f"the backup account {backup.backup_user(intent.slug)} gets a shell on the hub → "
        f"`desa deploy {intent.slug} --only server` (it converges the hub's sshd)")
    with server.sudo():
        listing = server.run(f"echo ls / | timeout 20 sftp -b - -F {backup.CONF_DIR}/ssh_config desa-backup; "
                             'echo "exit=$?"')
    assert listing.stdout.strip().endswith("exit=0"), (f"SFTP to the hub fails ({listing.stderr.strip()[-120:]}) → check the tunnel "
                             f"(test_vpn), then {_fix(intent)}")
    names = {line.strip().rstrip("/").rsplit("/", 1)[-1] for line in listing.stdout.splitlines()
             if line.strip() and not line.startswith(("sftp>", "exit="))}
    assert names <= {"restic", ".", ".."}, (
        f"the backup account sees {sorted(names)} on the hub: not chrooted to its repository → {_fix(intent)}")
