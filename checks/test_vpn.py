"""Checks of roles/vpn.py and the hub's end (roles/hub.py): the WireGuard tunnel carries traffic both ways.

Run by `desa check SITE` (fixtures `intent`, `server`, `hub`, `in_lab` from checks/conftest.py).
"""

from __future__ import annotations

import sys
import time

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import vpn  # noqa: E402

IFACE = vpn.DEFAULTS["wg_interface"]
HANDSHAKE_MAX_AGE = 180  # WireGuard re-handshakes every 2 minutes while traffic flows


def _fix(intent) -> str:
    return f"run `desa deploy {intent.slug} --only server`"


def test_tunnel_config_is_private(server, intent):
    with server.sudo():
        conf = server.file(f"/etc/wireguard/{IFACE}.conf")
        assert conf.exists, f"/etc/wireguard/{IFACE}.conf is missing → {_fix(intent)}"
        assert conf.user == "root" and conf.mode == 0o600, (
            f"/etc/wireguard/{IFACE}.conf is not root-only (0600) → {_fix(intent)}")


def test_tunnel_up_at_boot(server, intent):
    unit = server.service(f"wg-quick@{IFACE}")
    assert unit.is_enabled, f"wg-quick@{IFACE} does not start at boot → {_fix(intent)}"
    assert unit.is_running, f"wg-quick@{IFACE} is down → systemctl restart wg-quick@{IFACE}, then {_fix(intent)}"
    address = server.run(f"ip -4 -o addr show dev {IFACE}").stdout
    assert f"{intent.plan.server_vpn_address}/" in address, (
        f"{IFACE} lacks the tunnel address {intent.plan.server_vpn_address} → {_fix(intent)}")


def test_server_reaches_the_hub_through_the_tunnel(server, intent):
    hub = str(intent.plan.hub_vpn_address)
    ping = server.run(f"ping -c 3 -i 0.3 -W 3 {hub}")
    assert ping.rc == 0, (f"no answer from the hub's tunnel address {hub} → check UDP {intent.hub.port} to "
                          f"{intent.hub.endpoint} is open on the uplink, then {_fix(intent)}")
    route = server.run(f"ip -4 route get {hub}").stdout
    assert f"dev {IFACE}" in route, f"traffic to {hub} does not go through {IFACE} → {_fix(intent)}"


def test_hub_knows_the_server_and_reaches_it(server, hub, intent):
    address = str(intent.plan.server_vpn_address)
    with hub.sudo():
        peers = hub.run(f"wg show {IFACE} allowed-ips").stdout
    assert f"{address}/32" in peers, (f"the hub has no peer for {address} → `desa deploy {intent.slug} "
                                      "--only server` (it converges the hub too)")
    ping = hub.run(f"ping -c 3 -i 0.3 -W 3 {address}")
    assert ping.rc == 0, f"the hub cannot reach {address} through the tunnel → {_fix(intent)}"
    with hub.sudo():
        latest = hub.run(f"wg show {IFACE} latest-handshakes").stdout
    pub = next((line.split()[0] for line in peers.splitlines() if f"{address}/32" in line), None)
    stamps = {line.split()[0]: int(line.split()[1]) for line in latest.splitlines() if len(line.split()) == 2}
    age = time.time() - stamps.get(pub, 0)
    assert age < HANDSHAKE_MAX_AGE, f"the last handshake with {address} is {age:.0f} s old → {_fix(intent)}"
