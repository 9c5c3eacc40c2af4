"""/export in RouterOS's format: header, section order, defaults and secrets hidden, line wrapping."""

from __future__ import annotations

from desa.routeros.export import wrap


def test_header_and_per_menu(blank):
    blank.run("/ip pool add name=p ranges=10.0.0.2-10.0.0.9")
    text = blank.run("/ip pool export")
    lines = text.splitlines()
    assert lines[0] == "# 2026-11-28 10:00:00 by RouterOS 7.16"
    assert lines[1].startswith("# software id = ") and lines[2] == "#"
    assert lines[5:] == ["/ip pool", "add name=p ranges=10.0.0.2-10.0.0.9"]


def test_wrap_matches_routeros_80_columns():
    # cases taken from real 80-column exports: 76 characters at most before the continuation
    words = ["add", "address=10.3.3.0/24", "dns-server=8.8.8.8,8.8.1.1", "gateway=10.3.3.1", "netmask=24"]
    assert wrap(words) == ["add address=10.3.3.0/24 dns-server=8.8.8.8,8.8.1.1 gateway=10.3.3.1 netmask=\\",
                           "    24"]
    words = ["add", "action=drop", "chain=input", "dst-port=21,22,23,53,80,443,8080,2000", "in-interface=ether1",
             "protocol=tcp"]
    assert wrap(words) == ["add action=drop chain=input dst-port=21,22,23,53,80,443,8080,2000 \\",
                           "    in-interface=ether1 protocol=tcp"]


def test_defaults_hidden_verbose_shows_them(blank):
    blank.run("/interface bridge add name=br vlan-filtering=no protocol-mode=rstp")
    assert "\nadd name=br\n" in blank.export()
    assert "protocol-mode=rstp" in blank.run("/interface bridge export verbose")


def test_v7_hides_secrets_unless_show_sensitive(blank):
    blank.run("/interface wireguard add name=wg0 private-key=\"kHjL1zRDS2l4HbSG3r4VvRmlXXtF9dKwU6MJ4Hcmz1E=\"")
    blank.run("/interface wireguard peers add interface=wg0 public-key=\"x5h0kcdt3WWrqi/4m6sxKfBUOVDnbL0WUKK3sV/2p2A=\" "
              "allowed-address=10.100.0.1/32 preshared-key=\"abc=\"")
    plain = blank.export().replace("\\\n    ", "")
    assert "private-key" not in plain and "preshared-key" not in plain
    assert "public-key=\"x5h0kcdt3WWrqi/4m6sxKfBUOVDnbL0WUKK3sV/2p2A=\"" in plain
    secret = blank.export("show-sensitive").replace("\\\n    ", "")
    assert 'private-key="kHjL1zRDS2l4HbSG3r4VvRmlXXtF9dKwU6MJ4Hcmz1E="' in secret


def test_section_order_and_terse(blank):
    run = blank.run
    run("/ip address add address=10.0.0.1/24 interface=ether2")
    run("/interface bridge add name=br vlan-filtering=yes")
    run("/interface bridge port add bridge=br interface=ether3 pvid=10")
    run("/interface bridge vlan add bridge=br vlan-ids=10 tagged=br untagged=ether3")
    run("/interface vlan add name=v10 interface=br vlan-id=10")
    text = blank.export()
    order = [line for line in text.splitlines() if line.startswith("/")]
    assert order == ["/interface bridge", "/interface vlan", "/interface bridge port", "/interface bridge vlan",
                     "/ip address", "/system identity"]
    terse = blank.export("terse").splitlines()
    assert "/interface bridge port add bridge=br interface=ether3 pvid=10" in terse


def test_quoting_and_escapes(blank):
    blank.run('/system script add name=s source=":log info \\"hi \\$x\\"\\r\\n:put ok"')
    text = blank.export()
    assert 'source=":log info \\"hi \\$x\\"\\r\\n:put ok"' in text.replace("\\\n    ", "")


def test_export_file_and_backup(blank):
    assert blank.run("/export file=flash/cfg") == ""
    assert blank.files.read("flash/cfg.rsc").startswith(b"# 2026-11-28")
    assert blank.run("/system backup save name=b1") == "Configuration backup saved"
    assert "b1.backup" in blank.run("/file print")
    assert 'name="flash/cfg.rsc"' in blank.run('/file print detail where name="flash/cfg.rsc"')
