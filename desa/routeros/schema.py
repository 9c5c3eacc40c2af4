"""The RouterOS 7 command tree, loaded at run time from the ``routeros-lsp`` package's data.

The data file (``routeros_lsp/data/routeros-7.21.4.json.gz``, MIT) is a CHR command tree: a menu has
children ``c``; a command has ``k``, arguments ``a`` (each with enum values ``e``, ``x`` = 1 when the list
is complete, type text ``t``, ``f`` = flag) and required arguments ``r``.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

DATA_FILE = "routeros-7.21.4.json.gz"

# Arguments whose enum list in the data is known to be incomplete although ``x`` says otherwise
# (the value may also be the name of an object).
_OPEN_ENUMS = {"parent", "vrf", "routing-table", "packet-marks", "address-pool", "queue", "profile"}


@functools.cache
def load_tree() -> dict[str, Any]:
    raw = resources.files("routeros_lsp").joinpath("data", DATA_FILE).read_bytes()
    return json.loads(gzip.decompress(raw))


@dataclass(frozen=True)
class Lookup:
    """Result of resolving one word against a table: ``found``, ``ambiguous`` or ``none``."""

    kind: str
    name: str = ""


def match(table: dict[str, Any] | None, word: str) -> Lookup:
    """RouterOS accepts any unambiguous prefix; an exact name wins."""
    if not table or not word:
        return Lookup("none")
    if word in table:
        return Lookup("found", word)
    hits = [name for name in table if name.startswith(word)]
    if len(hits) == 1:
        return Lookup("found", hits[0])
    return Lookup("ambiguous" if hits else "none")


def _cmd(args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"k": 1, "a": args or {}, **extra}


_YES_NO = {"e": ["no", "yes"], "x": 1}
# The data comes from a CHR, which is no RouterBOARD; the simulated models are. These menus exist on
# every RouterBOARD (help.mikrotik.com "RouterBOARD" page) and are added to the tree.
ROUTERBOARD_MENUS: dict[str, Any] = {
    "d": "RouterBOARD information",
    "c": {
        "print": _cmd({"without-paging": {"f": 1}, "as-value": {"f": 1}}),
        "upgrade": _cmd(),
        "export": _cmd({"terse": {"f": 1}, "verbose": {"f": 1}, "compact": {"f": 1}, "show-sensitive": {"f": 1},
                        "file": {}}),
        "settings": {"d": "RouterBOOT settings", "c": {
            "print": _cmd({"without-paging": {"f": 1}}),
            "export": _cmd({"terse": {"f": 1}, "verbose": {"f": 1}, "compact": {"f": 1},
                            "show-sensitive": {"f": 1}, "file": {}}),
            "set": _cmd({"auto-upgrade": _YES_NO, "silent-boot": _YES_NO, "protected-routerboot": {
                "e": ["disabled", "enabled"], "x": 1}, "enter-setup-on": {"e": ["any-key", "delete-key"], "x": 1},
                "boot-device": {"e": ["nand-if-fail-then-ethernet", "nand-only", "ethernet", "flash-boot",
                                      "flash-boot-once-then-nand", "try-ethernet-once-then-nand"], "x": 1},
                "boot-protocol": {"e": ["bootp", "dhcp"], "x": 1}, "baud-rate": {}, "cpu-frequency": {},
                "preboot-etherboot": {}, "preboot-etherboot-server": {}}),
        }},
    },
}


class Schema:
    def __init__(self, data: dict[str, Any] | None = None, routerboard: bool = True) -> None:
        self.data = data or load_tree()
        self.root: dict[str, Any] = self.data["root"]
        system = self.root.get("c", {}).get("system")
        if routerboard and system is not None and "routerboard" not in system.get("c", {}):
            system["c"]["routerboard"] = ROUTERBOARD_MENUS
        self.version: str = str(self.data.get("version", ""))

    def node(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        node = self.root
        for part in path:
            node = node.get("c", {}).get(part)
            if node is None:
                return None
        return node

    def is_menu(self, path: tuple[str, ...]) -> bool:
        node = self.node(path)
        return node is not None and not node.get("k")

    def command(self, menu: tuple[str, ...], name: str) -> dict[str, Any] | None:
        node = self.node(menu)
        if node is None:
            return None
        cmd = node.get("c", {}).get(name)
        return cmd if cmd and cmd.get("k") else None

    def args(self, menu: tuple[str, ...], name: str) -> dict[str, Any]:
        cmd = self.command(menu, name)
        return dict(cmd.get("a", {})) if cmd else {}

    def required(self, menu: tuple[str, ...], name: str) -> list[str]:
        cmd = self.command(menu, name)
        return list(cmd.get("r", [])) if cmd else []

    def has(self, menu: tuple[str, ...], name: str) -> bool:
        return self.command(menu, name) is not None

    def is_list_menu(self, menu: tuple[str, ...]) -> bool:
        """A menu of many items: it can add, or its ``set`` takes item numbers."""
        if self.has(menu, "add"):
            return True
        return "numbers" in self.args(menu, "set")

    def is_single(self, menu: tuple[str, ...]) -> bool:
        """A single-object menu such as ``/system identity`` or ``/ip dns``: ``set`` without numbers."""
        return self.has(menu, "set") and not self.is_list_menu(menu)

    def closed_enum(self, arg: dict[str, Any], name: str) -> list[str] | None:
        """The values an argument must be one of, or None when it accepts more than its known values.

        A list is enforced when the data marks it complete and has more than one value (yes/no flags),
        or when the argument has no type text besides the list (``action``, ``protocol-mode``).
        """
        values = arg.get("e")
        if not values or name in _OPEN_ENUMS or len(values) < 2:
            return None
        type_text = arg.get("t", "")
        if "Num" in type_text:
            return None
        if arg.get("x") or not type_text:
            allowed = [v for v in values if not v[:1].isupper() or v.isupper()]
            # the data cuts long lists short; the type text holds them whole ("a|b|c[,Name*]")
            for segment in type_text.split(";"):
                segment = re.sub(r"^\s*(\[!\])?\w*\s*", "", segment) if "|" not in segment.split()[0:1] else segment
                found = re.fullmatch(r"\s*([\w.+-]+(?:\|[\w.+-]+)+)(\[,\w+\*\])?\s*", segment)
                if found:
                    allowed += [v for v in found.group(1).split("|") if v not in allowed]
            return allowed
        return None

    def check_value(self, arg: dict[str, Any], name: str, value: str) -> bool:
        """Whether ``value`` is acceptable for an argument with a closed list of values. Lists
        (``established,related``) and negation (``!dstnat``) are checked part by part; a compound
        value such as ``ipsec-policy=in,ipsec`` by its first part."""
        allowed = self.closed_enum(arg, name)
        if allowed is None or value in allowed or value == "":
            return True
        parts = [p[1:] if p.startswith("!") else p for p in value.split(",")]
        if "[," in arg.get("t", "") or "," in "".join(allowed):
            return all(p in allowed for p in parts)
        return parts[0] in allowed

    def canonical_set(self, arg: dict[str, Any], name: str, value: str) -> str:
        """RouterOS keeps a set of flags (``login-by``, ``connection-state``) as bits and prints them in
        its own order: ``http-chap,cookie`` comes back as ``cookie,http-chap``."""
        allowed = self.closed_enum(arg, name)
        if allowed is None or "," not in value or "[," not in arg.get("t", "") or "!" in value:
            return value
        parts = value.split(",")
        if not all(p in allowed for p in parts):
            return value
        return ",".join(v for v in allowed if v in parts)

    def walk_menus(self):
        """Every menu path in the tree's order (depth first)."""
        def rec(node, path):
            for name, child in node.get("c", {}).items():
                if not child.get("k"):
                    yield path + (name,)
                    yield from rec(child, path + (name,))
        yield from rec(self.root, ())


@functools.cache
def default_schema() -> Schema:
    return Schema()
