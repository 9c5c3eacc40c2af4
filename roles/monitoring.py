"""monitoring: prometheus-node-exporter, reachable only from the hub (the firewall's 9100 rule).

    monitoring.run(intent)

Data (host data overrides these defaults):
    node_exporter_port        9100
    node_exporter_disabled    collectors switched off: ["wifi", "infiniband", "nfs", "nfsd", "zfs", "btrfs"]

Installed without recommends (no smartmontools/collector timers on a small box); restarted only when
/etc/default/prometheus-node-exporter changed.
"""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.operations import apt, files, systemd

from desa.intent import SiteIntent
from roles import TEMPLATES, setting

DEFAULTS = {"node_exporter_port": 9100,
            "node_exporter_disabled": ["wifi", "infiniband", "nfs", "nfsd", "zfs", "btrfs"]}


@deploy("monitoring")
def run(intent: SiteIntent):
    apt.packages(name="prometheus-node-exporter", packages=["prometheus-node-exporter"], no_recommends=True)
    conf = files.template(
        name="node-exporter: listen address and collectors", src=str(TEMPLATES / "server" / "node-exporter.default.j2"),
        dest="/etc/default/prometheus-node-exporter", mode="0644", port=setting(DEFAULTS, "node_exporter_port"),
        disabled=setting(DEFAULTS, "node_exporter_disabled"), hub=str(intent.plan.hub_vpn_address))
    systemd.service(name="node-exporter running", service="prometheus-node-exporter", running=True, enabled=True)
    systemd.service(name="node-exporter restarted (config changed)", service="prometheus-node-exporter",
                    restarted=True, _if=conf.did_change)
