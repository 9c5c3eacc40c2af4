"""The lab's pure parts as data: facts in, rules/commands/files out. No root needed."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys

import pytest

from desa.inventory import load
from desa.lab import image, link, net, preflight
from desa.lab.errors import LabError
from desa.lab.linkd import Profile
from desa.lab.ssh import SshTrust
from desa.lab.state import HostRecord, Proc, RouterRecord, State, prefix_for
from desa.lab.testing import private_inventory

SITES = [net.SiteNet("a", "d12345s1", "d12345r1h", "10.220.1.10", "10.220.1.129", 22),
         net.SiteNet("b", "d12345s2", "d12345r2h", "10.220.2.10", "10.220.2.129", 22)]
HUBS = [net.HubNet("d12345hub", "10.98.20.2", 51820)]


def test_ruleset_allows_only_the_designed_paths():
    rules = net.ruleset("d12345", SITES, HUBS, "10.98.20.1")
    lines = [line.strip() for line in rules.splitlines()]
    assert lines[:2] == ["table inet desa_d12345", "delete table inet desa_d12345"]
    # servers → hub: WireGuard and SSH/SFTP only
    assert 'iifname "d12345s*" oifname "d12345hub" ip daddr 10.98.20.2 udp dport 51820 accept' in lines
    assert 'iifname "d12345s*" oifname "d12345hub" ip daddr 10.98.20.2 tcp dport 22 accept' in lines
    # each server → its own router, never the other site's
    assert ('iifname "d12345s1" oifname "d12345r1h" ip saddr 10.220.1.10 ip daddr 10.220.1.129 accept') in lines
    assert not [ln for ln in lines if 'iifname "d12345s1"' in ln and "d12345s2" in ln]
    assert not [ln for ln in lines if 'iifname "d12345s1"' in ln and "d12345r2h" in ln]
    # everything else from or to the lab is dropped, after the accepts
    fwd = lines[lines.index("chain forward {"):lines.index("chain input {")]
    assert fwd[-3:-1] == ['iifname "d12345*" counter drop', 'oifname "d12345*" counter drop']
    # the controller offers the lab only the apt cache (and ping)
    assert 'iifname "d12345*" ip daddr 10.98.20.1 tcp dport 3142 accept' in lines
    assert "chain relay {" not in lines


def test_ruleset_redirects_emulated_sites_to_their_relay():
    rules = net.ruleset("d12345", SITES, HUBS, "10.98.20.1", relays={"10.220.1.0/24": 40001})
    assert ("meta mark != 0x6465 ip daddr 10.220.1.0/24 meta l4proto tcp redirect to :40001"
            in [ln.strip() for ln in rules.splitlines()])
    assert "10.220.2.0/24" not in rules


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root")
def test_ruleset_is_valid_nftables():
    rules = net.ruleset("d12345", SITES, HUBS, "10.98.20.1", relays={"10.220.1.0/24": 40001})
    # `-c`: check only. Drop the leading `delete` (the table does not exist here).
    body = "\n".join(rules.splitlines()[2:])
    proc = subprocess.run(["nft", "-c", "-f", "-"], input=body, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_hub_network_and_controller_address():
    dc, ctl = net.hub_network("10.99.0.2", ["10.99.0.0/24"])
    assert (str(dc), ctl) == ("10.99.0.0/24", "10.99.0.1")
    dc, ctl = net.hub_network("10.98.20.1", [])
    assert (str(dc), ctl) == ("10.98.20.0/24", "10.98.20.2")
    assert net.last_host(ipaddress.IPv4Network("10.216.1.128/27"), {"10.216.1.129"}) == "10.216.1.158"


def test_prefix_is_short_stable_and_per_state_dir(tmp_path):
    a, b = prefix_for(tmp_path / "a"), prefix_for(tmp_path / "b")
    assert a == prefix_for(tmp_path / "a") and a != b
    assert len(a) == 6 and a[0] == "d" and int(a[1:], 16) >= 0
    # the longest name the lab derives still fits Linux's 15 characters
    assert len(f"vb-{a}hub9") <= 15 and len(f"{a}r999h") <= 15


def test_uplink_profiles_from_the_inventory(tmp_path):
    root = private_inventory(tmp_path, sites=["lambangsari", "sumberjaya"],
                             uplinks={"lambangsari": {"kind": "satellite", "latency_ms": 600,
                                                      "bandwidth": {"down_mbps": 10, "up_mbps": 3}}})
    inv = load(root)
    sat = link.profile(inv.site("lambangsari"))
    assert sat == {"profile": {"latency_ms": 600.0, "jitter_ms": 60.0, "drop": 0.02, "stall_every_s": 120.0,
                               "stall_s": 3.0}, "down_mbps": 10, "up_mbps": 3}
    lte = link.profile(inv.site("sumberjaya"))
    assert lte["profile"]["latency_ms"] == inv.site("sumberjaya").uplink.latency_ms
    assert link.tbf("host0", 3) == ["tc", "qdisc", "replace", "dev", "host0", "root", "tbf", "rate", "3000kbit",
                                   "burst", "32768", "latency", "400ms"]


def test_relay_profile_delays_and_stalls():
    import random

    p = Profile(latency_ms=600, jitter_ms=60, drop=0, stall_every_s=120, stall_s=3)
    rng = random.Random(1)
    delays = [p.one_way(rng) for _ in range(200)]
    assert 0.27 <= min(delays) and max(delays) <= 0.33  # half the RTT ± half the jitter
    assert p.stalled_until(100.0, 0.0) == 0.0
    assert p.stalled_until(118.0, 0.0) == 120.0  # inside the last 3 s of each 120 s: wait for its end
    assert Profile(20, 1, 0, 0, 0).stalled_until(118.0, 0.0) == 0.0


def test_private_inventory_moves_every_routed_address(tmp_path):
    main = load()
    root = private_inventory(tmp_path, sites=["karangmukti"], routed="10.223.0.0/16", hub_endpoint="10.98.23.2")
    inv = load(root)
    assert list(inv.sites) == ["karangmukti"]
    site = inv.site("karangmukti")
    pool = ipaddress.IPv4Network("10.223.0.0/16")
    assert site.server.address in pool and site.router.address in pool
    assert str(site.hub.endpoint) == "10.98.23.2" and [str(n) for n in site.hub.networks] == ["10.98.23.0/24"]
    used = {str(s.server.address) for s in main.sites.values()} | {str(s.router.address) for s in main.sites.values()}
    assert str(site.server.address) not in used and str(site.router.address) not in used
    # release archives stay reachable from the copy's project root
    assert (tmp_path / "state" / "app-fixture").is_symlink()
    with pytest.raises(ValueError):
        private_inventory(tmp_path / "x", sites=["atlantis"])


def test_state_round_trip(tmp_path):
    st = State("d12345")
    st.hosts["srv-a"] = HostRecord("srv-a", "server", "a", "bekasi", "10.220.1.10", 25, "10.220.1.1", "d12345s1",
                                   "d12345s1", "desa", supervisor=Proc(123, 456))
    st.routers["a-gw"] = RouterRecord("a-gw", "a", "10.220.1.129", 22, "d12345r1", "d12345r1h",
                                      password_ref="secret:routers/admin")
    st.remember("links", "d12345s1")
    st.remember("links", "d12345s1")
    st.save(tmp_path / "state.json")
    back = State.load(tmp_path / "state.json", "ignored")
    assert back == st and back.links == ["d12345s1"]
    assert "secret:routers/admin" in (tmp_path / "state.json").read_text()  # a reference, never a password


def test_dead_or_recycled_pids_are_not_alive():
    me = Proc.of(os.getpid())
    assert me.alive()
    assert not Proc(os.getpid(), me.start + 1).alive()  # same PID, another process
    assert not Proc(2**22 + 1, 0).alive()


def test_ssh_config_and_known_hosts(tmp_path):
    trust = SshTrust(tmp_path, tmp_path / "cm")
    trust.write([{"name": "srv-a", "address": "10.220.1.10", "port": 22, "user": "desa", "host_key": "ssh-ed25519 AAAA1"},
                 {"name": "hub-x", "address": "10.98.20.2", "port": 2222, "user": "ops", "host_key": "ssh-ed25519 AAAA2"}],
                known_only=[{"name": "a-gw", "address": "10.220.1.129", "port": 22, "host_key": "ssh-ed25519 AAAA3"}])
    known = trust.known_hosts.read_text().splitlines()
    assert known == ["[hub-x]:2222,[10.98.20.2]:2222 ssh-ed25519 AAAA2",
                     "srv-a,10.220.1.10 ssh-ed25519 AAAA1", "a-gw,10.220.1.129 ssh-ed25519 AAAA3"]
    cfg = trust.config.read_text()
    block = cfg[cfg.index("Host srv-a"):]
    for line in ("HostName 10.220.1.10", "User desa", "StrictHostKeyChecking yes", "ControlMaster auto",
                 f"UserKnownHostsFile {trust.known_hosts}", "PasswordAuthentication no"):
        assert f"  {line}\n" in block
    assert "Host a-gw" not in cfg  # routers: known_hosts only (password login, through their connector)
    assert oct(trust.config.stat().st_mode & 0o777) == "0o600"


def test_pyinfra_inventory_is_plain_python(tmp_path, monkeypatch):
    from desa.lab import pyinfra_inventory

    class FakeLab:
        state_dir = tmp_path
        ssh_config = tmp_path / "ssh_config"
        ssh_key = tmp_path / "id"
        known_hosts = tmp_path / "kh"

    st = State("d12345")
    st.hosts["srv-a"] = HostRecord("srv-a", "server", "a", "bekasi", "10.220.1.10", 25, "10.220.1.1", "d12345s1",
                                   "d12345s1", "desa")
    st.hosts["hub-x"] = HostRecord("hub-x", "hub", None, "bekasi", "10.98.20.2", 24, "10.98.20.1", "d12345hub",
                                   "d12345hub", "desa")
    scope: dict = {}
    monkeypatch.delenv("DESA_SECRETS", raising=False)
    exec(pyinfra_inventory.render(FakeLab, st), scope)
    assert os.environ["DESA_SECRETS"] == "lab"
    assert scope["servers"] == [("srv-a", {**scope["_common"], "ssh_hostname": "10.220.1.10", "ssh_port": 22,
                                           "ssh_user": "desa", "desa_site": "a", "desa_regency": "bekasi"})]
    assert scope["_common"]["desa_lab"] is True
    assert scope["_common"]["ssh_known_hosts_file"] == str(tmp_path / "kh")
    assert [n for n, _ in scope["hubs"]] == ["hub-x"]
    assert "routers" not in scope  # none running


def test_image_recipe_hash_follows_the_recipe(monkeypatch):
    # what the roles install is never in the base image: the deploys must install it for real
    for pkg in ("nginx", "mariadb-server", "php8.2-fpm", "wireguard-tools", "restic",
                "prometheus-node-exporter", "fail2ban", "chrony"):
        assert pkg not in image.recipe()["packages"]
    h = image.recipe_hash()
    assert h == image.recipe_hash() and len(h) == 16
    monkeypatch.setattr(image, "PACKAGES", image.PACKAGES + ("nginx",))
    assert image.recipe_hash() != h


def test_not_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        preflight.check()


def test_status_json_of_an_empty_lab(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "desa.cli", "lab", "status", "--json", "--state", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"hosts": {}}
