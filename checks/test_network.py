"""Device checks of a site's router: identity, VLANs, DHCP, hotspot, WireGuard to the hub, no drift."""

import pytest

from desa.network.deploy import changes_for
from desa.network.export import parse


def _export(router):
    return parse(router.export())


def test_identity(router, intent):
    out = router.send("/system identity print")
    assert intent.router.identity in out, (
        f"router identity is not {intent.router.identity} → run `desa deploy {intent.slug} --only network`")


def test_vlans(router, intent):
    vlans = {i.props.get("name"): i.props.get("vlan-id") for i in _export(router).menu("/interface vlan")}
    for seg in intent.plan.segments.values():
        assert vlans.get(seg.interface) == str(seg.vlan_id), (
            f"VLAN {seg.vlan_id} ({seg.interface}) missing → run `desa deploy {intent.slug} --only network`")


def test_dhcp_serving(router, intent):
    servers = {i.props.get("interface"): i for i in _export(router).menu("/ip dhcp-server")}
    for seg in intent.plan.segments.values():
        if seg.dhcp:
            item = servers.get(seg.interface)
            assert item is not None and item.props.get("disabled", "no") == "no", (
                f"no DHCP server on {seg.interface} → run `desa deploy {intent.slug} --only network`")


def test_hotspot_up(router, intent):
    if not intent.hotspot.enabled:
        pytest.skip("the site has no hotspot")
    hs = [i for i in _export(router).menu("/ip hotspot") if i.props.get("name") == "desa"]
    assert hs and hs[0].props.get("disabled", "no") == "no", (
        f"hotspot on {intent.segment('hotspot').interface} is not running → run `desa deploy {intent.slug} --only network`")


def test_wireguard_peer_to_hub(router, intent):
    peers = _export(router).menu("/interface wireguard peers")
    assert any(p.props.get("endpoint-address") == str(intent.hub.endpoint) for p in peers), (
        f"no WireGuard peer to hub {intent.hub.name} ({intent.hub.endpoint}) → run `desa deploy {intent.slug} --only network`")


def test_no_drift(router, intent):
    changes = changes_for(intent, router)
    assert not changes, (
        f"router drifted from intent ({len(changes)} change(s), first: {changes[0].command}) "
        f"→ review with `desa plan {intent.slug}` then `desa deploy {intent.slug} --only network`")
