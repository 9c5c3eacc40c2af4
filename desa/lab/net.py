"""The lab's networks on the controller: bridges, router slots, routes and the nftables policy.

Per site a bridge carrying the office gateway address: the site's server hangs on it (nspawn
--network-bridge) and the controller reaches the server at its inventory address. Per site a
router slot: a network namespace holding the router's management address, joined to the
controller by a veth pair, where the RouterOS simulator listens. Per regency hub a bridge on the
data-centre network. All names start with the lab's prefix, so labs coexist and `down` deletes
only its own.

Forwarding policy (table `inet desa_PREFIX`): a server may reach the hub endpoint (WireGuard UDP,
SSH/SFTP for backups), its own router and the apt cache on the controller — nothing else; in
particular never another site's server directly (only through the VPN via the hub). Nothing from
the lab is forwarded off the machine.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from desa.lab.errors import LabError
from desa.lab.sh import run

APT_PORT = 3142
RELAY_MARK = 0x6465  # the link emulator's own connections (desa.lab.linkd.MARK)


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def ensure_bridge(name: str, addresses: list[str]) -> bool:
    """Create the bridge if missing and make sure it holds `addresses`. True if created."""
    created = False
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        created = True
    have = run(["ip", "-o", "-4", "addr", "show", "dev", name]).stdout
    for addr in addresses:
        if f" {addr} " not in have:
            refuse_taken(addr.split("/")[0], name)
            run(["ip", "addr", "replace", addr, "dev", name])
    run(["ip", "link", "set", name, "up"])
    return created


def refuse_taken(address: str, mine: str) -> None:
    """Another lab (or anything else on the machine) already holds this address: two hosts would
    answer at one inventory address, and SSH would meet the wrong host key. Refuse, naming it."""
    out = run(["ip", "-o", "-4", "addr", "show", "to", f"{address}/32"]).stdout
    for line in out.splitlines():
        dev = line.split()[1]
        if dev != mine:
            raise LabError(f"address {address} is already on {dev} (another lab with the same addresses? "
                           f"run `desa lab down` in that lab first)")


def ensure_router_slot(netns: str, veth: str, host_addr: str, router_addr: str, gateway: str) -> None:
    """A namespace with the router's management address, joined to the controller by a veth."""
    if not netns_exists(netns):
        run(["ip", "netns", "add", netns])
    peer = veth[:-1] + "n"
    if not link_exists(veth):
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "netns", netns])
    have = run(["ip", "-o", "-4", "addr", "show", "dev", veth]).stdout
    if f" {host_addr} " not in have:
        run(["ip", "addr", "replace", host_addr, "dev", veth])
    run(["ip", "link", "set", veth, "up"])
    ns = ["ip", "-n", netns]
    run(ns + ["link", "set", "lo", "up"])
    run(ns + ["addr", "replace", router_addr, "dev", peer])
    run(ns + ["link", "set", peer, "up"])
    run(ns + ["route", "replace", "default", "via", gateway])


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "del", name], check=False)


def delete_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False)


def enable_forwarding() -> None:
    # Global by nature; other labs need it too, so `down` leaves it on.
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")


@dataclass(frozen=True)
class SiteNet:
    slug: str
    bridge: str  # the server's segment
    router_veth: str  # controller end of the router slot
    server: str  # server address
    router: str  # router management address
    router_port: int


@dataclass(frozen=True)
class HubNet:
    bridge: str
    address: str  # the hub endpoint
    port: int  # WireGuard


def ruleset(prefix: str, sites: list[SiteNet], hubs: list[HubNet], apt_address: str,
            relays: dict[str, int] | None = None) -> str:
    """The lab's nftables table (replaces the previous one atomically).

    relays: site prefix → port of the link emulator's relay for it (the controller's TCP to the
    site goes through the relay, except the relay's own connections, which carry its mark)."""
    table = f"desa_{prefix}"
    fwd = [
        f'iifname "{prefix}*" ct state established,related accept',
        f'oifname "{prefix}*" ct state established,related accept',
        f'iifname "{prefix}*" icmp type {{ echo-reply, destination-unreachable, time-exceeded }} accept',
    ]
    for hub in hubs:
        fwd += [
            f'iifname "{prefix}s*" oifname "{hub.bridge}" ip daddr {hub.address} udp dport {hub.port} accept',
            f'iifname "{prefix}s*" oifname "{hub.bridge}" ip daddr {hub.address} tcp dport 22 accept',
            f'iifname "{prefix}s*" oifname "{hub.bridge}" ip daddr {hub.address} icmp type echo-request accept',
            f'iifname "{hub.bridge}" oifname "{prefix}s*" udp sport {hub.port} accept',
        ]
    for s in sites:
        # A server reaches its own router (the village LAN), never another site's hosts.
        fwd.append(f'iifname "{s.bridge}" oifname "{s.router_veth}" ip saddr {s.server} '
                   f'ip daddr {s.router} accept')
    fwd += [f'iifname "{prefix}*" counter drop', f'oifname "{prefix}*" counter drop']
    inp = [
        f'iifname "{prefix}*" ct state established,related accept',
        f'iifname "{prefix}*" ip daddr {apt_address} tcp dport {APT_PORT} accept',
        f'iifname "{prefix}*" icmp type echo-request accept',
        f'iifname "{prefix}*" counter drop',
    ]
    nat = [f"meta mark != {RELAY_MARK:#x} ip daddr {net} meta l4proto tcp redirect to :{port}"
           for net, port in sorted((relays or {}).items())]
    body = "\n".join(
        [f"table inet {table} {{",
         *(["  chain relay {", "    type nat hook output priority -100; policy accept;",
            *[f"    {r}" for r in nat], "  }"] if nat else []),
         "  chain forward {", "    type filter hook forward priority 0; policy accept;",
         *[f"    {r}" for r in fwd], "  }",
         "  chain input {", "    type filter hook input priority 0; policy accept;",
         *[f"    {r}" for r in inp], "  }",
         "}"])
    # `table …` then `delete table …` makes the replacement work whether or not it exists.
    return f"table inet {table}\ndelete table inet {table}\n{body}\n"


def apply_ruleset(text: str) -> None:
    run(["nft", "-f", "-"], input=text, what="nft (the lab's forwarding policy)")


def delete_table(table: str) -> None:
    run(["nft", "delete", "table", "inet", table], check=False)


def hub_network(endpoint: str, networks: list[str]) -> tuple[ipaddress.IPv4Network, str]:
    """The data-centre network of a hub endpoint and the controller's address on it."""
    ep = ipaddress.IPv4Address(endpoint)
    net = next((ipaddress.IPv4Network(n) for n in networks if ep in ipaddress.IPv4Network(n)),
               ipaddress.IPv4Network(f"{ep}/24", strict=False))
    hosts = net.hosts()
    ctl = next(h for h in hosts if h != ep)
    return net, str(ctl)


def last_host(network: ipaddress.IPv4Network, avoid: set[str]) -> str:
    for h in reversed(list(network.hosts())):
        if str(h) not in avoid:
            return str(h)
    raise ValueError(f"no free address in {network}")
