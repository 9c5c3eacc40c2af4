"""Checks of roles/base.py on the site's server: name, clock, locale, apt, updates, people and their rights.

Run by `desa check SITE` (fixtures `intent`, `server`, `in_lab` from checks/conftest.py).
"""

from __future__ import annotations

import sys

import pytest

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import base  # noqa: E402

FIX = "run `desa deploy {slug} --only server`"


def _fix(intent) -> str:
    return FIX.format(slug=intent.slug)


def _in_container(server) -> bool:
    out = server.run("systemd-detect-virt --container 2>/dev/null || true").stdout.strip()
    return out not in ("", "none")


def test_hostname(server, intent):
    name = server.check_output("hostname")
    assert name == intent.server.hostname, f"hostname is {name}, not {intent.server.hostname} → {_fix(intent)}"


def test_timezone(server, intent):
    tz = server.check_output("timedatectl show -p Timezone --value 2>/dev/null || cat /etc/timezone")
    want = base.DEFAULTS["timezone"]
    assert tz == want, f"timezone is {tz}, not {want} → {_fix(intent)}"


def test_locales(server, intent):
    have = {line.strip().replace(".utf8", ".UTF-8") for line in server.check_output("locale -a").splitlines()}
    want = list(base.DEFAULTS["locales"])
    missing = [loc for loc in want if loc not in have]
    assert not missing, f"locales {', '.join(missing)} are not generated → {_fix(intent)}"
    default = server.file("/etc/default/locale").content_string
    assert f"LANG={want[0]}" in default, f"the default locale is not {want[0]} → {_fix(intent)}"


def test_apt_sources_point_at_the_mirror(server, intent):
    sources = server.file("/etc/apt/sources.list").content_string
    lines = [ln for ln in sources.splitlines() if ln.startswith("deb ")]
    for suite in ("bookworm", "bookworm-updates", "bookworm-security"):
        assert any(f" {suite} " in ln for ln in lines), (
            f"/etc/apt/sources.list has no {suite} line → {_fix(intent)}")


def test_unattended_security_upgrades(server, intent):
    assert server.package("unattended-upgrades").is_installed, (
        f"unattended-upgrades is not installed → {_fix(intent)}")
    conf = server.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1"' in conf, (
        f"unattended upgrades are switched off in 20auto-upgrades → {_fix(intent)}")


def test_time_sync(server, intent, in_lab):
    assert server.package("chrony").is_installed, f"chrony is not installed → {_fix(intent)}"
    sources = server.run("cat /etc/chrony/sources.d/*.sources 2>/dev/null").stdout
    for ntp in intent.site.network.ntp_servers:
        assert ntp in sources, f"chrony does not use the site's NTP server {ntp} → {_fix(intent)}"
    if _in_container(server):
        pytest.skip("not verifiable in a container: time sync (the clock is the host's; chrony is configured)")
    assert server.service("chrony").is_running, f"chrony is not running → systemctl start chrony, then {_fix(intent)}"
    tracking = server.run("chronyc -n tracking").stdout
    assert "Not synchronised" not in tracking and "Leap status     : Normal" in tracking, (
        "the clock is not synchronised → check UDP 123 to the NTP servers through the router")


def test_every_person_has_exactly_the_inventory_keys(server, intent):
    with server.sudo():
        for person in intent.server.people:
            user = server.user(person.name)
            assert user.exists, f"user {person.name} is missing → {_fix(intent)}"
            keys_file = server.file(f"{user.home}/.ssh/authorized_keys")
            assert keys_file.exists, f"{person.name} has no authorized_keys → {_fix(intent)}"
            have = {" ".join(ln.split()[:2]) for ln in keys_file.content_string.splitlines() if ln.strip()}
            want = {" ".join(k.split()[:2]) for k in person.ssh_keys}
            assert have == want, (f"{person.name}'s SSH keys differ from the inventory "
                                  f"({len(have - want)} extra, {len(want - have)} missing) → {_fix(intent)}")


def test_sudo_rights_follow_the_inventory(server, intent):
    with server.sudo():
        for person in intent.server.people:
            out = server.run(f"sudo -n -l -U {person.name}").stdout
            may = "NOPASSWD: ALL" in out
            if person.sudo:
                assert may, f"{person.name} should have sudo (inventory: sudo: true) but has not → {_fix(intent)}"
            else:
                assert not may and "(ALL" not in out, (
                    f"{person.name} has sudo rights the inventory does not grant → {_fix(intent)}")


def test_no_unknown_people(server, intent):
    """Every login account (uid ≥ 1000) is someone in the inventory, the deploy user, or locked and keyless."""
    known = {p.name for p in intent.server.people} | {intent.server.ssh_user}
    accounts = server.check_output("getent passwd | awk -F: '$3 >= 1000 && $3 < 65534 {print $1 \":\" $6}'")
    with server.sudo():
        for line in accounts.splitlines():
            name, _, home = line.partition(":")
            if name in known:
                continue
            shadow = server.run(f"getent shadow {name} | cut -d: -f2,8").stdout.strip()
            password, _, expire = shadow.partition(":")
            assert password.startswith(("!", "*")) and expire not in ("",), (
                f"{name} is not in the inventory but can still log in → add them to the inventory, or lock "
                f"the account (`usermod --lock --expiredate 1 {name}`)")
            assert not server.file(f"{home}/.ssh/authorized_keys").exists, (
                f"{name} is not in the inventory but keeps SSH keys → remove {home}/.ssh/authorized_keys")
