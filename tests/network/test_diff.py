"""Tests as data: parsed facts (the router's export) in → commands out, for every kind of change."""

import pytest

from desa.network.diff import commands, diff
from desa.network.export import parse

CASES = {
    "nothing to do": (
        "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126\n",
        "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126\n",
        [],
    ),
    "add a missing owned item": (
        "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126\n",
        "",
        ['/ip pool add comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126'],
    ),
    "set a drifted property": (
        "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126\n",
        "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.100\n",
        ['/ip pool set [ find where comment="desa:pool-office" ] ranges=10.0.0.64-10.0.0.126'],
    ),
    "remove an owned item the intent dropped; unowned kept": (
        "/ip pool\n",
        "/ip pool\nadd comment=desa:pool-old name=old ranges=10.1.0.1-10.1.0.9\n"
        "add comment=\"teknisi: tamu\" name=tamu ranges=10.2.0.1-10.2.0.9\n",
        ['/ip pool remove [ find where comment="desa:pool-old" ]'],
    ),
    "unset a property added by hand to an owned item": (
        '/ip dhcp-server network\nadd address=10.0.0.0/25 comment=desa:n gateway=10.0.0.1\n',
        '/ip dhcp-server network\nadd address=10.0.0.0/25 comment=desa:n domain=x.lan gateway=10.0.0.1\n',
        ['/ip dhcp-server network unset [ find where comment="desa:n" ] value-name=domain'],
    ),
    "re-enable an owned rule a technician disabled": (
        "/ip firewall filter\nadd action=drop chain=input comment=desa:drop\n",
        "/ip firewall filter\nadd action=drop chain=input comment=desa:drop disabled=yes\n",
        ['/ip firewall filter set [ find where comment="desa:drop" ] disabled=no'],
    ),
    "values compared as RouterOS prints them": (
        "/queue simple\nadd comment=desa:q max-limit=3M/12M name=q target=vlan20\n"
        "/ip hotspot user profile\nadd name=warga rate-limit=2M/5M session-timeout=4h shared-users=1\n",
        "/queue simple\nadd comment=desa:q max-limit=3000000/12000000 name=q target=vlan20\n"
        "/ip hotspot user profile\nadd name=warga rate-limit=2000k/5M session-timeout=04:00:00 shared-users=1\n",
        [],
    ),
    "adopt an unmarked item with the same natural key": (
        "/interface bridge\nadd comment=desa:bridge name=bridge vlan-filtering=yes\n",
        "/interface bridge\nadd name=bridge\n",
        ['/interface bridge set [ find where name="bridge" ] comment=desa:bridge vlan-filtering=yes'],
    ),
    "built-in entries: only declared properties": (
        "/ip service\nset telnet disabled=yes\nset ssh address=10.0.0.0/27\n",
        "/ip service\nset telnet disabled=yes\nset ssh address=10.0.0.0/27 port=22\n",
        [],
    ),
    "built-in entry drifted": (
        "/ip service\nset telnet disabled=yes\n",
        "/ip service\nset ftp disabled=yes\n",
        ["/ip service set telnet disabled=yes"],
    ),
    "single-object menu": (
        "/ip dns\nset allow-remote-requests=yes servers=1.1.1.1,8.8.8.8\n",
        "/ip dns\nset servers=1.1.1.1\n",
        ["/ip dns set allow-remote-requests=yes servers=1.1.1.1,8.8.8.8"],
    ),
    "named menu without comment: ours by name, Mikhmon's profile left alone": (
        "/ip hotspot user profile\nadd name=warga rate-limit=2M/5M shared-users=1\n",
        "/ip hotspot user profile\nadd name=warga rate-limit=1M/1M shared-users=1\n"
        "add name=mikhmon-1jam on-login=\":put x\" rate-limit=1M/1M\n",
        ['/ip hotspot user profile set [ find where name="warga" ] rate-limit=2M/5M'],
    ),
    "vouchers (unowned menu items) survive": (
        "/ip hotspot user profile\nadd name=warga rate-limit=2M/5M\n",
        "/ip hotspot user profile\nadd name=warga rate-limit=2M/5M\n"
        "/ip hotspot user\nadd comment=\"vc-123-01.01.26-\" name=abc profile=warga\n",
        [],
    ),
    "write-only secrets are not compared once set": (
        '/interface wireguard\nadd comment=desa:wg listen-port=13231 mtu=1420 name=wg private-key="<secret:k>"\n',
        "/interface wireguard\nadd comment=desa:wg listen-port=13231 mtu=1420 name=wg\n",
        [],
    ),
    "identity last": (
        "/system identity\nset name=desa-gw\n/ip dns\nset servers=1.1.1.1\n",
        "/system identity\nset name=MikroTik\n/ip dns\nset servers=8.8.8.8\n",
        ["/ip dns set servers=1.1.1.1", "/system identity set name=desa-gw"],
    ),
    "removals before adds, in reverse menu order": (
        "/ip pool\nadd comment=desa:p2 name=p2 ranges=10.0.0.2\n"
        "/ip dhcp-server\nadd address-pool=p2 comment=desa:d2 interface=v name=d2\n",
        "/ip pool\nadd comment=desa:p1 name=p1 ranges=10.0.0.1\n"
        "/ip dhcp-server\nadd address-pool=p1 comment=desa:d1 interface=v name=d1\n",
        ['/ip dhcp-server remove [ find where comment="desa:d1" ]', '/ip pool remove [ find where comment="desa:p1" ]',
         "/ip pool add comment=desa:p2 name=p2 ranges=10.0.0.2",
         "/ip dhcp-server add address-pool=p2 comment=desa:d2 interface=v name=d2"],
    ),
}

FW = "/ip firewall filter\n" + "".join(f"add action=accept chain=forward comment=desa:{k}\n" for k in "abcd")


def rules(*keys: str, extra: str = "") -> str:
    return "/ip firewall filter\n" + "".join(
        (f"add action=accept chain=forward comment=desa:{k}\n" if k != "tech"
         else "add action=accept chain=forward comment=\"teknisi: kamera\" src-address=10.9.9.9\n")
        for k in keys) + extra


ORDER_CASES = {
    "order kept: nothing to do, a technician's rule in between stays": (
        rules("a", "b", "c", "d"), rules("a", "tech", "b", "c", "d"), []),
    "a swapped rule is moved back before its successor": (
        rules("a", "b", "c", "d"), rules("a", "c", "b", "d"),
        ['/ip firewall filter move [ find where comment="desa:c" ] destination=[ find where comment="desa:d" ]']),
    "the last rule moved to the end": (
        rules("a", "b", "c", "d"), rules("d", "a", "b", "c"),
        ['/ip firewall filter move [ find where comment="desa:d" ]']),
    "a missing rule is added in place": (
        rules("a", "b", "c", "d"), rules("a", "tech", "c", "d"),
        ['/ip firewall filter add action=accept chain=forward comment=desa:b '
         'place-before=[ find where comment="desa:c" ]']),
    "a missing last rule is appended": (
        rules("a", "b"), rules("a"),
        ["/ip firewall filter add action=accept chain=forward comment=desa:b"]),
}


@pytest.mark.parametrize("desired,current,expected", CASES.values(), ids=list(CASES))
def test_diff(desired, current, expected):
    assert commands(diff(parse(desired), parse(current))) == expected


@pytest.mark.parametrize("desired,current,expected", ORDER_CASES.values(), ids=list(ORDER_CASES))
def test_firewall_order(desired, current, expected):
    assert commands(diff(parse(desired), parse(current))) == expected


def test_applying_the_plan_converges_order():
    """Apply move commands to a list model: the owned rules end in the intent's order."""
    import itertools
    import re

    want = ["a", "b", "c", "d"]
    for perm in itertools.permutations(want):
        current = list(perm[:2]) + ["tech"] + list(perm[2:])
        cmds = commands(diff(parse(rules(*want)), parse(rules(*current))))
        state = list(current)
        for cmd in cmds:
            m = re.match(r'.* move \[ find where comment="desa:(\w)" \](?: destination=\[ find where comment="desa:(\w)" \])?',
                         cmd)
            assert m, cmd
            state.remove(m.group(1))
            state.insert(state.index(m.group(2)) if m.group(2) else len(state), m.group(1))
        assert [k for k in state if k != "tech"] == want, (perm, cmds)
        assert len(cmds) <= 3


def test_desired_item_without_marker_is_a_template_bug():
    with pytest.raises(ValueError, match="marker"):
        diff(parse("/ip pool\nadd name=x ranges=1.1.1.1\n"), parse(""))
