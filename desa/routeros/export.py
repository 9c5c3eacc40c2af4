"""``/export`` in RouterOS's own format.

* Header ``# 2026-11-28 10:00:00 by RouterOS 7.16`` then software id, model and serial number.
* Sections in RouterOS's fixed order (taken from real v7 exports: objects before the things that
  refer to them), each ``/menu path`` followed by ``add``/``set`` lines.
* Arguments sorted by name; values equal to their default hidden (``verbose`` shows all); v7 hides
  secrets unless ``show-sensitive``; factory items appear as ``set [ find default-name=ether1 ] …``,
  ``set [ find default=yes ] …`` or ``set telnet …`` only when changed.
* Non-terse lines wrap with `` \\`` so that no line holds more than width − 4 characters (76 on an
  80-column terminal or in a file), continuing with four spaces; a break may fall between arguments
  or right after ``name=``; values longer than a line are cut. ``terse`` prints one full line per item
  with its menu path.
"""

from __future__ import annotations

import re
from datetime import datetime

from desa.routeros.parser import quote
from desa.routeros.state import ADD_DEFAULTS, KEEPS_EXPLICIT, READ_ONLY, SENSITIVE, Config, Item, Path

EXPORT_ORDER: list[Path] = [tuple(p.split()) for p in """
interface bridge
interface ethernet
interface wireguard
interface vlan
interface bonding
interface list
interface wireless security-profiles
interface wifi security
interface wifi configuration
ip hotspot profile
ip hotspot user profile
ip ipsec profile
ip pool
ip dhcp-server
ip hotspot
queue type
queue simple
queue tree
port
routing table
interface bridge port
ip firewall connection tracking
ip neighbor discovery-settings
ip settings
ipv6 settings
interface bridge vlan
interface list member
interface ovpn-server server
interface wireguard peers
ip address
ip dhcp-client
ip dhcp-server lease
ip dhcp-server network
ip dns
ip dns static
ip firewall address-list
ip firewall filter
ip firewall mangle
ip firewall nat
ip firewall raw
ip firewall service-port
ip hotspot ip-binding
ip hotspot user
ip hotspot walled-garden
ip hotspot walled-garden ip
ip ipsec policy
ip route
ip service
ip ssh
ipv6 address
ipv6 dhcp-client
ipv6 firewall address-list
ipv6 firewall filter
ipv6 nd
system clock
system identity
system logging
system note
system ntp client
system ntp server
system ntp client servers
system routerboard settings
system scheduler
system script
tool mac-server
tool mac-server mac-winbox
tool romon
""".strip().splitlines()]

NOT_EXPORTED: set[Path] = {("user",), ("user", "active"), ("file",), ("system", "resource"), ("interface",)}


def header(version: str, now: datetime | None = None, model: str = "RB750Gr3", serial: str = "",
           software_id: str = "") -> list[str]:
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    return [f"# {stamp} by RouterOS {version}", f"# software id = {software_id}", "#",
            f"# model = {model}", f"# serial number = {serial}"]


def _section_order(config: Config) -> list[Path]:
    known = [p for p in EXPORT_ORDER]
    extra = [p for p in config.menus if p not in known]
    order_index = {p: i for i, p in enumerate(config.schema.walk_menus())}
    extra.sort(key=lambda p: order_index.get(p, 10**9))
    return known + extra


def _visible_props(config: Config, path: Path, item: Item, *, verbose: bool, show_sensitive: bool) -> dict[str, str]:
    if verbose:
        props = config.effective(path, item)
    elif item.builtin:
        props = {k: v for k, v in item.props.items() if item.initial.get(k) != v}  # type: ignore[union-attr]
    else:
        defaults = {} if path in KEEPS_EXPLICIT else ADD_DEFAULTS.get(path, {})
        props = {}
        for key, value in item.props.items():
            if path not in KEEPS_EXPLICIT:
                if key == "disabled" and value == "no":
                    continue
                if key in defaults and defaults[key] == value:
                    continue
                if value == "" and key not in defaults:
                    continue
            props[key] = value
    out = {}
    for key, value in props.items():
        if key in READ_ONLY.get(path, ()) or key == "default-name" and not verbose:
            continue
        if key in SENSITIVE and not show_sensitive:
            continue
        out[key] = value
    return out


def _selector(path: Path, item: Item, index: int) -> str:
    assert item.initial is not None
    if "default-name" in item.initial:
        return f"[ find default-name={item.initial['default-name']} ]"
    if item.default:
        return "[ find default=yes ]"
    if "name" in item.initial:
        return quote(item.initial["name"]) if item.props.get("name") == item.initial["name"] else \
            f"[ find name={quote(item.initial['name'])} ]"
    return str(index)


def section_lines(config: Config, path: Path, *, verbose: bool = False, show_sensitive: bool = False) -> list[list[str]]:
    """Each command of one section as a list of words (``add``, ``name=value`` …)."""
    menu = config.menus.get(path)
    if menu is None or path in NOT_EXPORTED:
        return []
    commands: list[list[str]] = []
    for index, item in enumerate(menu.items):
        if item.dynamic:
            continue
        props = _visible_props(config, path, item, verbose=verbose, show_sensitive=show_sensitive)
        words = [f"{k}={quote(v)}" for k, v in sorted(props.items())]
        if menu.single:
            if words:
                commands.append(["set"] + words)
        elif item.builtin:
            if words:
                commands.append(["set", _selector(path, item, index)] + words)
        else:
            commands.append(["add"] + words)
    return commands


_UNIT = re.compile(r"\\[0-9A-F]{2}|\\.|.", re.S)


def wrap(words: list[str], width: int = 80) -> list[str]:
    """RouterOS's line continuation: at most width-4 characters before the ``\\``. A break between
    arguments ends the line with `` \\``; a break inside an argument (after ``name=`` or inside a long
    value, never inside an escape) with ``\\`` alone."""
    limit = max(width - 4, 20)
    pieces: list[tuple[str, bool]] = []  # (text, starts a new word)
    for word in words:
        if "=" in word and not word.startswith("["):
            key, _, value = word.partition("=")
            pieces.append((key + "=", True))
            if value:
                pieces.append((value, False))
        else:
            pieces.append((word, True))
    lines: list[tuple[str, bool]] = []  # (text, the next line starts a new word)
    current = ""
    for text, new_word in pieces:
        sep = " " if new_word and current.strip() else ""
        if len(current) + len(sep) + len(text) <= limit:
            current += sep + text
            continue
        if current.strip():
            lines.append((current, new_word))
            current = "    "
        units = _UNIT.findall(text)
        while len(current) + len(text) > limit:
            room = limit - len(current)
            taken, size = 0, 0
            while taken < len(units) and size + len(units[taken]) <= room:
                size += len(units[taken])
                taken += 1
            if taken == 0:
                break
            lines.append((current + "".join(units[:taken]), False))
            units = units[taken:]
            text = "".join(units)
            current = "    "
        current += text
    out = [(line + " \\" if new else line + "\\") for line, new in lines]
    return out + [current]


def render(config: Config, *, version: str, menu: Path = (), verbose: bool = False, terse: bool = False,
           show_sensitive: bool = False, width: int = 80, now: datetime | None = None, model: str = "RB750Gr3",
           serial: str = "", software_id: str = "") -> str:
    out = header(version, now, model, serial, software_id)
    for path in _section_order(config):
        if menu and path[:len(menu)] != menu:
            continue
        commands = section_lines(config, path, verbose=verbose, show_sensitive=show_sensitive)
        if not commands:
            continue
        name = "/" + " ".join(path)
        if terse:
            out.extend(f"{name} " + " ".join(words) for words in commands)
            continue
        out.append(name)
        for words in commands:
            out.extend(wrap(words, width))
    return "\n".join(out) + "\n"
