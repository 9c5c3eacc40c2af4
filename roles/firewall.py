"""firewall: an nftables default-drop input policy built from the site intent.

    firewall.run(intent)
    firewall.policy(intent, controller=None) -> dict   (the sources per service: tests as data)

Who may reach what (input; forward drops everything; output is open, so WireGuard UDP, apt and backups
leave freely and their answers come back as established):
    SSH (server.ssh_port)   the management segment, the VPN network, the hub's data-centre networks, and
                            the deploy controller (host data `desa_controller`; in the lab also the deploy
                            connection's own source address, whatever runs the deploy)
    web 80/443              office, hotspot, the VPN network (and the controller)
    node-exporter 9100      only the hub's VPN address
    the database            nobody from outside (MariaDB listens on localhost; no rule)
Data: `firewall_extra_rules` (list of nft rule lines added to the input chain; default none).

Applied only after `nft -c` accepted the file, and only when it changed; the policy keeps established
connections, so the deploy's own SSH connection is never cut while it is applied; and a policy that
would refuse the deploy's source address (`$SSH_CLIENT`) the next time is refused before anything is
written ("would lock out this deploy's own connection → …"). Only the table
`inet desa` is replaced: fail2ban's table stays.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import FactBase, deploy, operation
from pyinfra.operations import apt, files, systemd

from desa.intent import SiteIntent
from desa.errors import DesaError
from roles import TEMPLATES, deploy_client, setting

DEFAULTS = {"firewall_extra_rules": []}
CONF = "/etc/nftables.conf"


def policy(intent: SiteIntent, controller: str | None = None) -> dict[str, list[str]]:
    seg = intent.plan.segments
    vpn = str(intent.plan.vpn_network)
    ssh = [str(seg["management"].network), vpn] + [str(n) for n in intent.hub.networks]
    web = [str(seg[name].network) for name in ("office", "hotspot") if name in seg] + [vpn]
    if controller:
        ssh.append(controller)
        web.append(controller)
    return {"ssh": _unique(ssh), "web": _unique(web), "monitoring": [str(intent.plan.hub_vpn_address)]}


def _covers(nets: list[str], address: str) -> bool:
    import ipaddress

    try:
        a = ipaddress.ip_address(address)
    except ValueError:
        return True  # not an IPv4/IPv6 address (a local connection): nothing to lock out
    return any(a in ipaddress.ip_network(n, strict=False) for n in nets)


def _unique(items: list[str]) -> list[str]:
    import ipaddress

    nets = ipaddress.collapse_addresses(ipaddress.ip_network(i, strict=False) for i in items)
    return [str(n) if n.prefixlen < 32 else str(n.network_address) for n in nets]


class NftTables(FactBase):
    """Tables loaded now (`inet desa`, `inet f2b-table`, …)."""

    default = list

    def command(self) -> str:
        return "nft list tables 2>/dev/null || true"

    def process(self, output) -> list[str]:
        return [line.strip()[len("table "):] for line in output if line.strip().startswith("table ")]


@operation(is_idempotent=False)
def nft_checked_apply(path: str):
    """`nft -c` first; only a file nft accepts is loaded (the running rules stay otherwise)."""
    yield f"nft -c -f {path} && nft -f {path}"


@deploy("firewall")
def run(intent: SiteIntent):
    apt.packages(name="nftables", packages=["nftables"], no_recommends=True)
    client = deploy_client()
    p = policy(intent, client if host.data.get("desa_lab") else host.data.get("desa_controller"))
    if client and not _covers(p["ssh"], client):
        raise DesaError(f"{host.name}: the firewall would lock out this deploy's own connection from {client} → "
                        "deploy from the management segment, the VPN or the hub's network, or set host data "
                        "`desa_controller`")
    conf = files.template(
        name="nftables: default-drop policy", src=str(TEMPLATES / "nftables" / "desa.nft.j2"), dest=CONF,
        mode="0755", hostname=intent.server.hostname, ssh_port=intent.server.ssh_port,
        ssh_from=p["ssh"], web_from=p["web"], monitoring_from=p["monitoring"],
        extra=setting(DEFAULTS, "firewall_extra_rules"))
    loaded = "inet desa" in host.get_fact(NftTables)
    nft_checked_apply(name="nftables: checked and applied", path=CONF,
                      _if=lambda: conf.did_change() or not loaded)
    systemd.service(name="nftables enabled", service="nftables", running=True, enabled=True)
