"""Village links in the lab: each emulated site's uplink, from the inventory.

Latency (half the RTT each way), jitter, stalls and connection drops on the management path come
from the userspace relay `linkd` (this kernel has no netem); bandwidth from the kernel's `tbf`:
downlink on the site's links (controller → site), uplink on the site's side of them.

Opt-in per site (`desa lab link SITE`, `desa lab link SITE --off`, `desa lab up --link`): deploys
over a satellite RTT are slow on purpose.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import asdict

from desa.intent import SiteIntent
from desa.lab import net
from desa.lab.errors import LabError
from desa.lab.host import init_procs
from desa.lab.linkd import Profile
from desa.lab.sh import run
from desa.lab.state import Proc, State

# Per uplink kind: jitter as a share of the RTT, share of new connections dropped, stalls.
KINDS = {
    "fibre": {"jitter": 0.05, "drop": 0.0, "stall_every_s": 0.0, "stall_s": 0.0},
    "lte": {"jitter": 0.25, "drop": 0.01, "stall_every_s": 300.0, "stall_s": 2.0},
    "satellite": {"jitter": 0.10, "drop": 0.02, "stall_every_s": 120.0, "stall_s": 3.0},
}


def profile(intent: SiteIntent) -> dict:
    """What the lab emulates for a site's uplink (facts in, numbers out)."""
    up = intent.uplink
    kind = KINDS[up.kind]
    return {
        "profile": asdict(Profile(latency_ms=float(up.latency_ms), jitter_ms=up.latency_ms * kind["jitter"],
                                  drop=kind["drop"], stall_every_s=kind["stall_every_s"],
                                  stall_s=kind["stall_s"])),
        "down_mbps": up.bandwidth.down_mbps,
        "up_mbps": up.bandwidth.up_mbps,
    }


def tbf(dev: str, mbps: float) -> list[str]:
    rate_bytes = mbps * 1_000_000 / 8
    burst = max(32 * 1024, int(rate_bytes / 100))
    return ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{int(mbps * 1000)}kbit",
            "burst", str(burst), "latency", "400ms"]


GUEST_HOOK = """#!/bin/bash
# desa lab: the site's uplink rate on the guest's own interface (run again after every guest boot).
for i in $(seq 150); do
  pid=$(head -1 {procs} 2>/dev/null)
  [ -n "$pid" ] && nsenter -t "$pid" -n ip link show host0 >/dev/null 2>&1 && break
  sleep 0.2
done
[ -n "$pid" ] && nsenter -t "$pid" -n {tbf}
"""


def shape(st: State, slug: str, hosts_dir, down_mbps: float, up_mbps: float) -> None:
    """Downlink: tbf where the controller sends into the site (its bridge, the router slot).
    Uplink: tbf where the site sends (the server's host0, the router's side of its veth) — the
    kernel here has neither `police` nor a working ifb redirect for TCP to the controller."""
    s = st.sites[slug]
    router = st.routers[s["router"]]
    for dev in (s["bridge"], router.veth):
        run(tbf(dev, down_mbps))
    run(["ip", "netns", "exec", router.netns, *tbf(router.veth[:-1] + "n", up_mbps)])
    for host in st.hosts.values():
        if host.site == slug and host.kind == "server":
            hook = hosts_dir / host.name / "after-boot"
            procs = init_procs(host.machine)
            hook.write_text(GUEST_HOOK.format(procs=procs, tbf=" ".join(tbf("host0", up_mbps))))
            hook.chmod(0o700)
            run(["bash", str(hook)], check=False, timeout=60)


def unshape(st: State, slug: str, hosts_dir) -> None:
    s = st.sites[slug]
    router = st.routers[s["router"]]
    for dev in (s["bridge"], router.veth):
        if net.link_exists(dev):
            run(["tc", "qdisc", "del", "dev", dev, "root"], check=False)
    if net.netns_exists(router.netns):
        run(["ip", "netns", "exec", router.netns, "tc", "qdisc", "del", "dev", router.veth[:-1] + "n", "root"],
            check=False)
    for host in st.hosts.values():
        if host.site == slug and host.kind == "server":
            (hosts_dir / host.name / "after-boot").unlink(missing_ok=True)
            procs = init_procs(host.machine)
            pids = procs.read_text().split() if procs.exists() else []
            if pids:
                run(["nsenter", "-t", pids[0], "-n", "tc", "qdisc", "del", "dev", "host0", "root"], check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_emulation(lab, st: State, intent: SiteIntent, on: bool) -> None:
    """Turn a site's link emulation on (from its uplink) or off. The caller re-applies the ruleset."""
    if intent.slug not in st.sites:
        raise LabError(f"{intent.slug} is not in the lab → desa lab up {intent.slug}")
    if on:
        cfg = profile(intent)
        cfg["port"] = st.link_emulation.get(intent.slug, {}).get("port") or _free_port()
        cfg["prefix"] = str(intent.plan.prefix)
        st.link_emulation[intent.slug] = cfg
        shape(st, intent.slug, lab.hosts_dir, cfg["down_mbps"], cfg["up_mbps"])
    else:
        st.link_emulation.pop(intent.slug, None)
        unshape(st, intent.slug, lab.hosts_dir)
    restart_relay(lab, st)


def reapply(lab, st: State) -> None:
    """After a machine reboot or a crash: qdiscs and the relay back for every emulated site."""
    for slug, cfg in st.link_emulation.items():
        shape(st, slug, lab.hosts_dir, cfg["down_mbps"], cfg["up_mbps"])
    relay = st.procs.get("linkd")
    if st.link_emulation and (relay is None or not relay.alive()):
        restart_relay(lab, st)


def restart_relay(lab, st: State) -> None:
    relay = st.procs.pop("linkd", None)
    if relay is not None:
        relay.stop(timeout=5)
    if not st.link_emulation:
        return
    path = lab.state_dir / "linkd.json"
    path.write_text(json.dumps({"sites": {slug: {"port": c["port"], "profile": c["profile"]}
                                          for slug, c in st.link_emulation.items()}}, indent=1))
    log = open(lab.state_dir / "linkd.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "desa.lab.linkd", str(path)], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    log.close()
    st.procs["linkd"] = Proc.of(proc.pid)
    for slug, c in st.link_emulation.items():
        if not _wait_listen(c["port"], proc):
            raise LabError(f"the link emulator did not start → see {lab.state_dir / 'linkd.log'}")


def _wait_listen(port: int, proc: subprocess.Popen, timeout: float = 10) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_all(lab, st: State) -> None:
    relay = st.procs.pop("linkd", None)
    if relay is not None:
        relay.stop(timeout=5)
    # The qdiscs go with the links and namespaces `down` deletes; the emulation stays recorded
    # and comes back with the next `up`.
