"""Derived intent: what a site must look like, computed from the models.

The address plan is allocated from the regency pools by the site's `slot`, so a new village needs
no hand-picked subnets and a given site always gets the same plan. Everything downstream (render,
deploy, lab, checks) reads a `SiteIntent`, never the raw YAML.

Plan of a site prefix P (a /24 in Bekasi: 10.216.SLOT.0/24):
  office      first half of P           gateway .1, server .10, DHCP second half of the subnet
  management  P's 3rd eighth (.128/27)  router .129 (gateway), switches .130–.139, APs .140–.149
  cctv        P's 4th eighth (.160/27)  gateway .161, DHCP second half
  (.192/26 reserved)
  hotspot     the regency's NAT-only local pool (the same in every site, never routed)
  vpn         tunnel addresses: router pools.vpn[2·slot + 2], server pools.vpn[2·slot + 3];
              the hub is pools.vpn[1]
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from desa.models import Application, Contact, Hotspot, Person, Regency, Router, Site, Uplink

SEGMENTS = ("office", "hotspot", "cctv", "management")


@dataclass(frozen=True)
class Segment:
    name: str
    vlan_id: int
    network: IPv4Network
    gateway: IPv4Address
    dhcp: tuple[IPv4Address, IPv4Address] | None
    routed: bool  # crosses the VPN (unique across all sites) or NAT-only local

    @property
    def interface(self) -> str:
        """The router's VLAN interface name for this segment."""
        return f"vlan{self.vlan_id}-{self.name}"

    @property
    def gateway_interface(self) -> IPv4Interface:
        return IPv4Interface(f"{self.gateway}/{self.network.prefixlen}")

    def in_dhcp_pool(self, address: IPv4Address) -> bool:
        return self.dhcp is not None and self.dhcp[0] <= address <= self.dhcp[1]


@dataclass(frozen=True)
class AddressPlan:
    prefix: IPv4Network  # the site's routed prefix
    segments: dict[str, Segment]
    vpn_address: IPv4Address  # the router's tunnel address
    server_vpn_address: IPv4Address  # the server's own tunnel address
    hub_vpn_address: IPv4Address
    vpn_network: IPv4Network

    @property
    def routed_prefixes(self) -> list[IPv4Network]:
        """Prefixes that cross the VPN: the site prefix and its tunnel address."""
        return [self.prefix, IPv4Network(f"{self.vpn_address}/32"),
                IPv4Network(f"{self.server_vpn_address}/32")]


@dataclass(frozen=True)
class Hub:
    name: str
    endpoint: IPv4Address
    port: int
    public_key: str
    private_key: str  # secret reference
    vpn_address: IPv4Address
    vpn_network: IPv4Network
    networks: tuple[IPv4Network, ...]
    ssh_user: str


@dataclass(frozen=True)
class RouterIntent:
    identity: str
    model: str
    routeros: str
    address: IPv4Address  # management address (the deploy connects here)
    port: int
    username: str
    password: str  # secret reference
    wan_interface: str
    trunk_interface: str


@dataclass(frozen=True)
class ServerIntent:
    hostname: str
    address: IPv4Address
    ssh_user: str
    ssh_port: int
    people: tuple[Person, ...]  # regency staff + village technicians, each with their rights
    backup_retention_days: int


@dataclass(frozen=True)
class SiteIntent:
    """Everything a deploy, the lab and the checks need to know about one site."""

    site: Site
    regency: Regency
    plan: AddressPlan
    hub: Hub
    router: RouterIntent
    server: ServerIntent
    source: str = field(default="")  # the site file, for messages

    # Convenience accessors, named from the domain.
    @property
    def slug(self) -> str:
        return self.site.slug

    @property
    def kode(self) -> str:
        return self.site.kode

    @property
    def name(self) -> str:
        return self.site.name

    @property
    def uplink(self) -> Uplink:
        return self.site.uplink

    @property
    def hotspot(self) -> Hotspot:
        return self.site.network.hotspot

    @property
    def app(self) -> Application | None:
        return self.site.app

    @property
    def operator(self) -> Contact:
        return self.site.operator

    def segment(self, name: str) -> Segment:
        return self.plan.segments[name]

    @cached_property
    def as_dict(self) -> dict:
        """JSON-ready resolved intent (what `desa show --json` prints)."""
        s = self.site
        return {
            "slug": s.slug,
            "kode": s.kode,
            "name": s.name,
            "kecamatan": s.kecamatan,
            "regency": {"kode": self.regency.kode, "name": self.regency.name, "slug": self.regency.slug},
            "slot": s.slot,
            "plan": {
                "prefix": str(self.plan.prefix),
                "vpn_address": str(self.plan.vpn_address),
                "server_vpn_address": str(self.plan.server_vpn_address),
                "segments": {
                    n: {
                        "vlan": seg.vlan_id,
                        "network": str(seg.network),
                        "gateway": str(seg.gateway),
                        "dhcp": [str(seg.dhcp[0]), str(seg.dhcp[1])] if seg.dhcp else None,
                        "routed": seg.routed,
                    }
                    for n, seg in self.plan.segments.items()
                },
            },
            "hub": {
                "name": self.hub.name,
                "endpoint": f"{self.hub.endpoint}:{self.hub.port}",
                "vpn_address": str(self.hub.vpn_address),
            },
            "router": {
                "identity": self.router.identity,
                "model": self.router.model,
                "routeros": self.router.routeros,
                "address": str(self.router.address),
                "port": self.router.port,
                "username": self.router.username,
                "password": self.router.password,
            },
            "server": {
                "hostname": self.server.hostname,
                "address": str(self.server.address),
                "ssh_user": self.server.ssh_user,
                "people": [{"name": p.name, "sudo": p.sudo} for p in self.server.people],
            },
            "uplink": s.uplink.model_dump(mode="json"),
            "network": s.network.model_dump(mode="json"),
            "app": s.app.model_dump(mode="json") if s.app else None,
        }


def _host(network: IPv4Network, index: int) -> IPv4Address:
    return network.network_address + index


def _second_half(network: IPv4Network) -> tuple[IPv4Address, IPv4Address]:
    start, size = int(network.network_address), network.num_addresses
    return IPv4Address(start + size // 2), IPv4Address(start + size - 2)


def _part(prefix: IPv4Network, index: int, prefixlen_diff: int) -> IPv4Network:
    """The index-th of the 2**prefixlen_diff equal parts of prefix (arithmetic, no lists)."""
    size = prefix.num_addresses >> prefixlen_diff
    return IPv4Network((int(prefix.network_address) + index * size, prefix.prefixlen + prefixlen_diff))


def site_prefix(regency: Regency, slot: int) -> IPv4Network:
    pools = regency.pools
    if slot >= pools.capacity:
        raise ValueError(f"slot {slot} is outside the routed pool {pools.routed} (capacity {pools.capacity})")
    size = 2 ** (32 - pools.site_prefix)
    return IPv4Network((int(pools.routed.network_address) + slot * size, pools.site_prefix))


def vpn_addresses(regency: Regency, slot: int) -> tuple[IPv4Address, IPv4Address]:
    """(router, server) tunnel addresses of a site."""
    vpn = regency.pools.vpn
    if 2 * slot + 3 >= vpn.num_addresses - 1:
        raise ValueError(f"slot {slot} has no tunnel address in the VPN pool {vpn}")
    return _host(vpn, 2 * slot + 2), _host(vpn, 2 * slot + 3)


def address_plan(site: Site, regency: Regency) -> AddressPlan:
    prefix = site_prefix(regency, site.slot)
    office_net, mgmt_net, cctv_net = _part(prefix, 0, 1), _part(prefix, 4, 3), _part(prefix, 5, 3)
    vlans = site.network.vlans
    local = regency.pools.local

    def seg(name: str, net: IPv4Network, routed: bool) -> Segment:
        vlan = vlans[name]
        return Segment(
            name=name,
            vlan_id=vlan.id,
            network=net,
            gateway=_host(net, 1),
            dhcp=_second_half(net) if vlan.dhcp else None,
            routed=routed,
        )

    segments = {
        "office": seg("office", office_net, True),
        "hotspot": seg("hotspot", local, False),
        "cctv": seg("cctv", cctv_net, True),
        "management": seg("management", mgmt_net, True),
    }
    # The hotspot pool starts after a small block kept for infrastructure.
    hs = segments["hotspot"]
    if hs.dhcp:
        first = _host(local, 10)
        segments["hotspot"] = Segment(hs.name, hs.vlan_id, hs.network, hs.gateway,
                                      (first, local.broadcast_address - 1), False)
    # Management addresses are all static.
    mg = segments["management"]
    segments["management"] = Segment(mg.name, mg.vlan_id, mg.network, mg.gateway, None, True)
    router_vpn, server_vpn = vpn_addresses(regency, site.slot)
    return AddressPlan(
        prefix=prefix,
        segments=segments,
        vpn_address=router_vpn,
        server_vpn_address=server_vpn,
        hub_vpn_address=_host(regency.pools.vpn, 1),
        vpn_network=regency.pools.vpn,
    )


def hub_intent(regency: Regency) -> Hub:
    h = regency.hub
    return Hub(
        name=h.name,
        endpoint=h.endpoint,
        port=h.port,
        public_key=h.public_key,
        private_key=h.private_key,
        vpn_address=_host(regency.pools.vpn, 1),
        vpn_network=regency.pools.vpn,
        networks=tuple(h.networks),
        ssh_user=h.ssh_user,
    )


def people(site: Site, regency: Regency) -> tuple[Person, ...]:
    """Regency staff first, then the village technicians; a technician may not shadow staff."""
    seen: dict[str, Person] = {}
    for person in [*regency.staff, *site.server.technicians]:
        seen.setdefault(person.name, person)
    return tuple(seen.values())


def derive(site: Site, regency: Regency, source: str = "", plan: AddressPlan | None = None) -> SiteIntent:
    """The site's intent; `plan` saves recomputing an address plan the caller already has."""
    plan = plan or address_plan(site, regency)
    mgmt = plan.segments["management"]
    office = plan.segments["office"]
    r: Router = site.devices.router
    router = RouterIntent(
        identity=r.identity or f"{site.slug}-gw",
        model=r.model,
        routeros=r.routeros,
        address=r.management_address or mgmt.gateway,
        port=r.ssh_port,
        username=r.username,
        password=r.password,
        wan_interface=r.wan_interface,
        trunk_interface=r.trunk_interface,
    )
    server = ServerIntent(
        hostname=f"srv-{site.slug}",
        address=site.server.address or _host(office.network, 10),
        ssh_user=site.server.ssh_user,
        ssh_port=site.server.ssh_port,
        people=people(site, regency),
        backup_retention_days=site.server.backup_retention_days,
    )
    return SiteIntent(site=site, regency=regency, plan=plan, hub=hub_intent(regency),
                      router=router, server=server, source=source)


def ip(value: str) -> IPv4Address:
    return ipaddress.IPv4Address(value)
