"""Defaults flow regency → site, the address plan is deterministic, sites are found by slug or kode."""

from __future__ import annotations

import random

import pytest

from desa.errors import UsageError
from desa.intent import address_plan

from .conftest import Inv, find


# --- defaults ------------------------------------------------------------------------------------

def test_site_inherits_regency_defaults(inv: Inv):
    site = inv.load().site("lambangsari").site  # lambangsari.yaml has no uplink or network
    assert (site.uplink.kind, site.uplink.bandwidth.down_mbps, site.uplink.bandwidth.up_mbps) == ("fibre", 50, 20)
    assert {n: v.id for n, v in site.network.vlans.items()} == {"office": 10, "hotspot": 20, "cctv": 30,
                                                                "management": 99}
    assert [p.name for p in site.network.hotspot.profiles] == ["warga", "bumdes-voucher"]
    assert site.devices.router.password == "secret:routers/admin"


def test_site_override_wins(inv: Inv):
    sumberjaya = inv.load().site("sumberjaya")  # overrides the uplink
    assert (sumberjaya.uplink.kind, sumberjaya.uplink.bandwidth.down_mbps, sumberjaya.uplink.latency_ms) == \
        ("lte", 20, 60)


def test_mappings_merge_key_by_key(inv: Inv):
    inv.append("lambangsari", "uplink:\n  bandwidth: {down_mbps: 10}\nnetwork:\n  vlans:\n    cctv: {id: 31}\n")
    site = inv.load().site("lambangsari").site
    assert (site.uplink.kind, site.uplink.bandwidth.down_mbps, site.uplink.bandwidth.up_mbps) == ("fibre", 10, 20)
    assert {n: v.id for n, v in site.network.vlans.items()} == {"office": 10, "hotspot": 20, "cctv": 31,
                                                                "management": 99}
    assert site.network.vlans["management"].dhcp is False  # the default's other keys stay


def test_lists_replace_the_default(inv: Inv):
    inv.append("lambangsari", "network:\n  dns_servers: [\"9.9.9.9\"]\n  hotspot:\n    profiles:\n"
                              "      - {name: gratis, rate_down_mbps: 1, rate_up_mbps: 1}\n")
    site = inv.load().site("lambangsari").site
    assert [str(a) for a in site.network.dns_servers] == ["9.9.9.9"]
    assert [p.name for p in site.network.hotspot.profiles] == ["gratis"]
    assert site.network.hotspot.dns_name == "login.wifi.desa"  # sibling default kept


def test_site_may_override_the_router_model(inv: Inv):
    inv.append("karangmukti", "devices:\n  router:\n    model: RB5009\n")
    loaded = inv.load()
    assert loaded.site("karangmukti").router.model == "RB5009"
    assert loaded.site("karangbahagia").router.model == "hAP ax2"


def test_error_in_a_default_points_into_the_regency(inv: Inv):
    line = inv.replace("regency", "cctv: {id: 30}", "cctv: {id: 5000}")
    problems = inv.problems()
    p = find(problems, inv.path("regency"), line, "defaults.network.vlans.cctv.id", "inherited by lambangsari.yaml")
    assert "4094" in p.message
    assert not [p for p in problems if "sites" in str(p.file)], "the sites did not write the bad value"


def test_a_site_override_hides_a_bad_default(inv: Inv):
    inv.replace("regency", "cctv: {id: 30}", "cctv: {id: 5000}")
    for slug in ("lambangsari", "sumberjaya", "karangbahagia", "karangmukti"):
        inv.append(slug, "network:\n  vlans:\n    cctv: {id: 30}\n")
    assert inv.load().site("lambangsari").segment("cctv").vlan_id == 30


def test_error_in_a_site_override_points_into_the_site(inv: Inv):
    line = inv.append("sumberjaya", "network:\n  hotspot:\n    total_share: 2\n") + 2
    find(inv.problems(), inv.path("sumberjaya"), line, "network.hotspot.total_share", "less than or equal to 1")


# --- the address plan ----------------------------------------------------------------------------

def test_lambangsari_plan(inv: Inv):
    s = inv.load().site("lambangsari")
    assert str(s.plan.prefix) == "10.216.1.0/24"
    assert str(s.segment("office").network) == "10.216.1.0/25"
    assert str(s.segment("office").gateway) == "10.216.1.1"
    assert [str(a) for a in s.segment("office").dhcp] == ["10.216.1.64", "10.216.1.126"]
    assert str(s.segment("management").network) == "10.216.1.128/27"
    assert s.segment("management").dhcp is None
    assert str(s.segment("cctv").network) == "10.216.1.160/27"
    assert (str(s.segment("hotspot").network), s.segment("hotspot").routed) == ("172.20.0.0/22", False)
    assert (str(s.router.address), str(s.server.address)) == ("10.216.1.129", "10.216.1.10")
    assert (str(s.plan.vpn_address), str(s.plan.server_vpn_address), str(s.plan.hub_vpn_address)) == \
        ("10.215.0.4", "10.215.0.5", "10.215.0.1")
    assert s.segment("office").interface == "vlan10-office"
    assert s.server.hostname == "srv-lambangsari" and s.router.identity == "lambangsari-gw"


def test_every_pilot_follows_its_slot(inv: Inv):
    for s in inv.load().sites.values():
        n = s.site.slot
        assert str(s.plan.prefix) == f"10.216.{n}.0/24"
        assert str(s.plan.vpn_address) == f"10.215.0.{2 * n + 2}"
        assert str(s.plan.server_vpn_address) == f"10.215.0.{2 * n + 3}"


def test_plan_is_deterministic_and_independent_of_other_sites(inv: Inv):
    before = inv.load().site("karangmukti").as_dict["plan"]
    for slug in ("lambangsari", "sumberjaya", "karangbahagia"):
        inv.path(slug).unlink()
    after = inv.load().site("karangmukti").as_dict["plan"]
    assert before == after


def test_routed_segments_never_overlap_within_a_site(inv: Inv):
    rng = random.Random(7)
    loaded = inv.load()
    regency = loaded.regencies["bekasi"]
    site = loaded.site("lambangsari").site
    for slot in rng.sample(range(regency.pools.capacity), 40):
        plan = address_plan(site.model_copy(update={"slot": slot}), regency)
        routed = [seg.network for seg in plan.segments.values() if seg.routed]
        assert all(net.subnet_of(plan.prefix) for net in routed)
        for i, a in enumerate(routed):
            assert all(not a.overlaps(b) for b in routed[i + 1:])
        assert plan.vpn_address in regency.pools.vpn and plan.vpn_address != plan.hub_vpn_address
        # Same input, same plan.
        assert plan == address_plan(site.model_copy(update={"slot": slot}), regency)


def test_plan_with_smaller_site_prefix(inv: Inv):
    inv.replace("regency", "site_prefix: 24", "site_prefix: 26")
    s = inv.load().site("lambangsari")
    assert str(s.plan.prefix) == "10.216.0.64/26"
    assert str(s.segment("office").network) == "10.216.0.64/27"
    assert s.server.address in s.segment("office").network
    assert s.segment("office").gateway != s.server.address
    assert not s.segment("office").in_dhcp_pool(s.server.address)
    assert str(s.segment("management").network) == "10.216.0.96/29" and str(s.router.address) == "10.216.0.97"


# --- slug or kode ---------------------------------------------------------------------------------

def test_site_by_slug_or_kode(inv: Inv):
    loaded = inv.load()
    assert loaded.site("lambangsari") is loaded.site("32.16.06.2002")
    assert [s.slug for s in loaded.select(["32.16.10.2008", "karangmukti", "lambangsari"])] == \
        ["karangmukti", "lambangsari"]
    assert len(loaded.select(all_sites=True)) == 4


@pytest.mark.parametrize("refs, all_sites, text", [
    (["setiadarma"], False, "no site 'setiadarma'"),
    (["32.16.06.2005"], False, "no site '32.16.06.2005'"),
    ([], False, "name at least one site"),
    (["lambangsari"], True, "not both"),
])
def test_bad_site_references_are_usage_errors(inv: Inv, refs, all_sites, text):
    with pytest.raises(UsageError, match=text) as info:
        inv.load().select(refs, all_sites=all_sites)
    assert info.value.exit_code == 2
