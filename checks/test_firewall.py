"""Checks of roles/firewall.py: nftables default-drop input built from the site intent, and proof by probes.

Run by `desa check SITE` (fixtures `intent`, `server`, `hub`, `in_lab` from checks/conftest.py). The probes
come from the hub through the WireGuard tunnel (the one path the design opens towards the server).
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time

import pytest

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import firewall  # noqa: E402

PROBE_PORT = 9911  # nobody's port: the default-drop policy must stop it


def _fix(intent) -> str:
    return f"run `desa deploy {intent.slug} --only server`"


@pytest.fixture(scope="module")
def table(server, intent) -> dict:
    with server.sudo():
        result = server.run("nft -j list table inet desa")
    assert result.rc == 0, f"the nftables table inet desa is not loaded → {_fix(intent)}"
    return json.loads(result.stdout)


def _objects(table: dict, kind: str) -> list[dict]:
    return [item[kind] for item in table.get("nftables", []) if kind in item]


def _set_networks(table: dict, name: str) -> set:
    for s in _objects(table, "set"):
        if s["name"] == name:
            nets = set()
            for e in s.get("elem", []):
                if isinstance(e, str):
                    nets.add(ipaddress.ip_network(e))
                elif "prefix" in e:
                    nets.add(ipaddress.ip_network(f"{e['prefix']['addr']}/{e['prefix']['len']}"))
                elif "range" in e:
                    lo, hi = e["range"]
                    nets.update(ipaddress.summarize_address_range(ipaddress.ip_address(lo), ipaddress.ip_address(hi)))
            return nets
    return set()


def _covered(net, nets: set) -> bool:
    net = ipaddress.ip_network(net, strict=False)
    return any(net.subnet_of(n) for n in nets)


def test_nftables_enabled_at_boot(server, intent):
    assert server.service("nftables").is_enabled, f"nftables does not load at boot → {_fix(intent)}"


def test_input_policy_is_drop(table, intent):
    chains = {c["name"]: c for c in _objects(table, "chain")}
    assert chains.get("input", {}).get("policy") == "drop", f"the input policy is not drop → {_fix(intent)}"
    assert chains.get("forward", {}).get("policy") == "drop", f"the server forwards packets → {_fix(intent)}"


def test_allowed_sources_follow_the_intent(table, intent):
    want = firewall.policy(intent)
    for set_name, key in (("ssh_from", "ssh"), ("web_from", "web"), ("monitoring_from", "monitoring")):
        have = _set_networks(table, set_name)
        missing = [n for n in want[key] if not _covered(n, have)]
        assert not missing, f"{set_name} lacks {', '.join(missing)} → {_fix(intent)}"
    # Nothing broader than the intent (one extra /32 is the lab's deploy controller).
    allowed = {ipaddress.ip_network(n) for n in want["ssh"]}
    extra = [n for n in _set_networks(table, "ssh_from") if not _covered(n, allowed)]
    assert all(n.prefixlen == 32 for n in extra) and len(extra) <= 1, (
        f"SSH is open to {', '.join(map(str, extra))} beyond the intent → {_fix(intent)}")
    hub_only = {ipaddress.ip_network(f"{intent.plan.hub_vpn_address}/32")}
    assert _set_networks(table, "monitoring_from") == hub_only, (
        f"port 9100 is open to more than the hub's VPN address → {_fix(intent)}")


def _reaches(host, address: str, port: int) -> bool:
    out = host.run(f"timeout 4 bash -c '</dev/tcp/{address}/{port}' 2>/dev/null && echo OPEN || echo CLOSED")
    return out.stdout.strip() == "OPEN"


def test_default_drop_for_real(server, hub, intent):
    """From the hub over the tunnel: SSH (VPN network) opens, a listener on another port stays unreachable."""
    tunnel = str(intent.plan.server_vpn_address)
    with server.sudo():
        server.run(f"nohup timeout 30 python3 -m http.server {PROBE_PORT} --bind 0.0.0.0 >/dev/null 2>&1 &")
    try:
        for _ in range(20):
            if _reaches(server, "127.0.0.1", PROBE_PORT):
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"could not start a probe listener on port {PROBE_PORT} → check python3 on the server",
                        pytrace=False)
        assert _reaches(hub, tunnel, intent.server.ssh_port), (
            f"the hub cannot reach SSH at {tunnel} through the tunnel → `desa check {intent.slug}` test_vpn, "
            f"then {_fix(intent)}")
        assert not _reaches(hub, tunnel, PROBE_PORT), (
            f"port {PROBE_PORT} is reachable: the input policy does not drop → {_fix(intent)}")
    finally:
        with server.sudo():
            server.run(f"pkill -f 'http.serve[r] {PROBE_PORT}' || true")  # [r]: not pkill's own shell
