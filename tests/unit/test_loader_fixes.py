"""Bugs found in the loader, each with the broken inventory that showed it, and the fast YAML path
(libyaml) held to ruamel.yaml's YAML 1.2 reading of every value."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from desa import yamlfile
from desa.yamlfile import _FastLoader

from .conftest import Inv, find

OPERATOR = 'operator:\n  name: Ahmad Fauzi\n  role: Kaur Perencanaan (operator Desa Digital)\n  phone: "+62 812 0000 001"\n'


def test_missing_field_no_default_supplies_is_blamed_on_the_site(inv: Inv):
    # It was reported at regency.yaml `defaults.operator (inherited by …)`: the regency has no such default.
    inv.replace("lambangsari", OPERATOR, "")
    problems = inv.problems()
    find(problems, inv.path("lambangsari"), 1, "operator", "required field is missing")
    assert not [p for p in problems if p.file == inv.path("regency")], problems


def test_wrong_default_still_blamed_on_the_regency(inv: Inv):
    line = inv.replace("regency", "bandwidth: {down_mbps: 50, up_mbps: 20}", "bandwidth: {down_mbps: 0, up_mbps: 20}")
    find(inv.problems(), inv.path("regency"), line, "defaults.uplink.bandwidth.down_mbps",
         "(inherited by lambangsari.yaml)")


@pytest.mark.parametrize("value", ["12345678", "1.5e3"])
def test_numeric_plain_secret_is_not_echoed(inv: Inv, value: str):
    # It was echoed: "Input should be a valid string: YAML read a number (12345678); put the value in quotes".
    line = inv.replace("sumberjaya", "private_key: secret:sites/sumberjaya/wireguard", f"private_key: {value}")
    problems = inv.problems()
    find(problems, inv.path("sumberjaya"), line, "vpn.private_key", "plain-text secret")
    assert all(value not in str(p) and str(float(value)) not in str(p) for p in problems), problems


def test_numeric_plain_router_password_in_regency_defaults_not_echoed(inv: Inv):
    line = inv.replace("regency", "password: secret:routers/admin", "password: 20220817")
    problems = inv.problems()
    find(problems, inv.path("regency"), line, "defaults.devices.router.password", "plain-text secret")
    assert all("20220817" not in str(p) for p in problems)


def test_number_in_a_plain_field_still_asks_for_quotes(inv: Inv):
    line = inv.replace("sumberjaya", "name: Sumberjaya", "name: 7.10")
    find(inv.problems(), inv.path("sumberjaya"), line, "name", "YAML read a number (7.1); put the value in quotes")


# --- the fast path reads what ruamel.yaml reads ------------------------------------------------------

_ruamel = YAML(typ="safe", pure=True)
_ruamel.allow_duplicate_keys = False

SCALARS = ["0", "010", "0o17", "0x1F", "0b101", "1_000", "-1", "+5", "1.5", ".5", "1.", "1e3", "1.5e-3",
           ".inf", "-.Inf", ".nan", "true", "True", "tRue", "yes", "on", "off", "y", "n", "null", "~", "",
           "2001-12-14", "2001-1-4 1:02:03", "1:20", "08", "32.16", "10.216.0.0/16", "7.16", "0777", "e3"]


def _read(loader, text):
    try:
        return "ok", loader(text)
    except Exception:  # noqa: BLE001 - either refuses: what matters is that both do
        return "error", None


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("scalar", SCALARS)
def test_fast_path_resolves_scalars_like_ruamel(scalar: str):
    fast = _read(lambda t: yaml.load(t, Loader=_FastLoader), f"a: {scalar}\n")  # noqa: S506
    slow = _read(_ruamel.load, f"a: {scalar}\n")
    assert fast[0] == slow[0] and (fast[1] is None or _same(fast[1]["a"], slow[1]["a"])), (fast, slow)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="0123456789abefnotxyTNY.+-_:~ eE", max_size=12))
def test_fast_path_resolves_any_plain_scalar_like_ruamel(scalar: str):
    text = f"a: {scalar}\n"
    slow = _read(_ruamel.load, text)
    fast = _read(lambda t: yaml.load(t, Loader=_FastLoader), text)  # noqa: S506
    if slow[0] == "ok" and fast[0] == "ok":
        assert _same(fast[1]["a"], slow[1]["a"]), (scalar, fast, slow)


def test_fast_path_refuses_duplicate_keys_but_merges(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(yamlfile.YamlSyntaxError) as info:
        yamlfile.load(p)
    assert info.value.problem.line == 3 and "duplicate key" in info.value.problem.message
    p.write_text("base: &b {x: 1, y: 2}\nsite: {<<: *b, y: 3}\n")
    assert yamlfile.load(p) == {"base": {"x": 1, "y": 2}, "site": {"x": 1, "y": 3}}


# --- regency pools are disjoint across regencies --------------------------------------------------

def _karawang_in_slot_9(inv: Inv, routed: str, vpn: str):
    from .test_rules import _second_regency

    _second_regency(inv, routed=routed, vpn=vpn)
    site = inv.root / "karawang" / "sites" / "ciptasari.yaml"
    site.write_text(site.read_text().replace("slot: 1", "slot: 9"))  # no tunnel address collides with Bekasi's
    return inv.root / "karawang" / "regency.yaml"


def test_two_regencies_on_one_vpn_pool(inv: Inv):
    # It loaded: both hubs were 10.215.0.1 because no site's slot happened to collide.
    path = _karawang_in_slot_9(inv, routed="10.217.0.0/16", vpn="10.215.0.0/20")
    find(inv.problems(), path, 9, "pools.vpn", "overlaps the vpn pool 10.215.0.0/20 of bekasi/regency.yaml")


def test_vpn_pool_inside_another_regencys_routed_pool(inv: Inv):
    path = _karawang_in_slot_9(inv, routed="10.217.0.0/16", vpn="10.216.128.0/20")
    find(inv.problems(), path, 9, "pools.vpn", "overlaps the routed pool 10.216.0.0/16 of bekasi/regency.yaml")


def test_disjoint_regency_pools_load(inv: Inv):
    _karawang_in_slot_9(inv, routed="10.217.0.0/16", vpn="10.214.0.0/20")
    assert str(inv.load().site("ciptasari").hub.vpn_address) == "10.214.0.1"


# --- default sections validated once per regency ----------------------------------------------------

def test_sites_share_the_regency_default_sections_they_do_not_override(inv: Inv):
    inv.append("karangmukti", "network:\n  vlans:\n    cctv: {id: 31}\n")
    sites = inv.load().sites
    la, su, km = (sites[s].site for s in ("lambangsari", "sumberjaya", "karangmukti"))
    assert la.network is su.network  # the same frozen model, validated once
    assert km.network is not la.network and km.network.vlans["cctv"].id == 31
    assert km.network.vlans["office"].id == la.network.vlans["office"].id == 10  # the override merged
    assert su.uplink.kind == "lte" and la.uplink.kind == "fibre"  # sumberjaya overrides its uplink


# --- lax values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("port, text", [(0, "greater than or equal to 1"), (65536, "less than or equal to 65535")])
def test_firewall_port_out_of_range(inv: Inv, port: int, text: str):
    # `ports: [0]` and `[70000]` were accepted: no TCP port has those numbers.
    line = inv.append("karangmukti", f"network:\n  allow:\n    - {{src: office, dst: internet, ports: [443, {port}]}}\n")
    find(inv.problems(), inv.path("karangmukti"), line + 2, "network.allow[0].ports[1]", text)


def test_unknown_mapping_key_is_named_without_pydantic_markers(inv: Inv):
    # It was reported as field `network.vlans.wifi.[key]`.
    line = inv.append("karangmukti", "network:\n  vlans:\n    wifi: {id: 40}\n")
    find(inv.problems(), inv.path("karangmukti"), line + 2, "network.vlans.wifi", "'wifi' is not an allowed key here")
