"""RouterOS command-line grammar: tokens, quoted values and ``[ find where … ]`` expressions.

Columns in errors are 1-based positions in the line, as RouterOS reports them
(``bad command name adress (line 1 column 5)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from desa.routeros.errors import RouterOSError

_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$", "?": "?",
                   "_": " ", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX = "0123456789ABCDEFabcdef"


@dataclass
class Token:
    """One word of a command line.

    ``kind`` is ``word`` (a bare word or quoted string), ``arg`` (``name=value``), ``expr`` (a bracketed
    ``[ … ]`` command substitution) or ``semi``. ``col`` is the 1-based column of its first character,
    ``end`` the 0-based index just after it.
    """

    kind: str
    text: str
    col: int
    end: int
    name: str = ""
    value: str | None = None
    quoted: bool = False
    value_expr: str | None = None  # name=[ … ]


def join_continuations(text: str) -> list[tuple[int, str]]:
    """Split a script into logical lines: a line ending in ``\\`` continues on the next one, whose
    leading blanks are dropped. Returns (first physical line number, logical line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[tuple[int, str]] = []
    buf = ""
    start = 0
    for number, line in enumerate(lines, 1):
        piece = line.lstrip(" \t") if buf else line
        if not buf:
            start = number
        if _ends_with_continuation(piece):
            buf += piece[:-1]
            continue
        buf += piece
        out.append((start, buf))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _ends_with_continuation(line: str) -> bool:
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def read_quoted(line: str, i: int) -> tuple[str, int]:
    """Read a quoted string starting at the opening quote at ``i``; return (value, index after)."""
    out: list[str] = []
    raw_bytes = bytearray()
    j = i + 1
    n = len(line)

    def flush() -> None:
        if raw_bytes:
            out.append(raw_bytes.decode("utf-8", errors="replace"))
            raw_bytes.clear()

    while j < n:
        ch = line[j]
        if ch == '"':
            flush()
            return "".join(out), j + 1
        if ch == "\\":
            if j + 1 >= n:
                raise RouterOSError("syntax error", col=j + 1)
            nxt = line[j + 1]
            if j + 2 < n and nxt in _HEX and line[j + 2] in _HEX:
                raw_bytes.append(int(line[j + 1:j + 3], 16))
                j += 3
                continue
            if nxt in _SIMPLE_ESCAPES:
                flush()
                out.append(_SIMPLE_ESCAPES[nxt])
                j += 2
                continue
            raise RouterOSError("syntax error", col=j + 1)
        flush()
        out.append(ch)
        j += 1
    raise RouterOSError("syntax error", col=i + 1)


def _read_bracket(line: str, i: int) -> int:
    """Index just after the ``]`` matching the ``[`` at ``i``."""
    depth = 0
    j = i
    n = len(line)
    while j < n:
        ch = line[j]
        if ch == '"':
            _, j = read_quoted(line, j)
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise RouterOSError("syntax error", col=i + 1)


_BARE_STOP = set(" \t;")


def tokenize(line: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in " \t":
            i += 1
            continue
        if ch == ";":
            tokens.append(Token("semi", ";", i + 1, i + 1))
            i += 1
            continue
        if ch == "#" and not tokens:
            break
        if ch == "[":
            end = _read_bracket(line, i)
            tokens.append(Token("expr", line[i + 1:end - 1].strip(), i + 1, end))
            i = end
            continue
        if ch == '"':
            value, end = read_quoted(line, i)
            tokens.append(Token("word", value, i + 1, end, quoted=True))
            i = end
            continue
        if ch == "]":
            raise RouterOSError("syntax error", col=i + 1)
        # bare word, maybe name=value
        j = i
        while j < n and line[j] not in _BARE_STOP and line[j] != "=" and line[j] != '"' and line[j] != "[":
            j += 1
        if j < n and line[j] == "=" and j > i:
            name = line[i:j]
            k = j + 1
            if k < n and line[k] == '"':
                value, end = read_quoted(line, k)
                tokens.append(Token("arg", line[i:end], i + 1, end, name=name, value=value, quoted=True))
                i = end
                continue
            if k < n and line[k] == "[":
                end = _read_bracket(line, k)
                tokens.append(Token("arg", line[i:end], i + 1, end, name=name, value="",
                                    value_expr=line[k + 1:end - 1].strip()))
                i = end
                continue
            m = k
            while m < n and line[m] not in _BARE_STOP:
                if line[m] == '"':
                    raise RouterOSError("syntax error", col=m + 1)
                m += 1
            tokens.append(Token("arg", line[i:m], i + 1, m, name=name, value=line[k:m]))
            i = m
            continue
        if j < n and line[j] in '"[' and j > i:
            raise RouterOSError("syntax error", col=j + 1)
        if j == i:  # a lone '='
            raise RouterOSError("syntax error", col=i + 1)
        tokens.append(Token("word", line[i:j], i + 1, j))
        i = j
        if tokens[-1].text == "where":
            # the condition is parsed on its own (parse_expression); skip to the end of the statement
            in_quote = False
            while i < n and (in_quote or line[i] != ";"):
                if line[i] == "\\" and in_quote:
                    i += 1
                elif line[i] == '"':
                    in_quote = not in_quote
                i += 1
    return tokens


# ---------------------------------------------------------------------------------------------
# where-expressions: prop=value, prop!=value, prop~"regex", prop<value, prop>value, prop, !prop,
# (…), and/&&, or/||, not/!
# ---------------------------------------------------------------------------------------------

_OPS = ("!=", "<=", ">=", "=", "~", "<", ">")
_EXPR_TOKEN = re.compile(r"\s*(?:(\(|\)|&&|\|\||!(?!=))|(\"(?:[^\"\\]|\\.)*\")|([^\s()\"!=~<>&|]+)|(!=|<=|>=|=|~|<|>))")


@dataclass
class Cmp:
    prop: str
    op: str  # one of _OPS, or "" for a truth test
    value: str = ""


@dataclass
class BoolOp:
    op: str  # and / or / not
    args: list = field(default_factory=list)


Expr = Cmp | BoolOp


def _expr_tokens(text: str, base_col: int) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _EXPR_TOKEN.match(text, i)
        if not m or m.end() == i:
            raise RouterOSError("syntax error", col=base_col + i)
        col = base_col + m.start(m.lastindex)
        if m.group(1):
            out.append(("punct", m.group(1), col))
        elif m.group(2):
            value, _ = read_quoted(m.group(2), 0)
            out.append(("str", value, col))
        elif m.group(3):
            out.append(("word", m.group(3), col))
        else:
            out.append(("op", m.group(4), col))
        i = m.end()
    return out


class _ExprParser:
    def __init__(self, tokens: list[tuple[str, str, int]], end_col: int) -> None:
        self.t = tokens
        self.i = 0
        self.end_col = end_col

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self) -> Expr | None:
        if not self.t:
            return None
        expr = self.parse_or()
        if self.peek() is not None:
            raise RouterOSError("syntax error", col=self.peek()[2])
        return expr

    def parse_or(self) -> Expr:
        left = self.parse_and()
        while (tok := self.peek()) and tok[1] in ("or", "||"):
            self.take()
            left = BoolOp("or", [left, self.parse_and()])
        return left

    def parse_and(self) -> Expr:
        left = self.parse_not()
        while (tok := self.peek()) and tok[0] != "op" and tok[1] not in ("or", "||", ")"):
            if tok[1] in ("and", "&&"):
                self.take()
            left = BoolOp("and", [left, self.parse_not()])
        return left

    def parse_not(self) -> Expr:
        tok = self.peek()
        if tok and tok[1] in ("!", "not") and tok[0] in ("punct", "word"):
            self.take()
            return BoolOp("not", [self.parse_not()])
        return self.parse_atom()

    def parse_atom(self) -> Expr:
        tok = self.take()
        if tok is None:
            raise RouterOSError("syntax error", col=self.end_col)
        if tok[1] == "(" and tok[0] == "punct":
            inner = self.parse_or()
            close = self.take()
            if close is None or close[1] != ")":
                raise RouterOSError("syntax error", col=close[2] if close else self.end_col)
            return inner
        if tok[0] != "word":
            raise RouterOSError("syntax error", col=tok[2])
        nxt = self.peek()
        if nxt and nxt[0] == "op":
            self.take()
            val = self.take()
            if val is None or val[0] not in ("word", "str"):
                raise RouterOSError("syntax error", col=val[2] if val else self.end_col)
            return Cmp(tok[1], nxt[1], val[1])
        return Cmp(tok[1], "")


def parse_expression(text: str, base_col: int = 1) -> Expr | None:
    """Parse the condition of ``where`` / ``find``; ``base_col`` is the column of ``text[0]``."""
    tokens = _expr_tokens(text, base_col)
    return _ExprParser(tokens, base_col + len(text)).parse()


def expression_props(expr: Expr | None) -> list[tuple[str, int]]:
    """Property names used by an expression (for validation)."""
    if expr is None:
        return []
    if isinstance(expr, Cmp):
        return [(expr.prop, 0)]
    out: list[tuple[str, int]] = []
    for arg in expr.args:
        out.extend(expression_props(arg))
    return out


# ---------------------------------------------------------------------------------------------
# Quoting values the way RouterOS prints them
# ---------------------------------------------------------------------------------------------

_UNQUOTED = re.compile(r"^[A-Za-z0-9_.,:/!@+*%&<>|^'\-]+$")


def quote(value: str) -> str:
    """A value as RouterOS writes it in ``export`` and ``print``: bare when it is a plain word, else
    quoted with ``\\"``, ``\\\\``, ``\\$``, ``\\?``, ``\\n``… and ``\\XX`` for non-ASCII bytes."""
    if value and _UNQUOTED.fullmatch(value):  # fullmatch: `$` would accept a trailing newline
        return value
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "$":
            out.append("\\$")
        elif ch == "?":
            out.append("\\?")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append("".join(f"\\{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
