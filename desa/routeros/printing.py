"""``print`` output in RouterOS 7's layouts: tables with ``Columns:`` for menus RouterOS shows as
tables, ``key=value`` blocks otherwise (and for ``detail``), one line per item for ``terse``,
right-aligned ``key: value`` lines for single-object menus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desa.routeros.parser import quote
from desa.routeros.state import INTERFACE_TYPES, Config, Item, Path

if TYPE_CHECKING:
    from desa.routeros.device import Device

COLUMNS: dict[Path, list[str]] = {
    ("ip", "address"): ["address", "network", "interface"],
    ("ip", "pool"): ["name", "ranges"],
    ("ip", "route"): ["dst-address", "gateway", "routing-table", "distance"],
    ("interface",): ["name", "type", "actual-mtu", "l2mtu"],
    ("interface", "ethernet"): ["name", "mtu", "mac-address", "arp"],
    ("interface", "bridge"): ["name", "mtu", "mac-address", "protocol-mode", "vlan-filtering"],
    ("interface", "vlan"): ["name", "mtu", "arp", "vlan-id", "interface"],
    ("interface", "list"): ["name"],
    ("interface", "list", "member"): ["list", "interface"],
    ("interface", "bridge", "port"): ["interface", "bridge", "pvid"],
    ("ip", "service"): ["name", "port", "address"],
    ("ip", "dhcp-server"): ["name", "interface", "address-pool", "lease-time"],
    ("ip", "dhcp-server", "network"): ["address", "gateway", "dns-server"],
    ("user",): ["name", "group", "address", "last-logged-in"],
    ("system", "scheduler"): ["name", "start-date", "start-time", "interval", "on-event", "run-count"],
    ("queue", "simple"): ["name", "target", "upload-max-limit", "download-max-limit"],
}
FIRST_KEYS: dict[Path, list[str]] = {
    ("ip", "firewall", "filter"): ["chain", "action", "hw-offload", "connection-state", "connection-nat-state",
                                   "protocol", "src-address", "dst-address", "src-address-list", "dst-address-list",
                                   "in-interface-list", "out-interface-list", "src-port", "dst-port",
                                   "src-mac-address", "in-interface", "out-interface", "ipsec-policy", "log",
                                   "log-prefix"],
    ("interface",): ["name", "default-name", "type", "mtu", "actual-mtu", "l2mtu", "max-l2mtu", "mac-address"],
    ("ip", "route"): ["dst-address", "routing-table", "pref-src", "gateway", "immediate-gw", "distance", "scope",
                      "target-scope", "suppress-hw-offload"],
}
FIRST_KEYS[("ip", "address")] = ["address", "network", "interface", "actual-interface"]
FIRST_KEYS[("ip", "firewall", "nat")] = FIRST_KEYS[("ip", "firewall", "filter")]
FIRST_KEYS[("interface", "ethernet")] = FIRST_KEYS[("interface",)]


def print_single(path: Path, props: dict[str, str], device: Device) -> str:
    if not props:
        return ""
    width = max(len(k) for k in props) + 2
    return "\n".join(f"{k:>{width}}: {v}" for k, v in props.items())


def _row_props(config: Config, path: Path, item: Item) -> dict[str, str]:
    props = config.effective(path, item)
    if path[:1] == ("interface",) and len(path) == 2 and "name" in props:
        props.setdefault("type", INTERFACE_TYPES.get(path[1], path[1]))
        props.setdefault("actual-mtu", props.get("mtu", "1500") if props.get("mtu", "auto") != "auto" else "1500")
        props.setdefault("l2mtu", "1598" if path[1] == "ethernet" else "65535")
        props.setdefault("max-l2mtu", "9796") if path[1] == "ethernet" else None
        if path[1] == "bridge":
            from desa.routeros.state import fake_mac
            props.setdefault("mac-address", props.get("admin-mac") or fake_mac(f"{config.seed}/bridge/{item.id}"))
    if path == ("ip", "route"):
        props.setdefault("dst-address", "0.0.0.0/0")
        props.setdefault("routing-table", "main")
        props.setdefault("distance", "1")
        props.setdefault("scope", "30")
        props.setdefault("target-scope", "10")
        props.setdefault("suppress-hw-offload", "no")
    if path == ("queue", "simple"):
        up, _, down = props.get("max-limit", "0/0").partition("/")
        props["upload-max-limit"], props["download-max-limit"] = up, down or up
    return props


def _flags(path: Path, item: Item) -> str:
    flags = ""
    if item.disabled:
        flags += "X"
    if item.dynamic:
        flags += "D"
    if path[:1] == ("interface",) and len(path) <= 2 and not item.disabled:
        flags += "R"
    if path == ("ip", "route"):
        flags = "DAc" if item.dynamic else ("As" if not item.disabled else "Xs")
    return flags


def _ordered(path: Path, props: dict[str, str]) -> list[tuple[str, str]]:
    first = FIRST_KEYS.get(path, ["name"])
    if path == ("interface",):  # the generic interface menu shows only what all interfaces have
        props = {k: v for k, v in props.items() if k in first or k == "comment"}
    keys = [k for k in first if k in props] + sorted(k for k in props if k not in first)
    return [(k, props[k]) for k in keys if k not in ("comment", "disabled")]


def print_items(config: Config, menu: Path, rows: list[tuple[Path, Item]], flags: set[str], width: int = 80) -> str:
    head = "Flags: X - disabled, I - invalid; D - dynamic"
    if menu[:1] == ("interface",) and len(menu) <= 2:
        head = "Flags: D - dynamic; X - disabled, R - running; S - slave"
    if menu == ("ip", "route"):
        head = "Flags: D - dynamic; X - disabled, I - inactive, A - active; c - connect, s - static"
    lines = [head]
    if "terse" in flags:
        lines = []
        for n, (path, item) in enumerate(rows):
            props = _row_props(config, path, item)
            words = []
            if props.get("comment"):
                words.append(f"comment={quote(props['comment'])}")
            words += [f"{k}={v}" for k, v in _ordered(menu, props)]
            lines.append(f"{n:>2} {_flags(path, item):<4} " + " ".join(words))
        return "\n".join(lines)
    columns = COLUMNS.get(menu)
    if columns and "detail" not in flags:
        table = []
        for n, (path, item) in enumerate(rows):
            props = _row_props(config, path, item)
            table.append((str(n), _flags(path, item), props.get("comment", ""), [props.get(c, "") for c in columns]))
        headers = [c.upper() for c in columns]
        widths = [max([len(h)] + [len(r[3][i]) for r in table]) for i, h in enumerate(headers)]
        numw = max([1] + [len(r[0]) + (len(r[1]) + 1 if r[1] else 0) for r in table])
        lines.append("Columns: " + ", ".join(headers))
        lines.append(f"{'#':<{numw}}  " + "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)).rstrip())
        for num, fl, comment, cells in table:
            if comment:
                lines.append(f";;; {comment}")
            prefix = f"{num} {fl}" if fl else num
            lines.append(f"{prefix:<{numw}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip())
        return "\n".join(lines)
    for n, (path, item) in enumerate(rows):
        props = _row_props(config, path, item)
        fl = _flags(path, item)
        lead = f"{n:>2} {fl:<4} "
        body = " ".join(f"{k}={quote(v) if v != '' else chr(34) * 2}" for k, v in _ordered(menu, props))
        if props.get("comment"):
            lines.append(lead + f";;; {props['comment']}")
            lines.append(" " * len(lead) + body)
        else:
            lines.append(lead + body)
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def print_files(device: Device, expr, flags: set[str]) -> str:
    from desa.routeros.parser import BoolOp, Cmp

    rows = device.files.listing()

    def ok(row: dict[str, str], e) -> bool:
        if e is None:
            return True
        if isinstance(e, BoolOp):
            if e.op == "not":
                return not ok(row, e.args[0])
            res = [ok(row, a) for a in e.args]
            return all(res) if e.op == "and" else any(res)
        assert isinstance(e, Cmp)
        actual = row.get(e.prop, "")
        if e.op == "=":
            return actual == e.value
        if e.op == "!=":
            return actual != e.value
        if e.op == "~":
            import re
            return re.search(e.value, actual) is not None
        return False

    rows = [r for r in rows if ok(r, expr)]
    if "detail" in flags or "terse" in flags:
        out = []
        for n, r in enumerate(rows):
            size = f" size={r['size']}" if r["type"] != "directory" else ""
            out.append(f"{n:>2} name={quote(r['name']) if ' ' in r['name'] else chr(34) + r['name'] + chr(34)} "
                       f"type={quote(r['type'])}{size} last-modified={r['last-modified']}")
            out.append("")
        return "\n".join(out).rstrip("\n")
    headers = ["NAME", "TYPE", "SIZE", "LAST-MODIFIED"]
    cells = [[r["name"], r["type"], r.get("size", "") if r["type"] != "directory" else "", r["last-modified"]]
             for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    numw = max(1, len(str(len(rows))))
    out = ["Columns: " + ", ".join(headers),
           f"{'#':<{numw}}  " + "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)).rstrip()]
    for n, c in enumerate(cells):
        out.append(f"{n:<{numw}}  " + "  ".join(f"{v:<{w}}" for v, w in zip(c, widths)).rstrip())
    return "\n".join(out)


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}MiB"


def print_resource(device: Device) -> str:
    up = device.uptime()
    from desa.routeros.values import format_duration

    props = {
        "uptime": format_duration(int(up)),
        "version": f"{device.version} (stable)",
        "build-time": device.build_time,
        "factory-software": "7.1",
        "free-memory": _mib(device.free_memory()),
        "total-memory": _mib(256 * 1024 * 1024),
        "cpu": "MIPS 1004Kc V2.15" if device.model == "RB750Gr3" else "QEMU",
        "cpu-count": "4",
        "cpu-frequency": "880MHz",
        "cpu-load": "1%",
        "free-hdd-space": _mib(device.files.free_space()),
        "total-hdd-space": _mib(128 * 1024 * 1024),
        "write-sect-since-reboot": "1174",
        "write-sect-total": "25834",
        "bad-blocks": "0%",
        "architecture-name": "mmips" if device.model == "RB750Gr3" else "x86_64",
        "board-name": "hEX" if device.model == "RB750Gr3" else device.model,
        "platform": "MikroTik",
    }
    width = max(len(k) for k in props) + 2
    return "\n".join(f"{k:>{width}}: {v}" for k, v in props.items())


def print_routerboard(device: Device) -> str:
    props = {"routerboard": "yes", "board-name": "hEX" if device.model == "RB750Gr3" else device.model,
             "model": device.model, "serial-number": device.serial, "firmware-type": "mt7621L",
             "factory-firmware": "7.1", "current-firmware": device.version, "upgrade-firmware": device.version}
    width = max(len(k) for k in props) + 2
    return "\n".join(f"{k:>{width}}: {v}" for k, v in props.items())
