"""Validation rules an engineer would otherwise learn the hard way.

Each rule takes the loaded sites — (Site, Source, Regency) triples — and returns problems that name
the file, line and field. The overlap rule sorts every routed prefix once: O(n log n) in sites.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from desa import wilayah
from desa.errors import Problem
from desa.intent import address_plan
from desa.models import Regency, Site

Loaded = tuple[Site, Any, Regency]  # (site, its Source, its regency)

SECRET_KEY_RE = re.compile(r"(password|passwd|secret|private_key|token|psk|api_key)$", re.I)


def kode_matches_names(loaded: list[Loaded]) -> list[Problem]:
    problems = []
    for site, src, regency in loaded:
        name = wilayah.name(site.kode)
        if name is None:
            problems.append(src.locate(("kode",), f"{site.kode} is not a village code in the kode wilayah list"))
            continue
        if not site.kode.startswith(regency.kode + "."):
            problems.append(src.locate(("kode",), f"{site.kode} is not in {regency.name} ({regency.kode})"))
        if wilayah.normalise(name) != wilayah.normalise(site.name):
            problems.append(src.locate(("name",), f"{site.name!r} does not match {site.kode}, which is {name!r}"))
        kec = wilayah.name(wilayah.kecamatan_of(site.kode)) or ""
        if wilayah.normalise(kec) != wilayah.normalise(site.kecamatan):
            problems.append(src.locate(("kecamatan",),
                                       f"{site.kecamatan!r} does not match {site.kode}, whose kecamatan is {kec!r}"))
    return problems


def unique_identities(loaded: list[Loaded]) -> list[Problem]:
    """Slugs, kodes and slots (within a regency) name one site each."""
    problems = []
    for key, label in ((lambda s, r: s.slug, "slug"), (lambda s, r: s.kode, "kode"),
                       (lambda s, r: (r.slug, s.slot), "slot")):
        first: dict = {}
        for site, src, regency in loaded:
            k = key(site, regency)
            if k in first:
                problems.append(src.locate((label,), f"{getattr(site, label)} is already used by {first[k]}"))
            else:
                first[k] = src.path.name
    return problems


def routed_prefixes_disjoint(loaded: list[Loaded]) -> list[Problem]:
    """Prefixes crossing the VPN never overlap, across every site of every regency."""
    problems = []
    spans: list[tuple[int, int, str, Any, tuple]] = []
    for site, src, regency in loaded:
        try:
            plan = plan_of(site, regency)
        except ValueError as err:
            problems.append(src.locate(("slot",), str(err)))
            continue
        # Integer spans (ipaddress objects cost ~50 µs each at this scale); named only for a problem.
        start = int(plan.prefix.network_address)
        spans.append((start, start + (1 << (32 - plan.prefix.prefixlen)) - 1, plan.prefix.prefixlen, src))
        for address in (plan.vpn_address, plan.server_vpn_address):
            spans.append((int(address), int(address), 32, src))
    spans.sort(key=lambda s: (s[0], s[1]))

    def name(span) -> str:
        return f"{ipaddress.IPv4Address(span[0])}/{span[2]}"

    reach_end, reach = -1, None
    for span in spans:
        start, end, _length, src = span
        if start <= reach_end and reach is not None:
            problems.append(src.locate(("slot",), f"routed prefix {name(span)} overlaps {name(reach)} "
                                                  f"of {reach[3].path.name}"))
        if end > reach_end:
            reach_end, reach = end, span
    return problems


def regency_pools_disjoint(regencies: list[tuple[Regency, Any]]) -> list[Problem]:
    """Each regency's routed and VPN pools are its own: two hubs on one tunnel pool share an address
    (pools.vpn[1]) and every route to it, even when their sites' slots happen not to collide."""
    problems = []
    spans = []
    for regency, src in regencies:
        for name in ("routed", "vpn"):
            net = getattr(regency.pools, name)
            spans.append((int(net.network_address), int(net.broadcast_address), net, name, regency, src))
    spans.sort(key=lambda s: (s[0], s[1]))
    reach = None
    for span in spans:
        start, _end, net, name, regency, src = span
        if reach is not None and start <= reach[1] and reach[4] is not regency:
            problems.append(src.problem(("pools", name), f"{name} pool {net} overlaps the {reach[3]} pool "
                                                         f"{reach[2]} of {reach[5].path.parent.name}/regency.yaml"))
        if reach is None or span[1] > reach[1]:
            reach = span
    return problems


def addresses_in_their_subnets(loaded: list[Loaded]) -> list[Problem]:
    """Static addresses sit inside their segment, are not its gateway and stay out of DHCP pools."""
    problems = []
    for site, src, regency in loaded:
        try:
            plan = plan_of(site, regency)
        except ValueError:
            continue  # reported by routed_prefixes_disjoint
        used: dict[ipaddress.IPv4Address, str] = {}

        def place(address, segment: str, field: tuple) -> None:
            if address is None:
                return
            seg = plan.segments[segment]
            if address not in seg.network:
                problems.append(src.locate(field, f"{address} is outside the {segment} subnet {seg.network}"))
            elif address in (seg.network.network_address, seg.network.broadcast_address):
                problems.append(src.locate(field, f"{address} is the network or broadcast address of {seg.network}"))
            elif address == seg.gateway:
                problems.append(src.locate(field, f"{address} is the {segment} gateway"))
            elif seg.in_dhcp_pool(address):
                problems.append(src.locate(field, f"{address} is inside the {segment} DHCP pool "
                                                  f"{seg.dhcp[0]}–{seg.dhcp[1]}"))
            elif address in used:
                problems.append(src.locate(field, f"{address} is already used by {used[address]}"))
            used[address] = yamlfile_dotted(field)

        place(site.server.address, "office", ("server", "address"))
        if site.devices.router.management_address not in (None, plan.segments["management"].gateway):
            place(site.devices.router.management_address, "management", ("devices", "router", "management_address"))
        for i, sw in enumerate(site.devices.switches):
            place(sw.management_address, "management", ("devices", "switches", i, "management_address"))
        for i, ap in enumerate(site.devices.access_points):
            place(ap.management_address, "management", ("devices", "access_points", i, "management_address"))
    return problems


def yamlfile_dotted(field: tuple) -> str:
    from desa.yamlfile import dotted
    return dotted(field)


def wireguard_keys_unique(loaded: list[Loaded]) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for regency in {id(r): r for _, _, r in loaded}.values():
        seen.setdefault(regency.hub.public_key, f"hub {regency.hub.name}")
    for site, src, _ in loaded:
        for field in ("public_key", "server_public_key"):
            key = getattr(site.vpn, field)
            if key in seen:
                problems.append(src.locate(("vpn", field), f"WireGuard key already used by {seen[key]}"))
            else:
                seen[key] = f"{src.path.name} vpn.{field}"
    return problems


def router_identities_unique(loaded: list[Loaded]) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for site, src, _ in loaded:
        identity = site.devices.router.identity or f"{site.slug}-gw"
        if identity in seen:
            problems.append(src.locate(("devices", "router", "identity"), f"{identity} is already used by {seen[identity]}"))
        seen[identity] = src.path.name
    return problems


def no_plain_secrets(loaded: list[Loaded]) -> list[Problem]:
    """Secret-looking keys anywhere (also in free-form places) must hold `secret:` references."""
    problems = []

    def walk(node: Any, field: tuple, src) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if SECRET_KEY_RE.search(str(k)) and not (isinstance(v, str) and v.startswith("secret:")) \
                        and v is not None and not isinstance(v, (dict, list)):
                    problems.append(src.locate((*field, k), "plain-text secret: use a reference 'secret:NAME'"))
                walk(v, (*field, k), src)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*field, i), src)

    for _site, src, _ in loaded:
        walk(src.data, (), src)
    return problems


RULES: tuple[Callable[[list[Loaded]], list[Problem]], ...] = (
    kode_matches_names,
    unique_identities,
    routed_prefixes_disjoint,
    addresses_in_their_subnets,
    wireguard_keys_unique,
    router_identities_unique,
    no_plain_secrets,
)


_plans: dict[int, Any] | None = None  # id(site) → its address plan, while check() runs


def plan_of(site: Site, regency: Regency):
    """The site's address plan, computed once per check() (several rules and the loader need it)."""
    if _plans is None:
        return address_plan(site, regency)
    plan = _plans.get(id(site))
    if plan is None:
        plan = _plans[id(site)] = address_plan(site, regency)
    return plan


def check(loaded: Iterable[Loaded], plans: dict[int, Any] | None = None) -> list[Problem]:
    """Every rule over the loaded sites; `plans` (id(site) → AddressPlan) is filled for the caller."""
    global _plans
    loaded = list(loaded)
    problems: list[Problem] = []
    _plans = {} if plans is None else plans
    try:
        for rule in RULES:
            problems.extend(rule(loaded))
    finally:
        _plans = None
    return problems


def by_regency(loaded: list[Loaded]) -> dict[str, list[Loaded]]:
    groups: dict[str, list[Loaded]] = defaultdict(list)
    for item in loaded:
        groups[item[2].slug].append(item)
    return groups
