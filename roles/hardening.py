"""hardening: sshd keys only (no root, modern algorithms), fail2ban, sysctl basics, no stray listeners.

    hardening.run(intent)

Data (host data overrides these defaults):
    ssh_kex          curve25519 first (cheap), then sntrup761x25519 and ecdh
    ssh_ciphers      chacha20-poly1305, AES-GCM, AES-CTR (the last for paramiko, pyinfra's SSH client)
    ssh_macs         encrypt-then-MAC SHA-2 first
    fail2ban_bantime 1h; fail2ban_maxretry 5
    stray_services   services removed/disabled if present (they listen and nobody needs them)

sshd: /etc/ssh/sshd_config.d/10-desa.conf, checked with `sshd -t` before ssh is reloaded (a broken file
is removed again, never left to lock us out on the next restart); reload only when it changed.
sysctl: network keys apply everywhere (they are per network namespace); kernel keys
(/etc/sysctl.d/91-desa-kernel.conf) are written everywhere but applied only outside a container.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.operations import apt, files, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, bundle, deploy_client, file_text, in_container, note, render, setting

DEFAULTS = {
    "ssh_kex": ["curve25519-sha256", "curve25519-sha256@libssh.org", "sntrup761x25519-sha512@openssh.com",
                "ecdh-sha2-nistp256", "diffie-hellman-group16-sha512"],
    "ssh_ciphers": ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                    "aes256-ctr", "aes128-ctr"],
    "ssh_macs": ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256",
                 "hmac-sha2-512"],
    "fail2ban_bantime": "1h",
    "fail2ban_maxretry": 5,
    "stray_services": ["rpcbind", "avahi-daemon", "cups", "exim4", "telnetd", "inetutils-inetd"],
}
NET_SYSCTL = {
    "net.ipv4.conf.all.rp_filter": 1, "net.ipv4.conf.default.rp_filter": 1,
    "net.ipv4.conf.all.accept_redirects": 0, "net.ipv4.conf.default.accept_redirects": 0,
    "net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.all.accept_source_route": 0,
    "net.ipv4.icmp_echo_ignore_broadcasts": 1, "net.ipv4.tcp_syncookies": 1,
    "net.ipv4.conf.all.log_martians": 1,
}
KERNEL_SYSCTL = {"kernel.kptr_restrict": 2, "kernel.dmesg_restrict": 1, "fs.protected_symlinks": 1,
                 "fs.protected_hardlinks": 1, "kernel.yama.ptrace_scope": 1}
SSHD_DROPIN = "/etc/ssh/sshd_config.d/10-desa.conf"
T = TEMPLATES / "server"


@operation(is_idempotent=False)
def sshd_checked_reload(path: str):
    """`sshd -t`, then reload ssh; a file sshd refuses is removed (the old config keeps working)."""
    yield (f"sshd -t || {{ mv -f {path} {path}.rejected; echo 'sshd refused {path} (kept as .rejected)' >&2; exit 1; }}"
           " && systemctl reload ssh")


@operation(is_idempotent=False)
def sysctl_apply(path: str):
    yield f"sysctl -q -p {path}"


def ignore_networks(intent: SiteIntent) -> list[str]:
    nets = [str(intent.segment("management").network), str(intent.plan.vpn_network)]
    nets += [str(n) for n in intent.hub.networks]
    ctl = deploy_client() if host.data.get("desa_lab") else host.data.get("desa_controller")
    if ctl:
        nets.append(f"{ctl}/32")
    return nets


@deploy("hardening")
def run(intent: SiteIntent):
    container = in_container()
    dropin = files.template(
        name="sshd: keys only, no root, modern algorithms", src=str(TEMPLATES / "sshd" / "10-desa.conf.j2"),
        dest=SSHD_DROPIN, mode="0644", port=intent.server.ssh_port, kex=setting(DEFAULTS, "ssh_kex"),
        ciphers=setting(DEFAULTS, "ssh_ciphers"), macs=setting(DEFAULTS, "ssh_macs"))
    sshd_checked_reload(name="sshd checked and reloaded", path=SSHD_DROPIN, _if=dropin.did_change)
    systemd.service(name="ssh running", service="ssh", running=True, enabled=True)

    apt.packages(name="fail2ban", packages=["fail2ban", "python3-systemd"], no_recommends=True)
    jail = file_text(name="fail2ban: sshd jail (systemd journal, nftables)", dest="/etc/fail2ban/jail.d/desa.local",
                     content=render("server/fail2ban.local.j2", bantime=setting(DEFAULTS, "fail2ban_bantime"),
                                    maxretry=setting(DEFAULTS, "fail2ban_maxretry"), ignore=ignore_networks(intent),
                                    ssh_port=intent.server.ssh_port))
    files.file(name="fail2ban: Debian's defaults-debian.conf (sshd without backend) removed",
               path="/etc/fail2ban/jail.d/defaults-debian.conf", present=False)
    systemd.service(name="fail2ban running", service="fail2ban", running=True, enabled=True)
    systemd.service(name="fail2ban restarted (jail changed)", service="fail2ban", restarted=True,
                    _if=jail.did_change)

    sysctl_files = bundle(["/etc/sysctl.d/90-desa-net.conf", "/etc/sysctl.d/91-desa-kernel.conf"])
    net = file_text(name="sysctl: network", dest="/etc/sysctl.d/90-desa-net.conf", states=sysctl_files,
                    content=render("server/sysctl-net.conf.j2", values=NET_SYSCTL))
    sysctl_apply(name="sysctl: network applied", path="/etc/sysctl.d/90-desa-net.conf", _if=net.did_change)
    kern = file_text(name="sysctl: kernel", dest="/etc/sysctl.d/91-desa-kernel.conf", states=sysctl_files,
                     content=render("server/sysctl-net.conf.j2", values=KERNEL_SYSCTL))
    if container:
        note("skipped in container: kernel sysctls " + ", ".join(KERNEL_SYSCTL) + " (written, not applied)")
    else:
        sysctl_apply(name="sysctl: kernel applied", path="/etc/sysctl.d/91-desa-kernel.conf", _if=kern.did_change)

    apt.packages(name="no stray services", packages=setting(DEFAULTS, "stray_services"), present=False)
