"""Runs RouterOS command lines against a :class:`~desa.routeros.state.Config`.

Paths (``/ip address``, ``/ip/address/print``, relative names, ``..``) and arguments are resolved against
the RouterOS 7 command tree (any unambiguous prefix, as RouterOS accepts); every argument name and enum
value is checked before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desa.routeros import errors, export, printing, scheduler, values
from desa.routeros.errors import NO_SUCH_ITEM, RouterOSError
from desa.routeros.parser import Token, join_continuations, parse_expression, tokenize
from desa.routeros.schema import match
from desa.routeros.state import Item, Path

if TYPE_CHECKING:
    from desa.routeros.device import Device

ITEM_COMMANDS = {"set", "remove", "enable", "disable", "unset", "comment", "get", "move", "reset"}
NOT_ARGS = {"numbers", "place-before", "copy-from"}


@dataclass
class Session:
    user: str = "admin"
    cwd: Path = ()
    width: int = 80
    output: list[str] = field(default_factory=list)


@dataclass
class Parsed:
    menu: Path
    command: str
    named: dict[str, tuple[str, Token]]
    flags: set[str]
    positional: list[tuple[Any, Token]]
    where: str | None = None
    where_col: int = 0
    end_col: int = 1


class Interpreter:
    def __init__(self, device: Device) -> None:
        self.device = device

    @property
    def config(self):
        return self.device.config

    @property
    def schema(self):
        return self.device.schema

    # ---- entry points --------------------------------------------------------------------------------
    def run_line(self, line: str, session: Session) -> str:
        """One interactive line; errors are returned as RouterOS prints them."""
        try:
            return self.execute(line, session)
        except RouterOSError as exc:
            return exc.render()

    def run_script(self, text: str, session: Session) -> tuple[bool, str]:
        """A script (``/import``, ``/system script run``): stops at the first error, which carries the
        script's line number."""
        out: list[str] = []
        for number, line in join_continuations(text):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                result = self.execute(line, session)
            except RouterOSError as exc:
                if exc.col is not None:
                    exc.line = number
                out.append(exc.render())
                return False, "\n".join(o for o in out if o)
            if result:
                out.append(result)
        return True, "\n".join(o for o in out if o)

    def execute(self, line: str, session: Session) -> str:
        tokens = tokenize(line)
        outputs: list[str] = []
        statement: list[Token] = []
        for tok in tokens + [Token("semi", ";", len(line) + 1, len(line) + 1)]:
            if tok.kind == "semi":
                if statement:
                    result = self._statement(line, statement, session)
                    if result:
                        outputs.append(result)
                statement = []
            else:
                statement.append(tok)
        return "\n".join(outputs)

    # ---- parsing -----------------------------------------------------------------------------------
    def _resolve(self, tokens: list[Token], session: Session) -> tuple[Path, str | None, int]:
        path = session.cwd
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind != "word" or tok.quoted:
                break
            text = tok.text
            offset = 0
            if text.startswith(":"):
                path, text, offset = (), text[1:], 1
            parts: list[tuple[str, int]] = []
            if text.startswith("/"):
                path = ()
            pos = 0
            for piece in text.split("/"):
                if piece:
                    parts.append((piece, tok.col + offset + pos))
                pos += len(piece) + 1
            if not parts and text.startswith("/"):
                i += 1
                continue
            if not parts:
                break
            for n, (part, col) in enumerate(parts):
                if part == "..":
                    path = path[:-1]
                    continue
                node = self.schema.node(path) or {}
                found = match(node.get("c"), part)
                if found.kind != "found":
                    raise errors.bad_command(part, col)
                child = node["c"][found.name]
                if child.get("k"):
                    if n != len(parts) - 1:
                        raise errors.bad_command(parts[n + 1][0], parts[n + 1][1])
                    return path, found.name, i + 1
                path = path + (found.name,)
            i += 1
        return path, None, i

    def _parse(self, line: str, tokens: list[Token], session: Session) -> Parsed | Path:
        menu, command, i = self._resolve(tokens, session)
        if command is None:
            if i < len(tokens):
                raise RouterOSError("expected command name", tokens[i].col)
            return menu
        cmd_args = self.schema.args(menu, command)
        parsed = Parsed(menu, command, {}, set(), [], end_col=len(line) + 1)
        rest = tokens[i:]
        j = 0
        while j < len(rest):
            tok = rest[j]
            if tok.kind == "arg" and command == "find":
                parsed.named[tok.name] = (tok.value, tok)
            elif tok.kind == "arg":
                found = match(cmd_args, tok.name)
                if found.kind != "found":
                    raise errors.end_of_command(tok.col)
                if cmd_args[found.name].get("f"):
                    # a flag takes no value: RouterOS points at the "=" (measured on 7.20.8)
                    raise errors.end_of_command(tok.col + len(tok.name))
                value: Any = tok.value
                if tok.value_expr is not None:
                    value = self._substitute(tok.value_expr, menu, session, tok.col)
                    if isinstance(value, list):
                        value = ",".join(f"*{item.id:X}" for item in value)
                parsed.named[found.name] = (value, tok)
            elif tok.kind == "expr":
                parsed.positional.append((self._substitute(tok.text, menu, session, tok.col), tok))
            elif not tok.quoted and tok.text == "where" and "where" in cmd_args:
                parsed.where = line[tok.end:_statement_end(line, tok.end)]
                parsed.where_col = tok.end + 1
                break
            elif not tok.quoted and (found := match({k: v for k, v in cmd_args.items() if v.get("f")},
                                                   tok.text)).kind == "found":
                parsed.flags.add(found.name)
            else:
                parsed.positional.append((tok.text, tok))
            j += 1
        return parsed

    def _statement(self, line: str, tokens: list[Token], session: Session) -> str:
        parsed = self._parse(line, tokens, session)
        if not isinstance(parsed, Parsed):
            session.cwd = parsed
            return ""
        self.device.faults.before_command()
        handler = getattr(self, "_cmd_" + parsed.command.replace("-", "_"), None)
        special = SPECIAL.get((parsed.menu, parsed.command))
        if special:
            return getattr(self, special)(parsed, session)
        if handler is None:
            # a real RouterOS command the simulator does not model: validated, then no effect
            self._positional_to_named(parsed, limit=None)
            return ""
        out = handler(parsed, session) or ""
        if parsed.menu == scheduler.MENU:
            self.device.scheduler.replan(self.device.now())  # added, changed or enabled: planned from now
        return out

    def _substitute(self, text: str, menu: Path, session: Session, col: int) -> Any:
        """``[ find … ]`` → items; ``[ /path get … ]`` → a value."""
        sub = Session(session.user, menu, session.width)
        found = re.match(r"^\s*((?:/?[\w/-]+\s+)*?)find(?:\s+where)?(?=\s|$)(.*)$", text, re.S)
        if found:
            prefix = tokenize(found.group(1))
            path, command, _ = self._resolve(prefix, sub)
            if command is not None:
                raise errors.end_of_command(col)
            cond = found.group(2)
            expr = parse_expression(cond, col + found.start(2) + 1) if cond.strip() else None
            return self.config.find(path, expr)
        tokens = tokenize(text)
        parsed = self._parse(text, tokens, sub)
        if not isinstance(parsed, Parsed):
            raise RouterOSError("expected command name", col)
        if parsed.command == "find":
            return self._find(parsed)
        if parsed.command == "get":
            return self._cmd_get(parsed, sub)
        return self._statement(text, tokens, sub)

    # ---- helpers ----------------------------------------------------------------------------------
    def _find(self, parsed: Parsed) -> list[Item]:
        expr_text = parsed.where
        if expr_text is None:
            # find default-name=ether1 name=x … : each argument is a condition
            conds = []
            for name, (value, _tok) in parsed.named.items():
                conds.append(f'{name}="{_escape(value)}"')
            conds.extend(str(v) for v, _ in parsed.positional)
            conds.extend(parsed.flags)
            expr_text = " and ".join(conds)
            expr = parse_expression(expr_text) if expr_text else None
        else:
            expr = parse_expression(expr_text, parsed.where_col)
        return self.config.find(parsed.menu, expr)

    def _positional_to_named(self, parsed: Parsed, limit: int | None = 1) -> None:
        cmd = self.schema.command(parsed.menu, parsed.command) or {}
        args = cmd.get("a", {})
        order = []
        if "numbers" in args:
            order.append("numbers")
        if parsed.command == "move":
            order.append("destination")
        if parsed.command in ("get", "unset"):
            order.append("value-name")
        order += [r for r in cmd.get("r", []) if r not in order]
        if not order and "number" in args:
            order.append("number")
        # item commands take their numbers (and move its destination) unnamed; others as many
        # unnamed arguments as the tree says (``u``)
        allowed = len(order) if parsed.command in ITEM_COMMANDS or limit else min(len(order), cmd.get("u", 0))
        for n, (value, tok) in enumerate(parsed.positional):
            if n >= allowed:
                raise errors.end_of_command(tok.col)
            parsed.named.setdefault(order[n], (value, tok))
        parsed.positional = []

    def _items(self, parsed: Parsed, key: str = "numbers") -> list[Item]:
        if key not in parsed.named:
            raise errors.missing([key])
        value, _tok = parsed.named[key]
        if isinstance(value, list):
            return value
        return self.config.resolve(parsed.menu, value)

    def _values(self, parsed: Parsed, command: str) -> dict[str, str]:
        """Validated and normalised property values of a command."""
        cmd_args = self.schema.args(parsed.menu, command)
        props: dict[str, str] = {}
        for name, (value, tok) in parsed.named.items():
            if name in NOT_ARGS or not isinstance(value, str):
                continue
            info = cmd_args.get(name, {})
            if not self.schema.check_value(info, name, value):
                raise errors.no_match(name)
            value = self.schema.canonical_set(info, name, value)
            props[name] = values.normalise(name, value, info)
        return props

    # ---- generic item commands -----------------------------------------------------------------------
    def _cmd_add(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed, limit=0)
        menu = parsed.menu
        props = self._values(parsed, "add")
        required = [r for r in self.schema.required(menu, "add") if r not in parsed.named]
        if required:
            raise errors.missing(required)
        config = self.config
        config.check_refs(menu, props)
        config.derive(menu, props)
        if menu == scheduler.MENU:
            scheduler.stamp(props, self.device.now())
        config.check_unique(menu, props)
        m = config.menu(menu)
        item = Item(m.new_id(), props)
        if "place-before" in parsed.named:
            target = self._items(parsed, "place-before")[0]
            m.items.insert(m.items.index(target), item)
        else:
            m.items.append(item)
        return ""

    def _cmd_set(self, parsed: Parsed, session: Session) -> str:
        menu = parsed.menu
        config = self.config
        if config.menu(menu).single:
            if parsed.positional:
                raise errors.end_of_command(parsed.positional[0][1].col)
            props = self._values(parsed, "set")
            config.check_refs(menu, props)
            config.single(menu).props.update(props)
            return ""
        self._positional_to_named(parsed)
        items = self._items(parsed)
        props = self._values(parsed, "set")
        config.check_refs(menu, props)
        for item in items:
            new = dict(item.props)
            new.update(props)
            config.derive(menu, new, item)
            if "name" in props or any(k in props for k in _unique_keys(menu)):
                config.check_unique(menu, new, skip=item)
            old_name = item.props.get("name", "")
            item.props = new
            if "name" in props:
                config.rename(menu, old_name, new["name"])
        return ""

    def _cmd_remove(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        items = self._items(parsed)
        m = self.config.menu(parsed.menu)
        for item in items:
            if not item.removable:
                raise RouterOSError("failure: can not remove built-in item")
        for item in items:
            m.items.remove(item)
        return ""

    def _enable(self, parsed: Parsed, value: str) -> str:
        self._positional_to_named(parsed)
        for item in self._items(parsed):
            item.props["disabled"] = value
        return ""

    def _cmd_enable(self, parsed: Parsed, session: Session) -> str:
        return self._enable(parsed, "no")

    def _cmd_disable(self, parsed: Parsed, session: Session) -> str:
        return self._enable(parsed, "yes")

    def _cmd_comment(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        comment = parsed.named.get("comment", ("", None))[0]
        for item in self._items(parsed):
            item.props["comment"] = comment
        return ""

    def _cmd_unset(self, parsed: Parsed, session: Session) -> str:
        menu = parsed.menu
        self._positional_to_named(parsed)
        names = parsed.named.get("value-name")
        if names is None:
            raise errors.missing(["value-name"])
        allowed = self.schema.args(menu, "unset").get("value-name", {}).get("e")
        items = [self.config.single(menu)] if self.config.menu(menu).single else self._items(parsed)
        for name in str(names[0]).split(","):
            if allowed and name not in allowed:
                raise errors.no_match("value-name")
            for item in items:
                if item.initial is not None and name in item.initial:
                    item.props[name] = item.initial[name]
                else:
                    item.props.pop(name, None)
        return ""

    def _cmd_move(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        m = self.config.menu(parsed.menu)
        items = self._items(parsed)
        dest = self._items(parsed, "destination")[0] if "destination" in parsed.named else None
        for item in items:
            m.items.remove(item)
        index = m.items.index(dest) if dest is not None and dest in m.items else len(m.items)
        m.items[index:index] = items
        return ""

    def _cmd_get(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        config = self.config
        item = config.single(parsed.menu) if config.menu(parsed.menu).single else self._items(parsed)[0]
        name = parsed.named.get("value-name", (None, None))[0]
        props = config.effective(parsed.menu, item)
        if name is None:
            return ";".join(f"{k}={v}" for k, v in props.items())
        if name not in props and name not in self.schema.args(parsed.menu, "set"):
            raise errors.no_match("value-name")
        return props.get(name, "")

    def _cmd_find(self, parsed: Parsed, session: Session) -> str:
        self._find(parsed)
        return ""

    def _cmd_print(self, parsed: Parsed, session: Session) -> str:
        config = self.config
        menu = parsed.menu
        if parsed.positional:
            raise errors.end_of_command(parsed.positional[0][1].col)
        if config.menu(menu).single if menu != ("interface",) else False:
            return printing.print_single(menu, config.effective(menu, config.single(menu)), self.device)
        expr = parse_expression(parsed.where, parsed.where_col) if parsed.where else None
        if menu == ("interface",):
            rows = [(p, i) for p, i in config.interfaces() if expr is None or config.matches(p, i, expr)]
        else:
            rows = [(menu, i) for i in config.find(menu, expr)]
        if menu == ("ip", "route"):
            connected = [i for i in config.connected_routes() if expr is None or config.matches(menu, i, expr)]
            rows += [(menu, i) for i in connected]
        if "count-only" in parsed.flags:
            return str(len(rows))
        return printing.print_items(config, menu, rows, parsed.flags, width=session.width)

    def _cmd_export(self, parsed: Parsed, session: Session) -> str:
        if parsed.positional:
            raise errors.end_of_command(parsed.positional[0][1].col)
        if "file" in parsed.named:
            width = 80
        else:
            width = session.width
        dev = self.device
        text = export.render(dev.config, version=dev.version, menu=parsed.menu, verbose="verbose" in parsed.flags,
                             terse="terse" in parsed.flags, show_sensitive="show-sensitive" in parsed.flags,
                             width=width, now=dev.now(), model=dev.model, serial=dev.serial,
                             software_id=dev.software_id)
        if "file" in parsed.named:
            name = parsed.named["file"][0]
            if not name.endswith(".rsc"):
                name += ".rsc"
            dev.files.write(name, text.encode())
            return ""
        return text.rstrip("\n")

    # ---- special commands -----------------------------------------------------------------------------
    def _cmd_import(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        if "file-name" not in parsed.named:
            raise errors.missing(["file-name"])
        name = parsed.named["file-name"][0]
        data = self.device.files.read(name)
        if data is None:
            raise RouterOSError("failure: no such file")
        if parsed.named.get("dry-run"):
            snap = self.config.snapshot()
            ok, out = self.run_script(data.decode("utf-8", "replace"), Session(session.user, (), 80))
            self.config.restore(snap)
        else:
            ok, out = self.run_script(data.decode("utf-8", "replace"), Session(session.user, (), 80))
        if ok:
            return (out + "\n" if out else "") + "\nScript file loaded and executed successfully"
        return out

    def _cmd_put(self, parsed: Parsed, session: Session) -> str:
        return " ".join(str(v) if not isinstance(v, list) else ";".join(f"*{i.id:X}" for i in v)
                        for v, _ in parsed.positional)

    def _cmd_delay(self, parsed: Parsed, session: Session) -> str:
        return ""

    def _cmd_quit(self, parsed: Parsed, session: Session) -> str:
        raise QuitSession()

    def _sys_reboot(self, parsed: Parsed, session: Session) -> str:
        self.device.reboot(keep_state=True)
        raise QuitSession()

    def _sys_reset(self, parsed: Parsed, session: Session) -> str:
        self._values(parsed, "reset-configuration")
        blank = parsed.named.get("no-defaults", ("no",))[0] == "yes"
        self.device.reset_configuration(blank=blank)
        raise QuitSession()

    def _backup_save(self, parsed: Parsed, session: Session) -> str:
        self._values(parsed, "save")
        name = parsed.named.get("name", (None,))[0] or f"{self.device.identity}-{self.device.now():%Y%m%d-%H%M}"
        if not name.endswith(".backup"):
            name += ".backup"
        self.device.files.write(name, self.device.backup_bytes())
        return "Configuration backup saved"

    def _backup_load(self, parsed: Parsed, session: Session) -> str:
        name = parsed.named.get("name", (None,))[0]
        if name is None:
            raise errors.missing(["name"])
        data = self.device.files.read(name if name.endswith(".backup") else name + ".backup")
        if data is None:
            raise RouterOSError("failure: no such file")
        self.device.load_backup(data)
        raise QuitSession()

    def _script_run(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        key = "number" if "number" in parsed.named else "numbers"
        items = self._items(parsed, key)
        source = self.config.effective(("system", "script"), items[0]).get("source", "")
        ok, out = self.run_script(source, Session(session.user, (), session.width))
        return out

    def _file_print(self, parsed: Parsed, session: Session) -> str:
        expr = parse_expression(parsed.where, parsed.where_col) if parsed.where else None
        return printing.print_files(self.device, expr, parsed.flags)

    def _file_remove(self, parsed: Parsed, session: Session) -> str:
        self._positional_to_named(parsed)
        value = parsed.named.get("numbers", (None,))[0]
        if value is None:
            raise errors.missing(["numbers"])
        for name in str(value).split(","):
            if not self.device.files.remove(name):
                raise RouterOSError(NO_SUCH_ITEM)
        return ""

    def _resource_print(self, parsed: Parsed, session: Session) -> str:
        return printing.print_resource(self.device)

    def _routerboard_print(self, parsed: Parsed, session: Session) -> str:
        return printing.print_routerboard(self.device)


class QuitSession(Exception):
    """The session ends (``quit``, reboot, reset)."""


SPECIAL: dict[tuple[Path, str], str] = {
    (("system",), "reboot"): "_sys_reboot",
    (("system",), "reset-configuration"): "_sys_reset",
    (("system", "backup"), "save"): "_backup_save",
    (("system", "backup"), "load"): "_backup_load",
    (("system", "script"), "run"): "_script_run",
    (("file",), "print"): "_file_print",
    (("file",), "remove"): "_file_remove",
    (("system", "resource"), "print"): "_resource_print",
    (("system", "routerboard"), "print"): "_routerboard_print",
}


def _statement_end(line: str, start: int) -> int:
    """End of a where-clause: the next ``;`` outside quotes."""
    in_quote = False
    i = start
    while i < len(line):
        ch = line[i]
        if ch == "\\" and in_quote:
            i += 2
            continue
        if ch == '"':
            in_quote = not in_quote
        elif ch == ";" and not in_quote:
            return i
        i += 1
    return len(line)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _unique_keys(menu: Path) -> tuple[str, ...]:
    from desa.routeros.state import UNIQUE_KEYS
    return UNIQUE_KEYS.get(menu, ((), ""))[0]


__all__ = ["Interpreter", "Session", "QuitSession"]
