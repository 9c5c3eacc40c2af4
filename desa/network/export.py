"""Parse RouterOS `/export` text (normal with `\\` continuations, or terse) into menu → items.

    /interface bridge
    add comment=desa:bridge name=bridge \\
        vlan-filtering=yes
    /ip service set telnet disabled=yes            (terse: the menu on every line)
    /interface ethernet set [ find default-name=ether1 ] comment=WAN

becomes ``{"/interface bridge": [Item("add", None, {...})], "/ip service": [Item("set", "telnet",
{...})], "/interface ethernet": [Item("set", "default-name=ether1", {...})]}``. Values are decoded
(quotes and escapes removed), so a value compares equal however RouterOS chose to print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desa.network.quoting import unescape

ACTIONS = ("add", "set")


class ExportParseError(ValueError):
    pass


@dataclass
class Item:
    action: str  # "add" or "set"
    target: str | None = None  # set: a name (`telnet`) or a find expression (`default-name=ether1`)
    props: dict[str, str] = field(default_factory=dict)

    @property
    def comment(self) -> str | None:
        return self.props.get("comment")


@dataclass
class Export:
    menus: dict[str, list[Item]] = field(default_factory=dict)

    def menu(self, path: str) -> list[Item]:
        return self.menus.get(normalise_path(path), [])

    def __iter__(self):
        return iter(self.menus.items())


def normalise_path(path: str) -> str:
    """`/ip/firewall/filter`, `ip firewall filter` and `/ip firewall filter` are the same menu."""
    parts = [p for p in path.replace("/", " ").split() if p]
    return "/" + " ".join(parts)


def logical_lines(text: str) -> list[str]:
    """Join `\\` continuations (inside or outside quotes) and drop comments and blank lines."""
    lines: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "\r\n":
            # continuation: skip the newline and the indentation of the next line
            i += 1
            if text[i] == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            i += 1
            while i < n and text[i] in " \t":
                i += 1
            continue
        if ch == "\\" and in_quotes and i + 1 < n:
            buf.append(text[i:i + 2])
            i += 2
            continue
        if ch == '"':
            in_quotes = not in_quotes
        if ch in "\r\n" and not in_quotes:
            lines.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    if buf:
        lines.append("".join(buf))
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(stripped)
    return out


def tokenize(line: str) -> list[str]:
    """Split a command line into words; a quoted string and a `[ … ]` expression stay one word."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        start = i
        depth = 0
        in_quotes = False
        while i < n:
            ch = line[i]
            if in_quotes:
                if ch == "\\":
                    i += 2
                    continue
                if ch == '"':
                    in_quotes = False
            elif ch == '"':
                in_quotes = True
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif ch in " \t" and depth <= 0:
                break
            i += 1
        if in_quotes:
            raise ExportParseError(f"unterminated string in: {line}")
        tokens.append(line[start:i])
    return tokens


def value_of(raw: str) -> str:
    """Decode one value as printed: `"a b"` → `a b`; bare words stay as they are."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return unescape(raw[1:-1])
    if '"' in raw:
        # a word made of quoted parts, e.g. a"b" — decode each part
        out, i = [], 0
        while i < len(raw):
            if raw[i] == '"':
                j = i + 1
                while j < len(raw) and raw[j] != '"':
                    j += 2 if raw[j] == "\\" else 1
                out.append(unescape(raw[i + 1:j]))
                i = j + 1
            else:
                out.append(raw[i])
                i += 1
        return "".join(out)
    return raw


def find_target(expr: str) -> str:
    """`[ find default-name=ether1 ]` → `default-name=ether1` (values decoded)."""
    inner = expr.strip()[1:-1].strip()
    words = tokenize(inner)
    if not words or words[0] != "find":
        raise ExportParseError(f"unsupported item selector {expr}")
    conds = []
    for w in words[1:]:
        if "=" in w:
            k, v = w.split("=", 1)
            conds.append(f"{k}={value_of(v)}")
        else:
            conds.append(w)
    return " ".join(conds)


def parse_command(menu: str, words: list[str]) -> Item | None:
    action = words[0]
    if action not in ACTIONS:
        return None
    rest = words[1:]
    target = None
    if action == "set" and rest and (rest[0].startswith("[") or "=" not in rest[0].split('"')[0]):
        first = rest.pop(0)
        target = find_target(first) if first.startswith("[") else value_of(first)
    props: dict[str, str] = {}
    for w in rest:
        if "=" not in w:
            raise ExportParseError(f"{menu}: unexpected word {w!r}")
        key, raw = w.split("=", 1)
        props[key] = value_of(raw)
    return Item(action, target, props)


def parse(text: str) -> Export:
    """Parse an export (normal or terse) into an `Export`."""
    export = Export()
    menu: str | None = None
    for line in logical_lines(text):
        if line.startswith(":"):
            continue  # script statements (:delay, :global) are not configuration
        words = tokenize(line)
        if words[0].startswith("/"):
            # "/ip address" (a menu header) or "/ip address add …" (terse)
            path_words = []
            while words and words[0] not in ACTIONS and "=" not in words[0]:
                path_words.append(words.pop(0))
            menu = normalise_path(" ".join(path_words))
            export.menus.setdefault(menu, [])
            if not words:
                continue
        if menu is None:
            raise ExportParseError(f"command outside a menu: {line}")
        item = parse_command(menu, words)
        if item is not None:
            export.menus.setdefault(menu, []).append(item)
    return export
