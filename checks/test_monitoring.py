"""Checks of roles/monitoring.py: node-exporter runs and answers the hub (and only the hub) on port 9100.

Run by `desa check SITE` (fixtures `intent`, `server`, `hub` from checks/conftest.py).
"""

from __future__ import annotations

import sys

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import monitoring  # noqa: E402

PORT = monitoring.DEFAULTS["node_exporter_port"]


def _fix(intent) -> str:
    return f"run `desa deploy {intent.slug} --only server`"


def test_node_exporter_running(server, intent):
    unit = server.service("prometheus-node-exporter")
    assert unit.is_enabled, f"prometheus-node-exporter does not start at boot → {_fix(intent)}"
    assert unit.is_running, (f"prometheus-node-exporter is down → systemctl restart prometheus-node-exporter, "
                             f"then {_fix(intent)}")
    assert server.socket(f"tcp://{PORT}").is_listening or server.socket(f"tcp://0.0.0.0:{PORT}").is_listening, (
        f"nothing listens on port {PORT} → {_fix(intent)}")


def test_hub_scrapes_the_server_through_the_tunnel(hub, intent):
    url = f"http://{intent.plan.server_vpn_address}:{PORT}/metrics"
    out = hub.run(f"curl -sS --max-time 10 {url} | grep -c '^node_' || true").stdout.strip()
    assert out.isdigit() and int(out) > 50, (f"the hub gets no node metrics from {url} → check the tunnel "
                                             f"(test_vpn) and the firewall (test_firewall), then {_fix(intent)}")


def test_only_the_hub_may_scrape(server, intent):
    with server.sudo():
        rules = server.run("nft list chain inet desa input").stdout
        monitored = server.run("nft list set inet desa monitoring_from").stdout
    assert f"tcp dport {PORT}" in rules and "@monitoring_from" in rules, (
        f"no firewall rule guards port {PORT} → {_fix(intent)}")
    elements = monitored.split("elements = {", 1)[-1].split("}", 1)[0].replace(",", " ").split()
    assert elements == [str(intent.plan.hub_vpn_address)], (
        f"port {PORT} is open to {', '.join(elements)} (only the hub {intent.plan.hub_vpn_address} may) → {_fix(intent)}")
