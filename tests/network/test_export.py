"""The export parser: normal and terse exports, continuations, quoting, selectors."""

from desa.network.export import logical_lines, parse

NORMAL = r'''# 2026-11-28 12:00:00 by RouterOS 7.16
# software id = ABCD-1234
#
/interface bridge
add comment=desa:bridge name=bridge vlan-filtering=yes
/interface ethernet
set [ find default-name=ether1 ] comment="uplink \"ISP\""
/ip firewall filter
add action=accept chain=input comment="desa:fw-in-established" \
    connection-state=established,related
add action=drop chain=forward comment="a very long comment that RouterOS splits \
    across lines"
/ip service
set telnet disabled=yes
/system identity
set name=lambangsari-gw
'''

TERSE = r'''/interface bridge add comment=desa:bridge name=bridge vlan-filtering=yes
/ip/service set telnet disabled=yes
/ip hotspot user add comment="vc-123 mikhmon" name=abc password="p;[x]" profile=warga
'''


def test_normal_export_items_per_menu():
    e = parse(NORMAL)
    assert [m for m, _ in e] == ["/interface bridge", "/interface ethernet", "/ip firewall filter",
                                  "/ip service", "/system identity"]
    rules = e.menu("/ip firewall filter")
    assert rules[0].props == {"action": "accept", "chain": "input", "comment": "desa:fw-in-established",
                              "connection-state": "established,related"}
    assert rules[1].props["comment"] == "a very long comment that RouterOS splits across lines"
    eth = e.menu("/interface ethernet")[0]
    assert (eth.action, eth.target, eth.props) == ("set", "default-name=ether1", {"comment": 'uplink "ISP"'})
    assert e.menu("/ip service")[0].target == "telnet"
    assert e.menu("/system identity")[0].target is None
    assert e.menu("/system identity")[0].props == {"name": "lambangsari-gw"}


def test_terse_export_and_slash_paths():
    e = parse(TERSE)
    assert e.menu("/interface bridge")[0].props["name"] == "bridge"
    assert e.menu("/ip service")[0].props == {"disabled": "yes"}
    user = e.menu("/ip hotspot user")[0]
    assert user.props["password"] == "p;[x]" and user.comment == "vc-123 mikhmon"


def test_escapes_and_hex_bytes_decoded():
    e = parse('/system note\nset note="a\\$b\\?c\\3B\\5Bd\\5D\\C3\\A9\\nz"\n')
    assert e.menu("/system note")[0].props["note"] == "a$b?c;[d]é\nz"


def test_logical_lines_drop_comments_and_blank():
    assert logical_lines("# x\n\n/ip dns\nset servers=1.1.1.1 \\\n    allow-remote-requests=yes\n") == [
        "/ip dns", "set servers=1.1.1.1 allow-remote-requests=yes"]
