"""base: what every village server needs before anything else.

    base.run(intent)

Data (host data overrides these defaults):
    apt_mirror            http://deb.debian.org/debian            Debian mirror (a regency mirror, say)
    apt_security_mirror   http://deb.debian.org/debian-security
    apt_components        ["contrib", "non-free-firmware"]        besides main
    timezone              Asia/Jakarta
    locales               ["en_US.UTF-8", "id_ID.UTF-8"]           generated; LANG = the first
    auto_reboot           False                                    unattended-upgrades may reboot at night
    apt_cache_seconds     86400                                    apt lists younger than this are not refreshed
    apt_update_timeout    300                                      seconds per `apt-get update` before it is run again
    apt_update_attempts   3                                        (roles.apt_lists: a stalled update never hangs a deploy)

Users: every Person of `intent.server.people` (regency staff + village technicians) gets an account in
group `desa-people` with exactly the inventory's SSH keys; those with `sudo: true` are in `desa-admin`,
which /etc/sudoers.d/50-desa-admin lets use sudo without a password (they have none: keys only); the
others are in `adm` and `systemd-journal` only (they read logs). A person removed from the inventory is
locked (keys removed, account expired, out of the groups), never deleted (their files stay). The deploy
user is not touched. In a container, chrony is installed and configured but not started (the clock is
the host's): the role says so.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, deploy, operation
from pyinfra.operations import apt, files, server, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, account, apt_lists, bundle, file_text, in_container, note, render, setting

DEFAULTS = {
    "apt_mirror": "http://deb.debian.org/debian",
    "apt_security_mirror": "http://deb.debian.org/debian-security",
    "apt_components": ["contrib", "non-free-firmware"],
    "timezone": "Asia/Jakarta",
    "locales": ["en_US.UTF-8", "id_ID.UTF-8"],
    "auto_reboot": False,
    "apt_cache_seconds": 86400,
}
PACKAGES = ["chrony", "unattended-upgrades", "apt-listchanges", "sudo", "locales", "ca-certificates"]
PEOPLE_GROUP = "desa-people"
ADMIN_GROUP = "desa-admin"
T = TEMPLATES / "server"


class GroupMembers(FactBase):
    """Members of a group (from the group database)."""

    default = list

    def command(self, group: str) -> str:
        return f"getent group {group} | cut -d: -f4 || true"

    def process(self, output) -> list[str]:
        text = ",".join(output).strip()
        return sorted(m for m in text.split(",") if m)


class GeneratedLocales(FactBase):
    """Locales compiled on the host (`locale -a`, spelled like en_US.UTF-8)."""

    default = list

    def command(self) -> str:
        return "locale -a 2>/dev/null || true"

    def process(self, output) -> list[str]:
        return sorted({line.strip().replace(".utf8", ".UTF-8") for line in output if line.strip()})


@operation()
def locales_generated(locales: list[str]):
    """/etc/locale.gen lists exactly `locales`; locale-gen runs when one is missing."""
    yield from files.put._inner(src=StringIO("".join(f"{loc} UTF-8\n" for loc in locales)), dest="/etc/locale.gen",
                                mode="0644")
    if not set(locales) <= set(host.get_fact(GeneratedLocales)):
        yield "locale-gen"


@operation(is_idempotent=False)
def locked_out(user: str):
    """A person no longer in the inventory: keys removed, account locked and expired (files kept)."""
    yield (f"rm -f ~{user}/.ssh/authorized_keys && usermod --lock --expiredate 1 {user} && "
           f"{{ gpasswd -d {user} {ADMIN_GROUP} >/dev/null 2>&1 || true; }} && gpasswd -d {user} {PEOPLE_GROUP} >/dev/null")


def groups_of(person) -> list[str]:
    return [PEOPLE_GROUP] + ([ADMIN_GROUP] if person.sudo else ["adm", "systemd-journal"])


@deploy("base")
def run(intent: SiteIntent):
    container = in_container()
    server.hostname(name="hostname", hostname=intent.server.hostname)

    sources = files.template(
        name="apt sources", src=str(T / "sources.list.j2"), dest="/etc/apt/sources.list", mode="0644",
        mirror=setting(DEFAULTS, "apt_mirror"), security_mirror=setting(DEFAULTS, "apt_security_mirror"),
        components=setting(DEFAULTS, "apt_components"), suite="bookworm")
    apt_lists(name="apt lists (sources changed)", _if=sources.did_change)
    apt_lists(name="apt lists", cache_time=setting(DEFAULTS, "apt_cache_seconds"),
              _if=lambda: not sources.did_change())  # (fresh already when the sources changed)
    apt.packages(name="base packages", packages=PACKAGES, no_recommends=True)

    server.timezone(name="timezone", timezone=setting(DEFAULTS, "timezone"))
    locales = setting(DEFAULTS, "locales")
    locales_generated(name="locales", locales=list(locales))
    conf = bundle(["/etc/default/locale", "/etc/chrony/sources.d/desa.sources", "/etc/apt/apt.conf.d/20auto-upgrades",
                   "/etc/sudoers.d/50-desa-admin"])
    file_text(name="default locale", dest="/etc/default/locale", content=f"LANG={locales[0]}\n", states=conf)
    chrony = file_text(name="chrony sources", dest="/etc/chrony/sources.d/desa.sources", states=conf,
                       content=render("server/chrony.sources.j2",
                                      servers=list(intent.site.network.ntp_servers) or ["pool.ntp.org"]))
    if container:
        note("skipped in container: time sync (chrony configured, not started: the container cannot set the clock)")
    else:
        systemd.service(name="chrony running", service="chrony", running=True, enabled=True)
        systemd.service(name="chrony restarted (sources changed)", service="chrony", restarted=True,
                        _if=chrony.did_change)

    file_text(name="unattended upgrades", dest="/etc/apt/apt.conf.d/20auto-upgrades", states=conf,
              content=render("server/20auto-upgrades.j2", reboot=bool(setting(DEFAULTS, "auto_reboot"))))
    if host.data.get("desa_lab"):
        note("skipped in lab: apt-daily timers (the lab masks them; unattended-upgrades is configured)")
    else:
        for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
            systemd.service(name=f"{timer} enabled", service=timer, running=True, enabled=True)

    server.group(name=f"group {PEOPLE_GROUP}", group=PEOPLE_GROUP)
    server.group(name=f"group {ADMIN_GROUP}", group=ADMIN_GROUP)
    file_text(name="sudo for desa-admin", dest="/etc/sudoers.d/50-desa-admin", mode="0440", states=conf,
              content=render("server/sudoers.j2", group_name=ADMIN_GROUP))
    wanted = {p.name for p in intent.server.people}
    for p in intent.server.people:
        account(name=f"user {p.name}" + (" (sudo)" if p.sudo else ""), user=p.name, groups=groups_of(p),
                keys=list(p.ssh_keys), comment=p.full_name or p.name)
    for stray in host.get_fact(GroupMembers, group=PEOPLE_GROUP):
        if stray not in wanted:
            locked_out(name=f"lock {stray} (no longer in the inventory)", user=stray)
