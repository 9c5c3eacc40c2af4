"""RouterOS script syntax: quoting values so no inventory value can inject a command.

Every value we send is written as a double-quoted string. Inside it, the characters RouterOS
interprets (`"`, `\\`, `$` variable substitution, `?` help, control characters) are escaped; the
command separators `;`, `[`, `]`, `{`, `}` are written as hex escapes (`\\3B`) so that even a lax
parser can never see them as syntax.
"""

from __future__ import annotations

_SIMPLE = {'"': '\\"', "\\": "\\\\", "$": "\\$", "?": "\\?", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HEX = set(";[]{}")

_UNESCAPE = {'"': '"', "\\": "\\", "$": "$", "?": "?", "n": "\n", "r": "\r", "t": "\t", "_": " ",
             "a": "\a", "b": "\b", "f": "\f", "v": "\v"}

_HEXDIGITS = "0123456789abcdefABCDEF"


def quote(value: object) -> str:
    """A RouterOS double-quoted string literal holding exactly `value`."""
    text = str(value)
    out = ['"']
    for ch in text:
        if ch in _SIMPLE:
            out.append(_SIMPLE[ch])
        elif ch in _HEX or ord(ch) < 0x20 or ord(ch) >= 0x7F:
            out.append("".join(f"\\{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def unescape(body: str) -> str:
    """Decode the inside of a quoted string (escapes as RouterOS prints and accepts them)."""
    out: list[str] = []
    raw = bytearray()  # hex escapes are bytes of UTF-8 text

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8", errors="replace"))
            raw.clear()

    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 2 < len(body) and body[i + 1] in _HEXDIGITS and body[i + 2] in _HEXDIGITS:
            raw.append(int(body[i + 1:i + 3], 16))
            i += 3
            continue
        flush()
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _UNESCAPE:
            out.append(_UNESCAPE[nxt])
            i += 2
        else:
            out.append(nxt)
            i += 2
    flush()
    return "".join(out)


_BARE_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/+@*!")


def word(value: object) -> str:
    """A value as RouterOS prints it in an export: bare when safe, quoted otherwise."""
    text = str(value)
    if text and all(c in _BARE_OK for c in text):
        return text
    return quote(text)
