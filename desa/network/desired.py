"""Site intent → the template context of its RouterOS configuration.

Only facts derived from the inventory live here; the RouterOS syntax lives in
`templates/routeros/*.rsc.j2`. Values are plain Python strings: the templates quote every one of
them with the `q` filter, so no inventory value can become RouterOS syntax.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from desa.intent import SiteIntent

BRIDGE = "bridge"
WG_INTERFACE = "wg-hub"
WG_LISTEN_PORT = 13231
SECRET_OPEN, SECRET_CLOSE = "<", ">"


def secret_placeholder(ref: str) -> str:
    """How a secret appears in rendered configs and plans; replaced by the value only when pushed."""
    return f"{SECRET_OPEN}{ref}{SECRET_CLOSE}"


def mbit(value: float) -> str:
    """A rate in bits per second as RouterOS prints it (`5M`, `2500k`)."""
    bps = int(round(value * 1_000_000))
    if bps % 1_000_000 == 0:
        return f"{bps // 1_000_000}M"
    if bps % 1000 == 0:
        return f"{bps // 1000}k"
    return str(bps)


def hub_public_key(intent: SiteIntent) -> str:
    """The hub's WireGuard public key (the lab's generated key in lab mode)."""
    try:
        from desa import secrets
    except ImportError:  # the secrets module is not installed: use the declared key
        return intent.hub.public_key
    return secrets.wireguard_public_key(intent.hub.private_key, intent.hub.public_key)


def _iface(intent: SiteIntent, segment: str) -> str:
    return intent.segment(segment).interface


def _firewall_rules(intent: SiteIntent) -> list[dict]:
    """Forward rules allowed by the inventory (everything else between segments is dropped)."""
    rules = []
    for i, rule in enumerate(intent.site.network.allow):
        match: dict[str, str] = {}
        if rule.src == "vpn":
            match["in-interface"] = WG_INTERFACE
        else:
            match["in-interface"] = _iface(intent, rule.src)
        if rule.dst == "internet":
            match["out-interface-list"] = "WAN"
        elif rule.dst == "server":
            match["dst-address"] = str(intent.server.address)
        elif rule.dst == "vpn":
            match["out-interface"] = WG_INTERFACE
        else:
            match["out-interface"] = _iface(intent, rule.dst)
        if rule.ports:
            match["protocol"] = "tcp"
            match["dst-port"] = ",".join(str(p) for p in rule.ports)
        key = f"fw-allow-{rule.src}-{rule.dst}" + (f"-{i}" if rule.ports else "")
        rules.append({"key": key, "match": match, "note": rule.comment})
    return rules


def context(intent: SiteIntent, *, management_sources: list[str] | None = None) -> dict:
    plan = intent.plan
    segs = plan.segments
    hotspot = intent.hotspot
    bw = intent.uplink.bandwidth
    mgmt_sources = [str(segs["management"].network), str(plan.vpn_network)]
    for extra in management_sources or []:
        if extra not in mgmt_sources:
            mgmt_sources.append(extra)
    walled = list(hotspot.walled_garden)
    if intent.app is not None and intent.app.domain not in walled:
        walled.insert(0, intent.app.domain)
    site = intent.site
    note = f"Desa {site.name}, Kecamatan {site.kecamatan} ({site.kode}). Operator: {site.operator.name}"
    if site.operator.phone:
        note += f" {site.operator.phone}"
    return {
        "identity": intent.router.identity,
        "note": note,
        "bridge": BRIDGE,
        "wan": intent.router.wan_interface,
        "trunk": intent.router.trunk_interface,
        "uplink": intent.uplink,
        "uplink_pppoe_password": (secret_placeholder(intent.uplink.pppoe_password)
                                  if intent.uplink.pppoe_password else ""),
        "segments": [
            {
                "name": s.name, "vlan": s.vlan_id, "interface": s.interface,
                "address": str(s.gateway_interface), "network": str(s.network), "gateway": str(s.gateway),
                "dhcp": f"{s.dhcp[0]}-{s.dhcp[1]}" if s.dhcp else None,
                "lease_time": "30m" if s.name == "hotspot" else "1h",
            }
            for s in segs.values()
        ],
        "dns_servers": ",".join(str(a) for a in intent.site.network.dns_servers),
        "ntp_servers": list(intent.site.network.ntp_servers),
        "wireguard": {
            "interface": WG_INTERFACE,
            "listen_port": WG_LISTEN_PORT,
            "private_key": secret_placeholder(intent.site.vpn.private_key),
            "address": f"{plan.vpn_address}/{plan.vpn_network.prefixlen}",
            "hub_public_key": hub_public_key(intent),
            "hub_endpoint": str(intent.hub.endpoint),
            "hub_port": intent.hub.port,
            "allowed": ",".join([str(plan.vpn_network), *(str(n) for n in intent.hub.networks)]),
        },
        "hub_networks": [str(n) for n in intent.hub.networks],
        "management": {
            "interface": _iface(intent, "management"),
            "sources": ",".join(mgmt_sources),
        },
        "forward_rules": _firewall_rules(intent),
        "hotspot": {
            "enabled": hotspot.enabled,
            "interface": _iface(intent, "hotspot"),
            "address": str(segs["hotspot"].gateway),
            "dns_name": hotspot.dns_name,
            "profiles": [
                {"name": p.name, "rate_limit": f"{mbit(p.rate_up_mbps)}/{mbit(p.rate_down_mbps)}",
                 "session_timeout": f"{p.session_timeout_hours}h" if p.session_timeout_hours else None,
                 "shared_users": p.shared_users}
                for p in hotspot.profiles
            ],
            "walled_garden": walled,
            "max_limit": f"{mbit(bw.up_mbps * hotspot.total_share)}/{mbit(bw.down_mbps * hotspot.total_share)}",
        },
        "server": str(intent.server.address),
        "cctv_interface": _iface(intent, "cctv"),
    }


def in_management(intent: SiteIntent, address: str) -> bool:
    """Whether an address is inside the management segment or the VPN (no extra source needed)."""
    from ipaddress import IPv4Address

    a = IPv4Address(address)
    return a in intent.plan.segments["management"].network or a in IPv4Network(intent.plan.vpn_network)
