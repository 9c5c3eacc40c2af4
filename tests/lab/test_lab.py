"""The lab for real: two sites and their hub booted, reached over SSH, isolated, repaired, torn down.

One lab for the whole module (pool 10.220.0.0/16, hub 10.98.20.2: never clashes with the main lab
or the other engineers' labs). The last test takes it down and checks nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desa.inventory import load
from desa.lab import Lab
from desa.lab.testing import private_inventory

pytestmark = pytest.mark.lab

SITES = ["lambangsari", "sumberjaya"]


@pytest.fixture(scope="module")
def secrets():
    """The secrets store in lab mode; until desa.secrets lands, a stand-in with a fixed password."""
    old = os.environ.get("DESA_SECRETS")
    os.environ["DESA_SECRETS"] = "lab"
    try:
        import desa.secrets as real  # noqa: F401
        fake = None
    except ModuleNotFoundError:
        import types

        fake = types.ModuleType("desa.secrets")
        fake.resolve = lambda ref: "lab-router-password-" + ref.rsplit("/", 1)[-1]
        sys.modules["desa.secrets"] = fake
    from desa.secrets import resolve

    yield resolve
    if fake is not None:
        sys.modules.pop("desa.secrets", None)
    if old is None:
        os.environ.pop("DESA_SECRETS", None)
    else:
        os.environ["DESA_SECRETS"] = old


@pytest.fixture(scope="module")
def world(tmp_path_factory, secrets):
    tmp = tmp_path_factory.mktemp("lab")
    root = private_inventory(tmp, sites=SITES, routed="10.220.0.0/16", hub_endpoint="10.98.20.2",
                             uplinks={"lambangsari": {"kind": "satellite", "latency_ms": 600,
                                                      "bandwidth": {"down_mbps": 10, "up_mbps": 3}}})
    intents = load(root).select(all_sites=True)
    lab = Lab(tmp / "lab")
    messages: list[str] = []
    try:
        lab.up(intents, progress=messages.append)
        yield lab, intents, messages, root
    finally:
        lab.destroy()


def ssh(lab: Lab, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(lab.ssh_config), host, command], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def reaches(lab: Lab, src: str, address: str, port: int) -> bool:
    """Does a TCP connection from host `src` to address:port open within 3 s?"""
    proc = ssh(lab, src, f"timeout 3 bash -c '</dev/tcp/{address}/{port}' && echo OPEN || echo CLOSED")
    assert proc.returncode == 0, f"ssh into {src} failed: {proc.stderr}"
    return proc.stdout.strip() == "OPEN"


def test_every_server_boots_systemd_and_takes_the_deploy_key(world):
    lab, intents, _, _ = world
    for intent in intents:
        name = intent.server.hostname
        proc = ssh(lab, name, "hostname; ip -4 -o addr show scope global | awk '{print $4}'; "
                              "timeout 90 systemctl is-system-running --wait; sudo -n id -u")
        assert proc.returncode == 0, f"ssh {name}: {proc.stderr}"
        hostname, address, state, uid = proc.stdout.split()
        assert hostname == name
        assert address == f"{intent.server.address}/{intent.segment('office').network.prefixlen}"
        assert state in ("running", "degraded"), f"{name} is {state}"
        assert uid == "0", "the deploy user must have passwordless sudo"


def test_hub_boots_at_the_endpoint(world):
    lab, intents, _, _ = world
    hub = intents[0].hub
    proc = ssh(lab, hub.name, "hostname; timeout 90 systemctl is-system-running --wait")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == hub.name
    assert proc.stdout.split()[1] in ("running", "degraded")


def test_ssh_is_key_only_with_recorded_host_keys(world):
    lab, intents, _, _ = world
    name = intents[0].server.hostname
    # Without the lab's key (password or keyboard-interactive only) the door stays shut.
    proc = subprocess.run(
        ["ssh", "-F", str(lab.ssh_config), "-o", "IdentityFile=/dev/null", "-o", "ControlMaster=no",
         "-o", "ControlPath=none", "-o", "PreferredAuthentications=password,keyboard-interactive",
         name, "true"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 255
    assert "Permission denied" in proc.stderr
    # The known_hosts holds each host's own key, read from the host itself.
    hostkey = ssh(lab, name, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    known = lab.known_hosts.read_text()
    assert f"{name},{intents[0].server.address} ssh-ed25519 {hostkey}" in known
    hosts = {i.server.hostname for i in intents} | {intents[0].hub.name}
    keys = [line.split()[2] for line in known.splitlines() if line and line.split(",")[0] in hosts]
    assert len(keys) == len(hosts) == len(set(keys)), "every host must have its own host key"


def test_servers_reach_only_what_the_design_allows(world):
    lab, intents, _, _ = world
    a, b = intents
    hub = a.hub
    from desa.lab import aptcache

    apt = aptcache.ADDRESS
    ctl = next(h for h in lab.load_state().hosts.values() if h.kind == "hub").gateway
    # Allowed: the hub (SSH/SFTP for backups; WireGuard is UDP) and the apt cache.
    assert reaches(lab, a.server.hostname, str(hub.endpoint), 22)
    assert reaches(lab, a.server.hostname, apt, 3142)
    # Not allowed: the other site's server, directly (only through the VPN via the hub).
    assert not reaches(lab, a.server.hostname, str(b.server.address), 22)
    assert not reaches(lab, b.server.hostname, str(a.server.address), 22)
    ping = ssh(lab, a.server.hostname, f"ping -c1 -W2 {b.server.address} >/dev/null && echo yes || echo no")
    assert ping.stdout.strip() == "no"
    # Not allowed: the controller's own services (its sshd would be here) and anything off the machine.
    assert not reaches(lab, a.server.hostname, apt, 22)
    assert not reaches(lab, a.server.hostname, ctl, 22)
    assert not reaches(lab, a.server.hostname, "192.0.2.1", 80)
    # The hub does not reach into the sites either, except WireGuard replies.
    assert not reaches(lab, hub.name, str(a.server.address), 22)


def test_servers_reach_each_other_through_a_wireguard_tunnel_via_the_hub(world):
    """The path the design allows: WireGuard (wireguard-go, as the kernel has no module) to the hub."""
    from concurrent.futures import ThreadPoolExecutor

    lab, intents, _, _ = world
    a, b = intents
    hub = a.hub
    hosts = [hub.name, a.server.hostname, b.server.hostname]
    apt = "sudo DEBIAN_FRONTEND=noninteractive timeout 150 apt-get -q -o Acquire::Retries=3"
    install = (f"{{ {apt} update >/dev/null && {apt} install -y --no-install-recommends wireguard-tools "
               f"wireguard-go >/dev/null; }} || {{ echo 'apt failed' >&2; exit 1; }}; umask 077; "
               "wg genkey | sudo tee /etc/wireguard/lab.key | wg pubkey")
    with ThreadPoolExecutor(3) as pool:
        procs = list(pool.map(lambda h: ssh(lab, h, install, timeout=330), hosts))
    for h, p in zip(hosts, procs):
        assert p.returncode == 0 and p.stdout.strip(), f"{h}: exit {p.returncode}: {p.stdout} {p.stderr}"
    pub = {h: p.stdout.strip() for h, p in zip(hosts, procs)}
    net_len = a.plan.vpn_network.prefixlen
    servers = [(a.server.hostname, a.plan.server_vpn_address), (b.server.hostname, b.plan.server_vpn_address)]
    hub_conf = (f"[Interface]\nAddress = {hub.vpn_address}/{net_len}\nListenPort = {hub.port}\n"
                "PostUp = wg set %i private-key /etc/wireguard/lab.key; sysctl -qw net.ipv4.ip_forward=1\n")
    for name, addr in servers:
        hub_conf += f"\n[Peer]\nPublicKey = {pub[name]}\nAllowedIPs = {addr}/32\n"
    confs = {hub.name: hub_conf}
    for name, addr in servers:
        confs[name] = (f"[Interface]\nAddress = {addr}/{net_len}\n"
                       "PostUp = wg set %i private-key /etc/wireguard/lab.key\n"
                       f"\n[Peer]\nPublicKey = {pub[hub.name]}\nEndpoint = {hub.endpoint}:{hub.port}\n"
                       f"AllowedIPs = {a.plan.vpn_network}\nPersistentKeepalive = 5\n")
    for name, conf in confs.items():
        p = ssh(lab, name, f"printf '%s' '{conf}' | sudo tee /etc/wireguard/lab.conf >/dev/null && "
                           "sudo wg-quick up lab >/dev/null 2>&1; sudo wg show lab listen-port", timeout=60)
        assert p.returncode == 0 and p.stdout.strip(), f"{name}: wg-quick up failed: {p.stderr}"
    b_tunnel = str(b.plan.server_vpn_address)
    for name, _ in servers:  # each server's handshake with the hub (the hub learns its endpoint)
        ssh(lab, name, f"ping -c3 -i0.5 -W2 {hub.vpn_address} >/dev/null", timeout=30)
    p = ssh(lab, a.server.hostname, f"for i in 1 2 3 4 5; do ping -c1 -W2 {b_tunnel} >/dev/null && "
                                    "{ echo yes; exit 0; }; done; echo no", timeout=60)
    assert p.stdout.strip() == "yes", "a server must reach the other through the tunnel via the hub"
    assert reaches(lab, a.server.hostname, b_tunnel, 22)
    # ... and still not directly.
    assert not reaches(lab, a.server.hostname, str(b.server.address), 22)
    for name in confs:
        ssh(lab, name, "sudo wg-quick down lab >/dev/null 2>&1")


def test_apt_works_through_the_lab_cache(world):
    lab, intents, _, _ = world
    proc = ssh(lab, intents[0].server.hostname, "sudo apt-get -q update 2>&1 | tail -1; "
               "apt-config dump Acquire::http::Proxy", timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Reading package lists" in proc.stdout
    assert ":3142" in proc.stdout


def test_containers_have_tun_and_nftables(world):
    lab, intents, _, _ = world
    proc = ssh(lab, intents[0].server.hostname,
               "test -c /dev/net/tun && echo tun; sudo nft add table inet desa_probe && "
               "sudo nft delete table inet desa_probe && echo nft; sudo sysctl -qw net.ipv4.ip_forward=1 && echo sysctl")
    assert proc.stdout.split() == ["tun", "nft", "sysctl"], proc.stderr


def test_up_twice_is_a_no_op(world):
    lab, intents, _, _ = world
    before = json.loads((lab.state_dir / "state.json").read_text())
    messages: list[str] = []
    lab.up(intents, progress=messages.append)
    after = json.loads((lab.state_dir / "state.json").read_text())
    assert after["hosts"] == before["hosts"], "a second up must not restart any host"
    assert not [m for m in messages if m.startswith(("booting", "apt-cacher-ng", "building"))], messages


def test_an_inventory_with_other_addresses_is_refused(world, tmp_path):
    from desa.lab import LabError

    lab, intents, _, _ = world
    before = (lab.state_dir / "state.json").read_text()
    moved = private_inventory(tmp_path, sites=SITES, routed="10.229.0.0/16", hub_endpoint="10.98.20.2")
    with pytest.raises(LabError, match="addresses changed"):
        lab.up(load(moved).select(all_sites=True))
    assert (lab.state_dir / "state.json").read_text() == before


def test_cli_up_on_a_running_lab_is_a_no_op(world):
    lab, intents, _, root = world
    before = lab.load_state().hosts
    proc = subprocess.run([sys.executable, "-m", "desa.cli", "lab", "up", "--all", "--inventory", str(root),
                           "--state", str(lab.state_dir)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "booting" not in proc.stderr and "lab up in" in proc.stderr
    assert lab.load_state().hosts == before


def test_status_json(world):
    lab, intents, _, _ = world
    proc = subprocess.run([sys.executable, "-m", "desa.cli", "lab", "status", "--json", "--state", str(lab.state_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"hosts"}
    hosts = doc["hosts"]
    expected = {i.server.hostname: str(i.server.address) for i in intents}
    expected[intents[0].hub.name] = str(intents[0].hub.endpoint)
    expected.update({i.router.identity: str(i.router.address) for i in intents})
    assert {n: h["address"] for n, h in hosts.items()} == expected
    for name, h in hosts.items():
        assert set(h) == {"state", "address"}
        assert h["state"] in ("running", "degraded", "stopped")
    for i in intents:
        assert hosts[i.server.hostname]["state"] in ("running", "degraded")


def test_plain_pyinfra_runs_against_the_lab_inventory(world):
    lab, intents, _, _ = world
    pyinfra = Path(sys.executable).with_name("pyinfra")
    proc = subprocess.run([str(pyinfra), "-y", str(lab.pyinfra_inventory), "--limit", "servers", "--limit", "hubs",
                           "exec", "--", "hostname"],
                          capture_output=True, text=True, timeout=180, cwd=lab.state_dir)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    for name in [i.server.hostname for i in intents] + [intents[0].hub.name]:
        assert f"[{name}] {name}" in " ".join((proc.stdout + proc.stderr).split()), name
    # The inventory file itself: groups and the data deploys key on.
    scope: dict = {}
    exec(compile(lab.pyinfra_inventory.read_text(), str(lab.pyinfra_inventory), "exec"), scope)
    servers = dict(scope["servers"])
    assert set(servers) == {i.server.hostname for i in intents}
    for i in intents:
        data = servers[i.server.hostname]
        assert data["desa_site"] == i.slug and data["desa_lab"] is True
        assert data["ssh_hostname"] == str(i.server.address)
        assert data["ssh_known_hosts_file"] == str(lab.known_hosts)
    assert [n for n, _ in scope["hubs"]] == [intents[0].hub.name]


def test_routers_answer_as_routeros_at_their_management_address(world, secrets):
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException

    lab, intents, _, _ = world
    status = lab.status()["hosts"]
    for i in intents:
        r = i.router
        assert status[r.identity]["state"] == "running"
        password = secrets(r.password)
        conn = ConnectHandler(device_type="mikrotik_routeros", host=str(r.address), port=r.port,
                              username=r.username, password=password, timeout=30)
        try:
            assert conn.send_command("/system identity print").strip() == f"name: {r.identity}"
            conn.send_command('/ip address add address=192.0.2.77/24 interface=ether3 comment="lab test"')
            if i is intents[0]:  # the daemon runs each router's scheduler on its own clock
                conn.send_command('/system scheduler add name=lab-clock interval=1s '
                                  'on-event="/ip firewall address-list add list=lab-clock address=192.0.2.1"')
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and "lab-clock" not in conn.send_command(
                        "/ip firewall address-list print where list=lab-clock"):
                    time.sleep(0.5)
                conn.send_command("/system scheduler remove lab-clock")
                assert "lab-clock" in conn.send_command("/ip firewall address-list print where list=lab-clock")
        finally:
            conn.disconnect()
        with pytest.raises(NetmikoAuthenticationException):
            ConnectHandler(device_type="mikrotik_routeros", host=str(r.address), port=r.port,
                           username=r.username, password=password + "-wrong", timeout=30)
    # The password reached the daemon through a 0600 file, never its command line.
    st = lab.load_state()
    cmdline = Path(f"/proc/{st.procs['routers'].pid}/cmdline").read_bytes().decode()
    assert secrets(intents[0].router.password) not in cmdline
    for f in (lab.state_dir / "routers").rglob("*"):
        if f.is_file() and f.name in ("routerd.json", "config.backup"):
            assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"
    # Router host keys are recorded too.
    assert f"{intents[0].router.identity},{intents[0].router.address} ssh-ed25519" in lab.known_hosts.read_text()


def test_router_state_survives_a_simulator_crash(world, secrets):
    from netmiko import ConnectHandler

    lab, intents, _, _ = world
    r = intents[0].router
    st = lab.load_state()
    time.sleep(1.5)  # the daemon saves each router's configuration every second
    os.kill(st.procs["routers"].pid, signal.SIGKILL)
    assert lab.status()["hosts"][r.identity]["state"] == "stopped"
    lab.up(intents)
    assert lab.status()["hosts"][r.identity]["state"] == "running"
    conn = ConnectHandler(device_type="mikrotik_routeros", host=str(r.address), port=r.port,
                          username=r.username, password=secrets(r.password), timeout=30)
    try:
        out = conn.send_command('/ip address print where comment="lab test"')
    finally:
        conn.disconnect()
    assert "192.0.2.77/24" in out


def test_link_emulation_puts_the_uplink_on_the_management_path(world):
    lab, intents, _, root = world
    site = intents[0]  # a satellite uplink in this inventory (see the fixture)
    assert site.uplink.kind == "satellite"
    now = lab.link([site], on=True)
    cfg = now[site.slug]
    assert cfg["profile"]["latency_ms"] == 600 and cfg["down_mbps"] == 10 and cfg["up_mbps"] == 3
    st = lab.load_state()
    bridge = st.sites[site.slug]["bridge"]
    qdisc = subprocess.run(["tc", "qdisc", "show", "dev", bridge], capture_output=True, text=True).stdout
    assert "tbf" in qdisc and "rate 10Mbit" in qdisc, qdisc
    guest = ssh(lab, site.server.hostname, "/sbin/tc qdisc show dev host0", timeout=60)
    assert "rate 3Mbit" in guest.stdout, guest.stdout + guest.stderr
    # A fresh connection to the site goes through the relay, and still works.
    proc = subprocess.run(["ssh", "-F", str(lab.ssh_config), "-o", "ControlMaster=no", "-o", "ControlPath=none",
                           site.server.hostname, "hostname"], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == site.server.hostname, proc.stderr
    log = (lab.state_dir / "linkd.log").read_text()
    assert f"{site.slug}: relaying to {site.server.address}:22" in log
    # The other site is not emulated: its connections do not pass the relay.
    other = intents[1]
    subprocess.run(["ssh", "-F", str(lab.ssh_config), "-o", "ControlMaster=no", "-o", "ControlPath=none",
                    other.server.hostname, "true"], capture_output=True, timeout=60)
    assert str(other.server.address) not in (lab.state_dir / "linkd.log").read_text()
    # Off again: no relay, no qdisc.
    assert lab.link([site], on=False) == {}
    assert "linkd" not in lab.load_state().procs
    qdisc = subprocess.run(["tc", "qdisc", "show", "dev", bridge], capture_output=True, text=True).stdout
    assert "tbf" not in qdisc


def test_a_rebooting_guest_comes_back(world):
    lab, intents, _, _ = world
    name = intents[1].server.hostname
    sup = lab.load_state().hosts[name].supervisor
    ssh(lab, name, "sudo systemctl reboot")
    subprocess.run(["ssh", "-F", str(lab.ssh_config), "-O", "exit", name], capture_output=True, timeout=10)
    state = ""
    for _ in range(60):
        proc = ssh(lab, name, "timeout 60 systemctl is-system-running --wait", timeout=90)
        if proc.returncode == 0:
            state = proc.stdout.split()[0]
            break
    assert state in ("running", "degraded")
    assert lab.load_state().hosts[name].supervisor == sup, "a guest reboot is handled by its boot loop"
    assert "guest rebooted" in (lab.state_dir / "hosts" / name / "console.log").read_text()


def test_up_repairs_a_crashed_host(world):
    lab, intents, _, _ = world
    name = intents[0].server.hostname
    rec = lab.load_state().hosts[name]
    nspawn = int((lab.state_dir / "hosts" / name / "nspawn.pid").read_text())
    # A crash: the supervisor and nspawn die hard, the guest's systemd is orphaned.
    os.kill(rec.supervisor.pid, signal.SIGKILL)
    try:
        os.kill(nspawn, signal.SIGKILL)
    except ProcessLookupError:
        pass  # nspawn may follow its parent on its own
    status = lab.status()["hosts"][name]
    assert status["state"] == "stopped"
    messages: list[str] = []
    lab.up(intents, progress=messages.append)
    assert any(m.startswith(f"booting {name}") for m in messages)
    proc = ssh(lab, name, "hostname")
    assert proc.stdout.strip() == name
    assert lab.status()["hosts"][name]["state"] in ("running", "degraded")


def test_down_leaves_no_namespace_mount_process_or_link(world):
    lab, intents, _, _ = world
    proc = ssh(lab, intents[0].server.hostname, "echo kept | sudo tee /var/lib/desa-lab-probe >/dev/null")
    assert proc.returncode == 0, proc.stderr
    st = lab.load_state()
    prefix = lab.prefix
    procs = [h.supervisor for h in st.hosts.values()] + list(st.procs.values())
    hosts_dir = lab.state_dir / "hosts"
    lab.down()
    assert not [p for p in procs if p is not None and p.alive()]
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith((prefix, f"vb-{prefix}"))]
    assert not [n for n in st.netns if Path(f"/run/netns/{n}").exists()]
    with open("/proc/mounts") as f:
        assert not [line for line in f if str(lab.state_dir) in line]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"desa_{prefix}" not in tables
    assert not list(Path("/sys/fs/cgroup/unified/desa-lab").glob(f"{prefix}*"))
    leftovers = subprocess.run(["pgrep", "-f", str(hosts_dir)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes still using the lab's hosts: {leftovers}"
    # The shared apt cache goes with the last lab that uses it (another lab may still run here).
    from desa.lab import aptcache

    users = json.loads(Path("/run/desa-lab/aptcache.json").read_text())["users"]
    assert str(lab.state_dir) not in users
    if not users:
        assert not aptcache.answers() and not Path(f"/sys/class/net/{aptcache.LINK}").exists()
    # What the hosts wrote is kept for the next up.
    assert (hosts_dir / intents[0].server.hostname / "upper" / "etc" / "hostname").exists()
    assert lab.status()["hosts"][intents[0].server.hostname]["state"] == "stopped"


def test_up_after_down_brings_back_the_same_hosts(world):
    lab, intents, _, _ = world
    known = lab.known_hosts.read_text()
    lab.up(intents)
    assert lab.known_hosts.read_text() == known, "host keys must survive down/up"
    proc = ssh(lab, intents[0].server.hostname, "cat /var/lib/desa-lab-probe")
    assert proc.stdout.strip() == "kept", "what a host wrote must survive down/up"


def test_destroy_removes_the_hosts_and_the_state(world):
    lab, intents, _, _ = world
    lab.destroy()
    assert not (lab.state_dir / "hosts").exists() and not lab.state_file.exists()
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith(lab.prefix)]
    assert lab.status() == {"hosts": {}}
