"""hub: the regency hub's side of every village — WireGuard peers and chrooted SFTP backup repositories.

    hub.run(sites)                   sites: every SiteIntent of the regency (a hub never forgets a site)
    hub.peers(sites) -> list[dict]   (tests as data: one peer per server and per router)

WireGuard (`wg-quick@wg-desa`, ListenPort = hub.port, the hub's tunnel address in the VPN network): a
peer per site server (its tunnel address /32) and per site router (its tunnel address and the site's
routed prefixes); IPv4 forwarding on. Private key `hub.private_key` from the secrets store, on the host
only inside the 0600 config. Kernel module or wireguard-go, as roles/vpn.py.

Backups: a user `bk-SLUG` per site (group desa-backup, no shell, no password) whose SFTP session is
chrooted to /srv/backup/bk-SLUG (root-owned) with the restic repository in /srv/backup/bk-SLUG/restic
(the user's only writable folder); its one authorized key (`restrict`ed) is the public half of
`secret:sites/SLUG/backup-ssh-key` in /etc/ssh/authorized_keys/bk-SLUG (root-owned). sshd's drop-in is
checked with `sshd -t` before the reload.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, account, apt_lists, file_text, in_container, note, setting
from roles.backup import backup_user, key_ref
from roles.hardening import sshd_checked_reload, sysctl_apply
from roles.vpn import WireGuardKernel

DEFAULTS = {"wg_interface": "wg-desa", "backup_root": "/srv/backup"}
BACKUP_GROUP = "desa-backup"


def peers(sites: list[SiteIntent]) -> list[dict]:
    from desa import secrets

    out = []
    for s in sorted(sites, key=lambda i: i.site.slot):
        out.append({"name": f"{s.server.hostname} (server of {s.slug})",
                    "public_key": secrets.wireguard_public_key(s.site.vpn.server_private_key, s.site.vpn.server_public_key),
                    "allowed": [f"{s.plan.server_vpn_address}/32"]})
        out.append({"name": f"{s.router.identity} (router of {s.slug})",
                    "public_key": secrets.wireguard_public_key(s.site.vpn.private_key, s.site.vpn.public_key),
                    "allowed": [f"{s.plan.vpn_address}/32", str(s.plan.prefix)]})
    return out


@deploy("hub")
def run(sites: list[SiteIntent]):
    from jinja2 import Template

    from desa import secrets

    if not sites:
        return
    hub = sites[0].hub
    iface = setting(DEFAULTS, "wg_interface")
    root = setting(DEFAULTS, "backup_root")
    kernel = host.get_fact(WireGuardKernel)
    apt_lists(name="apt lists", cache_time=86400)
    apt.packages(name="hub packages", packages=["wireguard-tools", "openssh-server"] + ([] if kernel else ["wireguard-go"]),
                 no_recommends=True)
    if not kernel:
        note("skipped in container: the WireGuard kernel module (wireguard-go runs the tunnels)" if in_container()
             else "no WireGuard kernel module: wireguard-go runs the tunnels")

    fwd = files.put(name="sysctl: IPv4 forwarding", src=StringIO("net.ipv4.ip_forward = 1\n"),
                    dest="/etc/sysctl.d/90-desa-hub.conf", mode="0644")
    sysctl_apply(name="sysctl: forwarding applied", path="/etc/sysctl.d/90-desa-hub.conf", _if=fwd.did_change)

    files.directory(name="/etc/wireguard", path="/etc/wireguard", mode="0700", user="root", group="root")
    text = Template((TEMPLATES / "wireguard" / "hub.conf.j2").read_text(), keep_trailing_newline=True).render(
        hub_name=hub.name, private_key=secrets.resolve(hub.private_key),
        address=f"{hub.vpn_address}/{hub.vpn_network.prefixlen}", port=hub.port, peers=peers(sites))
    conf = file_text(name=f"wireguard: {iface}.conf (0600)", content=text, dest=f"/etc/wireguard/{iface}.conf",
                     mode="0600")
    systemd.service(name=f"wireguard: wg-quick@{iface} running", service=f"wg-quick@{iface}", running=True, enabled=True)
    systemd.service(name=f"wireguard: wg-quick@{iface} restarted (peers changed)", service=f"wg-quick@{iface}",
                    restarted=True, _if=conf.did_change)

    # backup repositories, one chrooted SFTP account per site
    server.group(name=f"group {BACKUP_GROUP}", group=BACKUP_GROUP, system=True)
    files.directory(name=f"folder {root}", path=root, user="root", group="root", mode="0755")
    files.directory(name="folder /etc/ssh/authorized_keys", path="/etc/ssh/authorized_keys", user="root",
                    group="root", mode="0755")
    for s in sites:
        user = backup_user(s.slug)
        home = f"{root}/{user}"
        account(name=f"backup account {user}", user=user, groups=[], keys=None, home=home, shell="/usr/sbin/nologin",
                system=True, primary_group=BACKUP_GROUP, comment=f"backups of {s.slug}")
        files.directory(name=f"chroot {home}", path=home, user="root", group="root", mode="0755")
        files.directory(name=f"repository {home}/restic", path=f"{home}/restic", user=user, group=BACKUP_GROUP,
                        mode="0700")
        files.put(name=f"authorized key of {user}", dest=f"/etc/ssh/authorized_keys/{user}", user="root",
                  group="root", mode="0644",
                  src=StringIO("restrict " + secrets.ssh_public_key(key_ref(s.slug), f"backup@{s.server.hostname}") + "\n"))
    dropin = files.template(name="sshd: chrooted SFTP for backup accounts",
                            src=str(TEMPLATES / "sshd" / "20-desa-backup.conf.j2"),
                            dest="/etc/ssh/sshd_config.d/20-desa-backup.conf", mode="0644",
                            backup_group=BACKUP_GROUP, root=root)
    sshd_checked_reload(name="sshd checked and reloaded", path="/etc/ssh/sshd_config.d/20-desa-backup.conf",
                        _if=dropin.did_change)
