"""vpn: the WireGuard tunnel from the village server to its regency hub (`wg-quick@wg-desa`).

    vpn.run(intent)
    vpn.config(intent) -> dict        the values of the tunnel (tests as data; no secret in it)

Data (host data overrides these defaults):
    wg_interface      wg-desa
    wg_keepalive      25           seconds (village uplinks sit behind NAT)

The server's private key is `site.vpn.server_private_key` from the secrets store; it reaches the host
only inside /etc/wireguard/wg-desa.conf (mode 0600). The hub's public key comes from
`desa.secrets.wireguard_public_key` (in the lab: the lab's generated hub key). The tunnel carries the
VPN network (the hub's and every site's tunnel addresses) and nothing else: the hub's public endpoint
stays on the uplink. Works with the kernel module or, where there is none (the lab, old kernels, a
container), with `wireguard-go`, which wg-quick uses by itself when the kernel cannot make the device.
Restarted only when its file changed.
"""

from __future__ import annotations


from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.operations import apt, files, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, file_text, in_container, note, setting

DEFAULTS = {"wg_interface": "wg-desa", "wg_keepalive": 25}


class WireGuardKernel(FactBase):
    """Whether the kernel has WireGuard (loaded, or loadable as a module)."""

    default = bool

    def command(self) -> str:
        return ("if test -d /sys/module/wireguard || modprobe -q wireguard 2>/dev/null; then echo yes; "
                "else echo no; fi")

    def process(self, output) -> bool:
        return any(line.strip() == "yes" for line in output)


def config(intent: SiteIntent) -> dict:
    from desa import secrets

    return {
        "hostname": intent.server.hostname,
        "hub_name": intent.hub.name,
        "address": str(intent.plan.server_vpn_address),
        "hub_public_key": secrets.wireguard_public_key(intent.hub.private_key, intent.hub.public_key),
        "endpoint": f"{intent.hub.endpoint}:{intent.hub.port}",
        "allowed": [str(intent.plan.vpn_network)],
        "keepalive": setting(DEFAULTS, "wg_keepalive"),
    }


@deploy("vpn")
def run(intent: SiteIntent):
    from desa import secrets

    iface = setting(DEFAULTS, "wg_interface")
    kernel = host.get_fact(WireGuardKernel)
    packages = ["wireguard-tools"] + ([] if kernel else ["wireguard-go"])
    apt.packages(name="wireguard", packages=packages, no_recommends=True)
    if not kernel:
        note("skipped in container: the WireGuard kernel module (wireguard-go runs the tunnel)" if in_container()
             else "no WireGuard kernel module: wireguard-go runs the tunnel")
    files.directory(name="/etc/wireguard", path="/etc/wireguard", mode="0700", user="root", group="root")
    from jinja2 import Template

    text = Template((TEMPLATES / "wireguard" / "server.conf.j2").read_text(), keep_trailing_newline=True).render(
        private_key=secrets.resolve(intent.site.vpn.server_private_key), **config(intent))
    conf = file_text(name=f"wireguard: {iface}.conf (0600)", content=text, dest=f"/etc/wireguard/{iface}.conf",
                     mode="0600")
    systemd.service(name=f"wireguard: wg-quick@{iface} running", service=f"wg-quick@{iface}", running=True,
                    enabled=True)
    systemd.service(name=f"wireguard: wg-quick@{iface} restarted (config changed)", service=f"wg-quick@{iface}",
                    restarted=True, _if=conf.did_change)
