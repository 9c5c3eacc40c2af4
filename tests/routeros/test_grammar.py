"""The CLI grammar, written from RouterOS's documented behaviour: commands in, output or state out."""

from __future__ import annotations

import pytest

# (setup commands, command, expected output)  — errors exactly as RouterOS words them
ERRORS = [
    ([], "/ip adress print", "bad command name adress (line 1 column 5)"),
    ([], "/ip/adress/print", "bad command name adress (line 1 column 5)"),
    ([], "/interface wireless print", "bad command name wireless (line 1 column 12)"),
    ([], "/user-manager user print", "bad command name user-manager (line 1 column 2)"),
    ([], "/ip address add foo=bar", "expected end of command (line 1 column 17)"),
    ([], "/ip address add address=10.0.0.1/24 interface=ether1 bogus=1", "expected end of command (line 1 column 54)"),
    ([], "/ip firewall filter add chain=input action=acept", "input does not match any value of action"),
    ([], "/interface bridge add name=b protocol-mode=stp2", "input does not match any value of protocol-mode"),
    ([], "/ip address add address=10.0.0.1/24 interface=ether1 disabled=maybe", "input does not match any value of disabled"),
    ([], "/ip address add address=10.0.0.1/24", "missing value(s) of argument(s) interface"),
    ([], "/queue simple add name=q", "missing value(s) of argument(s) target"),
    ([], "/interface wireguard peers add public-key=x", "missing value(s) of argument(s) interface allowed-address"),
    ([], "/import", "missing value(s) of argument(s) file-name"),
    ([], "/ip address add address=10.0.0.300/24 interface=ether1", "invalid value for argument address"),
    ([], "/interface vlan add name=v interface=ether1 vlan-id=5000", "value of vlan-id out of range (1..4094)"),
    (["/ip address add address=10.0.0.1/24 interface=ether1"],
     "/ip address add address=10.0.0.1/24 interface=ether1", "failure: already have such address"),
    ([], "/ip address remove 7", "no such item"),
    # measured on a hEX with 7.20.8: flags take no value, the column points at "="
    ([], "/export terse show-sensitive=no", "expected end of command (line 1 column 29)"),
    ([], "/export hide-sensitive=yes", "expected end of command (line 1 column 23)"),
    ([], "/ip pool remove nosuchpool", "no such item"),
    ([], "/ip dhcp-server add interface=ether9", "input does not match any value of interface"),
    ([], "/ip dhcp-server add interface=ether2 address-pool=nopool", "input does not match any value of address-pool"),
    ([], "/interface bridge port add bridge=nobridge interface=ether2", "input does not match any value of bridge"),
    (["/interface bridge add name=br", "/interface bridge port add bridge=br interface=ether2"],
     "/interface bridge port add bridge=br interface=ether2", "failure: device already added as bridge port"),
    (["/interface bridge add name=br"], "/interface vlan add name=br interface=ether1 vlan-id=10",
     "failure: already have interface with such name"),
    (["/ip pool add name=p ranges=10.0.0.2-10.0.0.9"], "/ip pool add name=p ranges=10.0.0.2-10.0.0.9",
     "failure: already have such name"),
    ([], '/system identity set name="unterminated', "syntax error (line 1 column 27)"),
    ([], "/ip firewall filter print where chain=", "syntax error (line 1 column 39)"),
    ([], "/ip address set 0", "no such item"),
]


@pytest.mark.parametrize(("setup", "command", "expected"), ERRORS, ids=[e[1] for e in ERRORS])
def test_rejects_like_routeros(blank, setup, command, expected):
    for line in setup:
        assert blank.run(line) == "", line
    assert blank.run(command) == expected


def test_error_changes_nothing(blank):
    before = blank.export()
    blank.run("/ip address add address=10.0.0.1/24 interface=ether1 bogus=1")
    blank.run("/ip firewall filter add chain=input action=acept")
    assert blank.export() == before


ACCEPTED = [
    # prefixes, v7 slash paths, relative paths, quoting and escapes
    ("/ip addr add addr=10.0.0.1/24 int=ether1", "/ip address print terse", "address=10.0.0.1/24 network=10.0.0.0 interface=ether1"),
    ("/ip/address/add address=10.0.0.1 interface=ether1", "/ip address print terse", "address=10.0.0.1/32"),
    ('/system identity set name="Balai Desa \\"Sumberjaya\\""', "/system identity print", 'name: Balai Desa "Sumberjaya"'),
    ('/system identity set name="Desa\\_A\\3F"', "/system identity print", "name: Desa A?"),
    ("/queue simple add target=10.0.0.0/24 max-limit=25000000/25000000", "/queue simple print terse", "max-limit=25M/25M"),
    ("/queue simple add target=10.0.0.0/24 max-limit=10M", "/queue simple print terse", "max-limit=10M/10M"),
    ("/queue simple add target=10.0.0.0/24 limit-at=1500k/1500k", "/queue simple print terse", "limit-at=1500k/1500k"),
    ("/ip pool add name=p ranges=10.0.0.2-10.0.0.9", "/ip dhcp-server add interface=ether1 address-pool=p lease-time=00:30:00", ""),
    ("/system scheduler add name=s interval=3600 on-event=x", "/system scheduler print terse", "interval=1h"),
    ("/system scheduler add name=s interval=90m start-time=03:00:00", "/system scheduler print terse", "interval=1h30m"),
    ("/ip firewall filter add chain=input action=accept connection-state=established,related", "/ip firewall filter print count-only", "1"),
    ("/ip firewall filter add chain=forward action=drop connection-nat-state=!dstnat in-interface-list=all", "/ip firewall filter print count-only", "1"),
    ("/ip firewall nat add chain=srcnat action=masquerade out-interface=!ether2", "/ip firewall nat print count-only", "1"),
]


@pytest.mark.parametrize(("command", "check", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepts_like_routeros(blank, command, check, expected):
    assert blank.run(command) == ""
    assert expected in blank.run(check)


def test_relative_menu_paths_and_prompt_state(blank):
    from desa.routeros.interpreter import Session
    from desa.routeros.server import prompt

    s = Session()
    assert blank.run("/ip address", s) == ""
    assert prompt(s, blank.identity) == "[admin@R1] /ip address> "
    assert blank.run("add address=10.1.1.1/24 interface=ether1", s) == ""
    assert blank.run("..", s) == ""
    assert prompt(s, blank.identity) == "[admin@R1] /ip> "
    assert blank.run("pool add name=p ranges=10.2.0.2-10.2.0.3", s) == ""
    assert blank.run("/", s) == "" and s.cwd == ()
    assert "10.1.1.1/24" in blank.run("/ip address print")


def test_find_where_expressions(blank):
    for n in range(1, 5):
        blank.run(f"/ip address add address=10.0.{n}.1/24 interface=ether{n} comment=c{n}")
    blank.run("/ip address disable [ find comment=c2 ]")
    run = blank.run
    assert run("/ip address print count-only where disabled") == "1"
    assert run("/ip address print count-only where !disabled") == "3"
    assert run('/ip address print count-only where comment~"c[13]"') == "2"
    assert run("/ip address print count-only where interface=ether1 or interface=ether4") == "2"
    assert run("/ip address print count-only where interface!=ether1 and !(comment=c4)") == "2"
    assert run("/ip address print count-only where comment=c1 && disabled=no") == "1"
    run('/ip address set [ find where comment="c3" ] comment=third')
    assert run("/ip address print count-only where comment=third") == "1"
    run("/ip address remove [ find interface~\"ether[12]\" ]")
    assert run("/ip address print count-only") == "2"


def test_default_name_and_default_selectors(blank):
    assert blank.run("/interface ethernet set [ find default-name=ether1 ] name=wan comment=uplink") == ""
    assert "set [ find default-name=ether1 ] comment=uplink name=wan" in blank.export()
    blank.run("/ip hotspot profile set [ find default=yes ] html-directory=flash/hotspot")
    assert "set [ find default=yes ] html-directory=flash/hotspot" in blank.export()


def test_rename_follows_references(blank):
    blank.run("/interface bridge add name=br")
    blank.run("/interface bridge port add bridge=br interface=ether2")
    blank.run("/ip address add address=10.0.0.1/24 interface=br")
    blank.run("/interface bridge set br name=lan")
    export = blank.export()
    assert "add bridge=lan interface=ether2" in export
    assert "interface=lan" in export and "interface=br " not in export


def test_ordered_menus_place_before_and_move(blank):
    run = blank.run
    run("/ip firewall filter add chain=input action=accept comment=a")
    run("/ip firewall filter add chain=input action=accept comment=b")
    run("/ip firewall filter add chain=input action=drop comment=c place-before=0")
    order = lambda: [line.split("comment=")[1].split()[0] for line in run("/ip firewall filter print terse").splitlines()]  # noqa: E731
    assert order() == ["c", "a", "b"]
    run("/ip firewall filter move 0 destination=2")
    assert order() == ["a", "c", "b"]
    run("/ip firewall filter move [ find comment=a ]")
    assert order() == ["c", "b", "a"]


def test_single_object_menus(blank):
    run = blank.run
    run("/ip dns set servers=1.1.1.1,8.8.8.8 allow-remote-requests=yes")
    run("/system ntp client set enabled=yes servers=id.pool.ntp.org")
    run("/ip service set telnet disabled=yes")
    run("/ip service set www-ssl disabled=no")
    export = blank.export()
    assert "/ip dns\nset allow-remote-requests=yes servers=1.1.1.1,8.8.8.8" in export
    assert "/system ntp client\nset enabled=yes servers=id.pool.ntp.org" in export
    assert "/ip service\nset telnet disabled=yes\nset www-ssl disabled=no" in export
    assert run("/ip dns set bogus=1") == "expected end of command (line 1 column 13)"
    assert run("/ip service set telnet port=abc") == "invalid value for argument port"


def test_enable_disable_unset_comment(blank):
    run = blank.run
    run("/interface bridge add name=br vlan-filtering=yes comment=x")
    run("/interface bridge disable br")
    assert "add comment=x disabled=yes name=br vlan-filtering=yes" in blank.export()
    run("/interface bridge enable br")
    run("/interface bridge comment br comment=y")
    assert "add comment=y name=br vlan-filtering=yes" in blank.export()
    run("/interface ethernet set ether1 comment=z")
    # RouterOS 7 can unset only sfp-shutdown-temperature on ethernet
    assert run("/interface ethernet unset ether1 value-name=comment") == "input does not match any value of value-name"
    run("/ip firewall filter add chain=input action=log src-address=10.0.0.0/8")
    assert run("/ip firewall filter unset 0 value-name=log-prefix") == "input does not match any value of value-name"
    run("/ip firewall filter unset 0 value-name=src-address")
    assert "src-address" not in blank.export()


def test_builtins_cannot_be_removed(blank):
    # the ethernet menu has no remove at all
    assert blank.run("/interface ethernet remove ether1") == "bad command name remove (line 1 column 21)"
    assert blank.run("/ip service remove telnet").startswith("bad command name remove")


def test_script_run_and_put(blank):
    blank.run('/system script add name=s source="/ip pool add name=fromscript ranges=10.9.0.2-10.9.0.5\\r\\n:put done"')
    assert blank.run("/system script run s") == "done"
    assert "fromscript" in blank.run("/ip pool print")
    assert blank.run(":put [/system identity get name]") == "R1"


def test_semicolons_and_comments(blank):
    assert blank.run("/ip pool add name=a ranges=10.0.0.2; /ip pool add name=b ranges=10.0.0.3") == ""
    assert blank.run("/ip pool print count-only") == "2"
    assert blank.run("# a comment") == ""
