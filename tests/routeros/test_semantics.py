"""The menus the network team renders, end to end: import a village configuration, export it, re-import
the export into a blank router and get the same export back; plus property-based quoting round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desa.routeros.device import Device
from desa.routeros.interpreter import QuitSession

from datetime import datetime

FIXED = datetime(2026, 11, 28, 10, 0, 0)

VILLAGE = (Path(__file__).parent / "data" / "village_template.rsc.txt").read_bytes()


def fresh() -> Device:
    return Device("R1", blank=True, clock=lambda: FIXED)


def test_village_menus_import_export_reimport(blank):
    blank.files.write("flash/v.rsc", VILLAGE)
    assert blank.run("/import file-name=flash/v.rsc").endswith("Script file loaded and executed successfully")
    text = blank.export()
    for needle in ("/interface bridge vlan\nadd bridge=br-lan tagged=br-lan untagged=ether2 vlan-ids=10",
                   "/ip hotspot walled-garden\nadd comment=\"desa: site\" dst-host=*.desa.id",
                   "login-by=\\\n    cookie,http-chap",  # a set of flags comes back in RouterOS's order
                   "max-limit=10M/20M", "persistent-keepalive=25s", "/user group\nadd name=operator",
                   "set winbox address=10.10.10.0/24", "lease-time=1h"):
        assert needle in text, needle
    assert "rahasia" not in text and "kHjL1z" not in text and "password" not in text
    # filter order honours place-before
    comments = [line.split('comment="')[1].split('"')[0] for line in text.splitlines()
                if line.startswith("add action=") and "chain=input" in line]
    assert comments == ["desa: est", "desa: icmp", "desa: drop"]
    other = fresh()
    other.files.write("flash/x.rsc", blank.export("show-sensitive").encode())
    assert other.run("/import file-name=flash/x.rsc").endswith("successfully")
    assert other.export() == text
    # users are not part of an export (RouterOS keeps them in backups only)
    assert "/user\n" not in text
    assert "teknisi" in blank.run("/user print")


def test_backup_restores_everything(blank):
    blank.files.write("flash/v.rsc", VILLAGE)
    blank.run("/import file-name=flash/v.rsc")
    before = blank.export()
    blank.run("/system backup save name=b")
    with pytest.raises(QuitSession):  # the session ends: the router reboots
        blank.run("/system reset-configuration no-defaults=yes")
    assert blank.export() != before
    blank.load_backup(blank.files.read("b.backup"))
    assert blank.export() == before


def test_import_stops_at_first_error_with_its_line():
    dev = fresh()
    dev.files.write("bad.rsc", b"/ip pool add name=a ranges=10.0.0.2\n/ip pool add nme=b ranges=10.0.0.3\n"
                               b"/ip pool add name=c ranges=10.0.0.4\n")
    assert dev.run("/import file-name=bad.rsc") == "expected end of command (line 2 column 14)"
    assert dev.run("/ip pool print count-only") == "1"
    assert dev.run("/import file-name=nosuch.rsc") == "failure: no such file"


def test_dhcp_server_needs_existing_interface_and_one_per_interface(blank):
    assert blank.run("/ip dhcp-server add interface=vlan99") == "input does not match any value of interface"
    assert blank.run("/ip dhcp-server add interface=ether2 name=a") == ""
    assert blank.run("/ip dhcp-server add interface=ether2 name=b").startswith("failure:")


def test_fresh_router_has_defconf_and_blank_has_only_ports(router, blank):
    assert "add comment=defconf name=bridge" in router.export()
    assert "192.168.88.1/24" in router.run("/ip address print")
    assert blank.run("/ip address print count-only") == "0"
    import re

    assert sorted(set(re.findall(r"\bether\d\b", blank.run("/interface ethernet print")))) == \
        ["ether1", "ether2", "ether3", "ether4", "ether5"]
    assert blank.run("/interface print count-only") == "5"


text_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comment=text_values)
def test_any_comment_survives_export_and_import(comment):
    from desa.routeros.parser import quote

    dev = fresh()
    assert dev.run(f"/ip pool add name=p ranges=10.0.0.2 comment={quote(comment)}") == ""
    text = dev.export()
    other = fresh()
    other.files.write("x.rsc", text.encode())
    assert other.run("/import file-name=x.rsc").endswith("successfully")
    got = other.config.find(("ip", "pool"), None)[0].props.get("comment", "")
    assert got == comment
