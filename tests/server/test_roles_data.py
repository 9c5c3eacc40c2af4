"""Server roles as data: site intent in → firewall policy, tunnel, hub peers, backup settings, rendered files,
commands out (pyinfra's FakeState runs the custom operations against given facts)."""

from __future__ import annotations

import ipaddress

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from desa.inventory import PROJECT_ROOT
from roles import backup, firewall, hub, vpn
from roles import Account

TEMPLATES = PROJECT_ROOT / "templates"
ENV = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True)


def _in(addr: str, nets: list[str]) -> bool:
    return any(ipaddress.ip_address(addr) in ipaddress.ip_network(n) for n in nets)


def test_firewall_policy_follows_the_site(bekasi):
    i = bekasi.site("sumberjaya")
    p = firewall.policy(i)
    mgmt, office = i.segment("management"), i.segment("office")
    assert _in(str(mgmt.gateway), p["ssh"]) and _in(str(i.plan.hub_vpn_address), p["ssh"])
    assert _in(str(i.hub.endpoint), p["ssh"]), "the hub's data-centre network reaches SSH"
    assert not _in(str(office.dhcp[0]), p["ssh"]), "office clients must not reach SSH"
    assert _in(str(office.dhcp[0]), p["web"]) and _in(str(i.segment("hotspot").dhcp[0]), p["web"])
    assert not _in(str(i.segment("cctv").gateway), p["web"]), "cameras have no business on the web port"
    assert p["monitoring"] == [str(i.plan.hub_vpn_address)]
    with_ctl = firewall.policy(i, controller="10.221.2.1")
    assert _in("10.221.2.1", with_ctl["ssh"]) and _in("10.221.2.1", with_ctl["web"])
    assert not _in("10.221.2.1", with_ctl["monitoring"])


def test_firewall_ruleset_renders_default_drop(bekasi):
    i = bekasi.site("karangmukti")
    p = firewall.policy(i)
    text = ENV.get_template("nftables/desa.nft.j2").render(
        hostname=i.server.hostname, ssh_port=2222, ssh_from=p["ssh"], web_from=p["web"],
        monitoring_from=p["monitoring"], extra=[])
    assert "policy drop;" in text and "delete table inet desa" in text and "flush ruleset" not in text
    assert "tcp dport 2222 ip saddr @ssh_from accept" in text
    assert "ct state established,related accept" in text.split("tcp dport")[0], "established first: no lockout"


def test_vpn_config_carries_only_the_vpn_network(bekasi, lab_secrets):
    i = bekasi.site("lambangsari")
    c = vpn.config(i)
    assert c["address"] == str(i.plan.server_vpn_address)
    assert c["endpoint"] == f"{i.hub.endpoint}:{i.hub.port}"
    assert c["allowed"] == [str(i.plan.vpn_network)]
    assert not _in(str(i.hub.endpoint), c["allowed"]), "the endpoint routed into its own tunnel would loop"
    from desa import secrets

    assert c["hub_public_key"] == secrets.public_from_private(secrets.resolve(i.hub.private_key))
    text = ENV.get_template("wireguard/server.conf.j2").render(private_key="PRIV", **c)
    assert "PrivateKey = PRIV" in text and f"AllowedIPs = {i.plan.vpn_network}" in text


def test_hub_peers_unique_and_complete(bekasi, lab_secrets):
    sites = list(bekasi.sites.values())
    peers = hub.peers(sites)
    assert len(peers) == 2 * len(sites)
    keys = [p["public_key"] for p in peers]
    assert len(set(keys)) == len(keys), "every server and router has its own key"
    allowed = [ipaddress.ip_network(a) for p in peers for a in p["allowed"]]
    for a in allowed:
        for b in allowed:
            assert a is b or not a.overlaps(b), f"AllowedIPs {a} and {b} overlap: WireGuard would route one away"


def test_backup_settings(bekasi):
    i = bekasi.site("karangbahagia")
    s = backup.settings(i)
    assert s["account"] == "bk-karangbahagia" and s["hub_address"] == str(i.plan.hub_vpn_address)
    assert s["retention_days"] == i.server.backup_retention_days
    assert "/var/backups/desa" in s["paths"] and "/srv/desa" in s["paths"]
    script = ENV.get_template("server/desa-backup.sh.j2").render(**s)
    assert f"--keep-within {i.server.backup_retention_days}d" in script
    assert "/etc/desa/backup.d/*.sh" in script


@pytest.mark.parametrize("output, expected", [
    (["rina:x:1001:1001:Rina:/home/rina:/bin/bash", "@@", "rina desa-people desa-admin", "@@",
      "ssh-ed25519 AAAA rina", "@@", "P", " never"],
     {"groups": ["desa-admin", "desa-people"], "keys": ["ssh-ed25519 AAAA rina"], "expires": "never",
      "shell": "/bin/bash", "home": "/home/rina"}),
    ([], None),
])
def test_account_fact(output, expected):
    got = Account().process(output)
    if expected is None:
        assert got is None
    else:
        assert {k: got[k] for k in expected} == expected


def _run_op(op, fact_values: list, **kwargs) -> list[str]:
    from unittest.mock import patch

    from pyinfra.api import FileUploadCommand

    values = iter(fact_values)
    with patch("roles.host") as h:
        h.get_fact.side_effect = lambda *a, **k: next(values)
        out = []
        for c in op._inner(**kwargs):
            out.append(f"upload {c.dest}" if isinstance(c, FileUploadCommand) else str(c))
    return out


def test_account_created_then_only_differences():
    keys = ["ssh-ed25519 AAAA budi"]
    cmds = _run_op(__import__("roles").account, [None], user="budi", groups=["desa-people", "adm"], keys=keys,
                   comment="Budi S")
    assert cmds[0].startswith("useradd -s /bin/bash -c 'Budi S' -m -U -G adm,desa-people budi")
    assert "upload /home/budi/.ssh/authorized_keys" in cmds
    same = {"comment": "Budi S", "home": "/home/budi", "shell": "/bin/bash", "groups": ["adm", "budi", "desa-people"],
            "primary": "budi", "keys": keys, "locked": True, "expires": "never"}
    assert _run_op(__import__("roles").account, [same], user="budi", groups=["desa-people", "adm"], keys=keys,
                   comment="Budi S") == []
    sudo_lost = dict(same, groups=["budi", "desa-people", "desa-admin"], expires="Jan 02, 1970")
    cmds = _run_op(__import__("roles").account, [sudo_lost], user="budi", groups=["desa-people", "adm"], keys=keys,
                   comment="Budi S")
    assert cmds == ["usermod -G 'adm,desa-people' budi", "usermod --expiredate '' budi"]


def test_initial_snapshot_only_when_repository_empty():
    from unittest.mock import patch

    for count, expected in ((-1, ["/usr/local/sbin/desa-backup initial"]), (0, ["/usr/local/sbin/desa-backup initial"]),
                            (3, [])):
        with patch("roles.backup.host") as h:
            h.get_fact.return_value = count
            assert [str(c) for c in backup.initial_snapshot._inner()] == expected


def test_file_states_fact_parses_present_and_missing():
    from roles import FileStates

    got = FileStates().process(["/etc/a|600|root|root|abc123", "/etc/b|-"])
    assert got == {"/etc/a": ("0600", "root", "root", "abc123"), "/etc/b": None}


def test_file_text_uploads_only_what_differs():
    import hashlib
    from unittest.mock import patch

    import roles

    content = "LANG=en_US.UTF-8\n"
    sha = hashlib.sha256(content.encode()).hexdigest()
    cases = [(None, ["upload", "chown root:root /etc/default/locale && chmod 0644 /etc/default/locale"]),
             (("0644", "root", "root", "other"), ["upload", "chown root:root /etc/default/locale && chmod 0644 /etc/default/locale"]),
             (("0600", "root", "root", sha), ["chown root:root /etc/default/locale && chmod 0644 /etc/default/locale"]),
             (("0644", "root", "root", sha), [])]
    from pyinfra.api import FileUploadCommand

    for have, expected in cases:
        with patch("roles.host") as h:
            h.get_fact.return_value = {"/etc/default/locale": have}
            cmds = ["upload" if isinstance(c, FileUploadCommand) else str(c)
                    for c in roles.file_text._inner(dest="/etc/default/locale", content=content)]
        assert cmds == expected, have


def test_private_file_created_with_its_mode_before_the_content():
    from unittest.mock import patch

    from pyinfra.api import FileUploadCommand

    import roles

    with patch("roles.host") as h:
        h.get_fact.return_value = {}
        cmds = ["upload" if isinstance(c, FileUploadCommand) else str(c)
                for c in roles.file_text._inner(dest="/etc/desa/backup/password", content="s3cret", mode="0600")]
    assert cmds[0] == "install -m 0600 -o root -g root /dev/null /etc/desa/backup/password"
    assert cmds[1] == "upload"
    assert all("s3cret" not in c for c in cmds), "a secret never goes on a command line"


def _apt_lists(facts: list, data: dict | None = None, **kwargs) -> list[str]:
    from unittest.mock import patch

    import roles

    values = iter(facts)
    with patch("roles.host") as h, patch("pyinfra.operations.apt.host", h):  # pyinfra's apt.update reads the stamp
        h.data.get.side_effect = lambda key, default=None: (data or {}).get(key, default)
        h.get_fact.side_effect = lambda *a, **k: next(values)
        return [str(c) for c in roles.apt_lists._inner(**kwargs)]


def test_apt_lists_refresh_only_when_older_than_cache_time():
    from datetime import datetime, timedelta

    now = datetime(2026, 11, 28, 12, 0, 0)
    stamp = "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp"
    forced = _apt_lists([])
    assert len(forced) == 2 and forced[1] == stamp
    assert "timeout --kill-after=10 300 apt-get update" in forced[0] and "-ge 3 ]" in forced[0]
    assert _apt_lists([{"mtime": now - timedelta(hours=1)}, now], cache_time=86400) == []
    assert _apt_lists([{"mtime": now - timedelta(days=2)}, now], cache_time=86400)[1] == stamp
    assert _apt_lists([None], cache_time=86400)[1] == stamp, "never updated: update"
    slow = _apt_lists([], data={"apt_update_timeout": 900, "apt_update_attempts": 5})
    assert "timeout --kill-after=10 900 apt-get update" in slow[0] and "-ge 5 ]" in slow[0]


@pytest.mark.parametrize(("behaviour", "status", "runs"), [
    ("hang-once", 0, 2),  # the first update waits for ever: stopped, run again, done
    ("fail-always", 1, 2),  # every run fails: the operation fails after the last attempt
    ("ok", 0, 1),
])
def test_apt_lists_command_stops_a_hung_update_and_tries_again(tmp_path, behaviour, status, runs):
    """The generated shell, run here with a stand-in `apt-get` that hangs/fails as told."""
    import os
    import subprocess

    fake = tmp_path / "apt-get"
    count = tmp_path / "runs"
    fake.write_text(f"""#!/bin/sh
echo run >> {count}
case {behaviour} in
  hang-once) [ $(wc -l < {count}) -eq 1 ] && exec sleep 600; exit 0 ;;
  fail-always) exit 100 ;;
  ok) exit 0 ;;
esac
""")
    fake.chmod(0o755)
    command = _apt_lists([], timeout=2, attempts=2)[0]
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert len(count.read_text().splitlines()) == runs
    if runs > 1:
        assert "attempt 1 of 2 failed or took over 2s" in done.stderr
