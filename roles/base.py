"""base: what every desa-digital Debian 12 host has — name, clock, locale, apt, updates, people.

    base.apply(hostname, people, ntp_servers)      (a @deploy; deploys/server.py and deploys/hub.py call it)

Host data (defaults below):
    desa_apt_mirror            Debian mirror of the site                   http://deb.debian.org/debian
    desa_apt_security_mirror   security mirror                             http://deb.debian.org/debian-security
    desa_timezone              timezone                                    Asia/Jakarta
    desa_locales               locales generated (the first is LANG)       en_US.UTF-8, id_ID.UTF-8
    desa_lab                   a lab host: apt's daily timers stay as the lab set them (masked: they race
                               with deploys); everywhere else they are enabled (unattended upgrades)

People: every Person of the site (regency staff + the village technicians) gets a login with exactly
the inventory's SSH keys; `sudo: true` gives passwordless sudo (/etc/sudoers.d/50-desa-people, checked
with visudo), everyone else reads logs (groups adm, systemd-journal). People no longer in the inventory
are removed (their home is kept); the deploy user (`ssh_user`) is never touched.
In a container the clock cannot be set: chrony is installed and configured but not required to run,
and the host says so ("skipped in container: …").
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.operations import apt, files, server, systemd

from roles import TEMPLATES, in_container, note, setting

DEFAULTS = {
    "desa_apt_mirror": "http://deb.debian.org/debian",
    "desa_apt_security_mirror": "http://deb.debian.org/debian-security",
    "desa_timezone": "Asia/Jakarta",
    "desa_locales": ["en_US.UTF-8", "id_ID.UTF-8"],
    "desa_lab": False,
}
RELEASE = "bookworm"
PEOPLE_FILE = "/etc/desa/people"  # who this role created (so it can remove who left the inventory)
PACKAGES = ["sudo", "locales", "chrony", "unattended-upgrades", "apt-listchanges", "curl", "ca-certificates",
            "nftables", "python3-systemd"]
APT_CACHE = 24 * 3600


class ManagedPeople(FactBase):
    """Users a previous deploy created (one name a line in /etc/desa/people)."""

    default = list

    def command(self) -> str:
        return f"cat {PEOPLE_FILE} 2>/dev/null || true"

    def process(self, output) -> list[str]:
        return [line.strip() for line in output if line.strip() and not line.startswith("#")]


class Locales(FactBase):
    """Locales generated on the host (`locale -a`, normalised like en_US.UTF-8)."""

    default = list

    def command(self) -> str:
        return "locale -a 2>/dev/null || true"

    def process(self, output) -> list[str]:
        return sorted({line.strip().replace(".utf8", ".UTF-8") for line in output if line.strip()})


def locale_gen(locales: list[str]) -> str:
    return "".join(f"{loc} UTF-8\n" for loc in locales)


@deploy("base")
def apply(hostname: str, people, ntp_servers: list[str], deploy_user: str = "desa"):
    mirror = setting(DEFAULTS, "desa_apt_mirror")
    security = setting(DEFAULTS, "desa_apt_security_mirror")
    sources = files.template(name="apt sources (site mirror)", src=str(TEMPLATES / "server" / "sources.list.j2"),
                             dest="/etc/apt/sources.list", mode="0644", mirror=mirror, security_mirror=security,
                             release=RELEASE)
    apt.update(name="apt lists refreshed (sources changed)", _if=sources.did_change)
    apt.packages(name="base packages", packages=PACKAGES, no_recommends=True, update=True, cache_time=APT_CACHE)
    files.directory(name="/etc/desa", path="/etc/desa", user="root", group="root", mode="0755")

    server.hostname(name=f"hostname {hostname}", hostname=hostname)
    server.timezone(name="timezone", timezone=setting(DEFAULTS, "desa_timezone"))
    locales = list(setting(DEFAULTS, "desa_locales"))
    gen = files.put(name="locales to generate", src=StringIO(locale_gen(locales)), dest="/etc/locale.gen",
                    mode="0644")
    if gen.will_change or not set(locales) <= set(host.get_fact(Locales)):
        server.shell(name="locales generated", commands=["locale-gen"])
    files.put(name="default locale", src=StringIO(f"LANG={locales[0]}\n"), dest="/etc/default/locale", mode="0644")

    chrony = files.template(name="chrony: the site's NTP servers", src=str(TEMPLATES / "server" / "chrony.conf.j2"),
                            dest="/etc/chrony/chrony.conf", mode="0644", servers=ntp_servers)
    if in_container():
        note("skipped in container: time sync (chrony is configured; a container cannot set the clock)")
    else:
        systemd.service(name="chrony running", service="chrony", running=True, enabled=True,
                        restarted=chrony.did_change)

    files.template(name="unattended security upgrades", src=str(TEMPLATES / "server" / "unattended-upgrades.j2"),
                   dest="/etc/apt/apt.conf.d/20auto-upgrades", mode="0644")
    files.file(name="Debian's own periodic file left out", path="/etc/apt/apt.conf.d/02periodic", present=False)
    if setting(DEFAULTS, "desa_lab"):
        note("skipped in the lab: apt-daily timers stay masked (they race with deploys); "
             "unattended-upgrades is configured")
    else:
        for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
            systemd.service(name=f"{timer} enabled", service=timer, running=True, enabled=True)

    _people(people, deploy_user)


def _people(people, deploy_user: str) -> None:
    wanted = [p for p in people if p.name != deploy_user]
    for person in wanted:
        server.user(name=f"person {person.name}" + (" (sudo)" if person.sudo else ""), user=person.name,
                    shell="/bin/bash", groups=["adm", "systemd-journal"], public_keys=list(person.ssh_keys),
                    delete_keys=True, create_home=True, comment=person.full_name or person.name)
    gone = sorted(set(host.get_fact(ManagedPeople)) - {p.name for p in wanted} - {deploy_user, "root"})
    for name in gone:
        server.user(name=f"person {name} removed (no longer in the inventory)", user=name, present=False)
    files.put(name="who base created", src=StringIO("".join(f"{p.name}\n" for p in wanted)), dest=PEOPLE_FILE,
              mode="0644")
    sudoers = [p.name for p in wanted if p.sudo]
    files.template(name="sudo rights from the inventory", src=str(TEMPLATES / "server" / "sudoers.j2"),
                   dest="/etc/sudoers.d/50-desa-people", mode="0440", user="root", group="root", sudoers=sudoers)
    files.file(name="no stray sudoers from older deploys", path="/etc/sudoers.d/desa-people", present=False)
