"""The server roles on real lab hosts (one private lab for the module: its hub and one site's server).

Fresh host → first deploy converges every role → the second deploy changes nothing; a technician's
faults (a killed service, a corrupted managed file, a removed package, a flushed firewall) are repaired
by the next deploy; WireGuard carries traffic between server and hub; the first deploy left a fresh
snapshot; a deleted file comes back from the hub.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from desa import inventory
from desa.runner import round_trips

pytestmark = pytest.mark.lab
SITE = "sumberjaya"
ROUTED, HUB = "10.226.0.0/16", "10.98.26.2"  # this module's own address pools (no clash with other labs)


def ssh(lab, host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(lab.ssh_config), host, command], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from desa.lab import Lab
    from desa.lab.testing import private_inventory
    from desa.server import deploy_servers

    tmp = tmp_path_factory.mktemp("server")
    saved = {k: os.environ.get(k) for k in ("DESA_SECRETS", "DESA_LAB_SECRETS")}
    os.environ["DESA_SECRETS"] = "lab"
    os.environ["DESA_LAB_SECRETS"] = str(tmp / "lab-secrets")
    root = private_inventory(tmp, sites=[SITE], routed=ROUTED, hub_endpoint=HUB)
    intent = inventory.load(root).site(SITE)
    lab = Lab(tmp / "lab")
    try:
        lab.up([intent])
        t = time.monotonic()
        first = deploy_servers([intent], lab=True, lab_state=lab.state_dir)
        first_s = time.monotonic() - t
        t = time.monotonic()
        second = deploy_servers([intent], lab=True, lab_state=lab.state_dir)
        second_s = time.monotonic() - t
        print(f"\nfirst deploy {first_s:.1f} s, unchanged re-run {second_s:.1f} s")
        yield {"lab": lab, "intent": intent, "first": first, "second": second,
               "deploy": lambda: deploy_servers([intent], lab=True, lab_state=lab.state_dir)}
    finally:
        lab.destroy()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _summary(results) -> str:
    lines = []
    for r in results:
        for h in r.hosts.values():
            ops = [o["name"] for o in h.operations if o.get("changed") or o.get("failed")]
            lines.append(f"{r.stage} {h.host}: changed {h.changed} failed {h.failed} {h.error or ''} {ops}")
    return "\n".join(lines)


def test_first_deploy_converges_hub_and_server(world):
    results = world["first"]
    assert [r.stage for r in results] == ["hub", "server"]
    assert not any(r.failed for r in results), _summary(results)
    server = next(r for r in results if r.stage == "server").hosts["srv-sumberjaya"]
    roles = {o["name"].split(" | ")[0] for o in server.operations if o.get("changed")}
    assert {"base", "hardening", "firewall", "vpn", "monitoring", "backup"} <= roles
    notes = [o["name"] for o in server.operations if o.get("skipped")]
    assert any(n.startswith("skipped in container: time sync") for n in notes), notes
    assert any("kernel sysctls" in n for n in notes), notes


def test_second_deploy_changes_nothing_for_any_role(world):
    results = world["second"]
    assert not any(r.failed for r in results), _summary(results)
    assert all(r.changed == 0 for r in results), _summary(results)
    for r in results:
        for h in r.hosts.values():
            assert round_trips(h) > 0


def test_secrets_only_in_0600_files(world):
    lab = world["lab"]
    p = ssh(lab, "srv-sumberjaya", "sudo stat -c '%a %U %n' /etc/wireguard/wg-desa.conf /etc/desa/backup/password "
                                   "/etc/desa/backup/id_ed25519 /etc/desa/backup/env")
    assert p.returncode == 0, p.stderr
    for line in p.stdout.splitlines():
        assert line.startswith("600 root "), line
    from desa import secrets

    password = secrets.resolve("secret:sites/sumberjaya/backup")
    for r in world["first"] + world["second"]:
        assert password not in str(r.as_dict())


def test_wireguard_carries_traffic_between_server_and_hub(world):
    lab, i = world["lab"], world["intent"]
    p = ssh(lab, "srv-sumberjaya", f"for n in 1 2 3 4 5; do ping -c1 -W2 {i.plan.hub_vpn_address} >/dev/null && "
                                   "echo ok && break; sleep 1; done; sudo wg show wg-desa latest-handshakes")
    assert p.stdout.startswith("ok"), f"no ping through the tunnel: {p.stdout} {p.stderr}"
    # the hub reaches the server's node-exporter through the tunnel; the controller (not the hub) cannot
    p = ssh(lab, "hub-bekasi", f"curl -sf -m 10 http://{i.plan.server_vpn_address}:9100/metrics | grep -c ^node_")
    assert p.returncode == 0 and int(p.stdout.strip() or 0) > 10, p.stderr
    p = subprocess.run(["curl", "-s", "-m", "3", f"http://{i.server.address}:9100/metrics"], capture_output=True,
                       timeout=10)
    assert p.returncode != 0, "node-exporter must answer only the hub"


def test_firewall_and_sshd_policy_live(world):
    lab = world["lab"]
    p = ssh(lab, "srv-sumberjaya", "sudo nft list chain inet desa input | grep -c 'policy drop'; "
                                   "sudo sshd -T | grep -E '^(permitrootlogin|passwordauthentication|kexalgorithms) '")
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[0] == "1"
    assert "permitrootlogin no" in out and "passwordauthentication no" in out
    assert any(line.startswith("kexalgorithms curve25519-sha256") for line in out)


def test_first_deploy_left_a_fresh_snapshot(world):
    p = ssh(world["lab"], "srv-sumberjaya", "sudo /usr/local/sbin/desa-backup latest")
    assert p.returncode == 0, p.stderr
    assert time.time() - int(p.stdout.strip()) < 26 * 3600, f"latest snapshot: {p.stdout}"


def test_backup_delete_restore_from_the_hub(world):
    from desa.commands.backup import restore_path, take

    lab, i = world["lab"], world["intent"]
    assert ssh(lab, "srv-sumberjaya", "sudo mkdir -p /srv/desa/desa && echo 'warga 3216062010' | "
                                      "sudo tee /srv/desa/desa/penduduk.txt >/dev/null").returncode == 0
    take(i, lab=True, lab_state=lab.state_dir, timeout=300)
    assert ssh(lab, "srv-sumberjaya", "sudo rm /srv/desa/desa/penduduk.txt").returncode == 0
    restore_path(i, "/srv/desa/desa/penduduk.txt", lab=True, lab_state=lab.state_dir, timeout=300)
    p = ssh(lab, "srv-sumberjaya", "sudo cat /srv/desa/desa/penduduk.txt")
    assert p.stdout.strip() == "warga 3216062010", p.stderr
    # the repository sits on the hub, in the site's chroot, unreadable to other accounts
    p = ssh(lab, "hub-bekasi", "sudo stat -c '%a %U' /srv/backup/bk-sumberjaya /srv/backup/bk-sumberjaya/restic")
    assert p.stdout.split("\n")[:2] == ["755 root", "700 bk-sumberjaya"], p.stdout


def test_technician_faults_are_repaired_by_the_next_deploy(world):
    lab = world["lab"]
    faults = ("sudo systemctl kill prometheus-node-exporter; sudo systemctl stop fail2ban; "
              "echo 'PermitRootLogin yes' | sudo tee /etc/ssh/sshd_config.d/10-desa.conf >/dev/null; "
              "sudo nft delete table inet desa; "
              "sudo DEBIAN_FRONTEND=noninteractive apt-get remove -y -q restic >/dev/null; "
              "sudo chmod 0644 /etc/wireguard/wg-desa.conf")
    p = ssh(lab, "srv-sumberjaya", faults, timeout=180)
    assert p.returncode == 0, p.stderr
    repaired = world["deploy"]()
    assert not any(r.failed for r in repaired), _summary(repaired)
    server = next(r for r in repaired if r.stage == "server").hosts["srv-sumberjaya"]
    changed = {o["name"] for o in server.operations if o.get("changed")}
    for expected in ("monitoring | node-exporter running", "hardening | fail2ban running",
                     "hardening | sshd: keys only, no root, modern algorithms", "hardening | sshd checked and reloaded",
                     "firewall | nftables: checked and applied", "backup | restic",
                     "vpn | wireguard: wg-desa.conf (0600)"):
        assert expected in changed, f"{expected} not repaired: {sorted(changed)}"
    assert not any(o.startswith(("base |", "monitoring | node-exporter restarted")) for o in changed), changed
    p = ssh(lab, "srv-sumberjaya", "systemctl is-active prometheus-node-exporter fail2ban; command -v restic; "
                                   "sudo sshd -T | grep ^permitrootlogin; sudo nft list tables | grep -c 'inet desa'; "
                                   "sudo stat -c %a /etc/wireguard/wg-desa.conf")
    assert p.stdout.split() == ["active", "active", "/usr/bin/restic", "permitrootlogin", "no", "1", "600"], p.stdout


def test_plain_pyinfra_runs_the_same_deploy(world):
    """`pyinfra LAB/inventory.py deploys/server.py` converges to the same state: nothing to change, nobody locked out."""
    from desa.inventory import PROJECT_ROOT

    lab, i = world["lab"], world["intent"]
    env = {**os.environ, "DESA_INVENTORY": str(Path(i.source).parent.parent.parent)}
    p = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "pyinfra"), "-y", str(lab.pyinfra_inventory),
                        "deploys/server.py", "--limit", "servers", "--limit", "hubs"], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    total = [line.split() for line in (p.stdout + p.stderr).splitlines() if "Grand total" in line][-1]
    assert total[3] == "-" and total[4] == "-", f"plain pyinfra changed or failed something: {total}"
    again = world["deploy"]()
    assert all(r.changed == 0 and not r.failed for r in again), _summary(again)
