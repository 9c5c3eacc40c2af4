"""Checks of roles/hardening.py: sshd keys only with modern algorithms, fail2ban, sysctls, no stray listeners.

Run by `desa check SITE` (fixtures `intent`, `server`, `in_lab` from checks/conftest.py).
"""

from __future__ import annotations

import ipaddress
import sys

import pytest

from desa.inventory import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from roles import hardening  # noqa: E402

WEAK_CIPHERS = ("cbc", "3des", "arcfour", "rc4")
WEAK_MACS = ("hmac-sha1", "hmac-md5", "umac-64", "-96")
WEAK_KEX = ("diffie-hellman-group1-", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1")


def _fix(intent) -> str:
    return f"run `desa deploy {intent.slug} --only server`"


def _in_container(server) -> bool:
    return server.run("systemd-detect-virt --container 2>/dev/null || true").stdout.strip() not in ("", "none")


@pytest.fixture(scope="module")
def sshd(server) -> dict[str, str]:
    with server.sudo():
        out = server.check_output("sshd -T -C user=nobody,host=localhost,addr=127.0.0.1")
    conf: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        conf.setdefault(key.lower(), value.strip())
    return conf


def test_sshd_keys_only_no_root(sshd, intent):
    assert sshd.get("permitrootlogin") == "no", f"sshd lets root log in → {_fix(intent)}"
    assert sshd.get("passwordauthentication") == "no", f"sshd accepts passwords → {_fix(intent)}"
    assert sshd.get("kbdinteractiveauthentication") == "no", f"sshd accepts keyboard-interactive → {_fix(intent)}"
    assert sshd.get("pubkeyauthentication") == "yes", f"sshd refuses keys → {_fix(intent)}"
    assert sshd.get("port") == str(intent.server.ssh_port), (
        f"sshd listens on port {sshd.get('port')}, not {intent.server.ssh_port} → {_fix(intent)}")


def test_sshd_refuses_a_password_login_for_real(server, intent):
    """A password attempt against the running sshd (not only its configuration) is refused."""
    cmd = (f"timeout 20 ssh -p {intent.server.ssh_port} -o BatchMode=yes -o StrictHostKeyChecking=no "
           "-o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password,keyboard-interactive "
           "-o PubkeyAuthentication=no root@127.0.0.1 true")
    result = server.run(cmd + '; echo "exit=$?"')  # ssh's own 255 would read as a lost connection
    assert result.stdout.strip().endswith("exit=255") and "Permission denied (publickey)" in result.stderr, (
        f"sshd offers something else than keys ({result.stderr.strip()[-120:]}) → {_fix(intent)}")


def test_sshd_modern_algorithms_curve25519_first(sshd, intent):
    kex = sshd.get("kexalgorithms", "").split(",")
    assert kex and kex[0].startswith("curve25519"), f"sshd's first key exchange is {kex[0]}, not curve25519 → {_fix(intent)}"
    assert not [k for k in kex if k.startswith(WEAK_KEX)], f"sshd allows a weak key exchange → {_fix(intent)}"
    ciphers = sshd.get("ciphers", "").split(",")
    assert not [c for c in ciphers if any(w in c for w in WEAK_CIPHERS)], f"sshd allows a weak cipher → {_fix(intent)}"
    macs = sshd.get("macs", "").split(",")
    assert not [m for m in macs if any(w in m for w in WEAK_MACS)], f"sshd allows a weak MAC → {_fix(intent)}"


def test_fail2ban_guards_sshd(server, intent):
    assert server.service("fail2ban").is_running, f"fail2ban is not running → {_fix(intent)}"
    assert server.service("fail2ban").is_enabled, f"fail2ban is not enabled at boot → {_fix(intent)}"
    with server.sudo():
        status = server.run("fail2ban-client status sshd")
    assert status.rc == 0 and "Currently banned" in status.stdout, (
        f"fail2ban has no sshd jail ({status.stderr.strip()[-100:]}) → {_fix(intent)}")


def test_network_sysctls(server, intent):
    for key, want in hardening.NET_SYSCTL.items():
        have = server.run(f"cat /proc/sys/{key.replace('.', '/')}").stdout.strip()
        assert have == str(want), f"{key} is {have}, not {want} → {_fix(intent)}"


def test_kernel_sysctls(server, intent):
    if _in_container(server):
        pytest.skip("not verifiable in a container: kernel sysctls (the host kernel's; they are written to "
                    "/etc/sysctl.d/91-desa-kernel.conf)")
    for key, want in hardening.KERNEL_SYSCTL.items():
        have = server.run(f"cat /proc/sys/{key.replace('.', '/')}").stdout.strip()
        assert have == str(want), f"{key} is {have}, not {want} → {_fix(intent)}"


def allowed_listeners(intent) -> dict[str, set]:
    """What may listen on a non-loopback address: TCP ports, UDP processes (the tunnel's random port)."""
    tcp = {intent.server.ssh_port, 9100}
    if intent.app is not None:
        tcp |= {80, 443}
    return {"tcp": tcp, "udp_processes": {"wireguard-go"}, "udp_ports": {68}}


def _listeners(server, proto: str) -> list[tuple[str, int, str]]:
    with server.sudo():
        out = server.check_output(f"ss -H -l -n -p -{proto[0]}")
    found = []
    for line in out.splitlines():
        parts = line.split()
        local = parts[3] if proto == "tcp" else parts[3]
        addr, _, port = local.rpartition(":")
        process = ""
        if 'users:(("' in line:
            process = line.split('users:(("', 1)[1].split('"', 1)[0]
        found.append((addr.strip("[]").split("%")[0], int(port), process))
    return found


def _loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def test_no_stray_services_listening(server, intent):
    allowed = allowed_listeners(intent)
    stray = []
    for addr, port, process in _listeners(server, "tcp"):
        if not _loopback(addr) and port not in allowed["tcp"]:
            stray.append(f"tcp {addr}:{port} ({process})")
    for addr, port, process in _listeners(server, "udp"):
        if _loopback(addr) or port in allowed["udp_ports"] or process in allowed["udp_processes"]:
            continue
        stray.append(f"udp {addr}:{port} ({process})")
    assert not stray, (f"unexpected listeners {', '.join(stray)} → stop and disable what opened them, or add "
                       "them to the server roles")
