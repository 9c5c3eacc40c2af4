"""A netmiko session to a RouterOS router that fails loudly on every RouterOS error.

RouterOS answers errors as text after the command; netmiko's `send_command` would call that
success. `RouterOSSession.send` checks the output against `ERROR_PATTERN` (every RouterOS error
wording we know) and raises `RouterOSError`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from desa.errors import DesaError

# RouterOS error wordings (CLI): each one means the command did nothing.
ERROR_WORDINGS = [
    r"bad command name",
    r"syntax error",
    r"expected end of command",
    r"expected command name",
    r"expected closing (?:brace|bracket|quote)",
    r"failure:",
    r"no such item",
    r"no such command",
    r"invalid value",
    r"invalid internal item number",
    r"input does not match any value",
    r"value of \S+ (?:must|out of range|expects)",
    r"missing value\(s\) of argument",
    r"ambiguous value",
    r"ambiguous command name",
    r"unknown parameter",
    r"already have",
    r"not enough permissions",
    r"could not (?:resolve|find|load)",
    r"^\s*error\b",
    r"action cancelled",
    r"script error",  # `/import` of a script that fails (older v7 and v6 wording)
    r"invalid time",
    r"invalid argument",
]
ERROR_PATTERN = re.compile("|".join(f"(?:{w})" for w in ERROR_WORDINGS), re.IGNORECASE | re.MULTILINE)


# Any RouterOS CLI prompt at the end of the buffer: `[user@identity] > `, `[user@identity] /ip address> `.
ANY_PROMPT = r"\[[^\]\r\n@]+@[^\]\r\n]*\] (?:/[^>\r\n]*)?>[ \t]*$"


def _strip_prompt_line(output: str) -> str:
    lines = output.rstrip().splitlines()
    if lines and re.fullmatch(ANY_PROMPT, lines[-1].rstrip() + " "):
        lines = lines[:-1]
    return "\n".join(lines)


class RouterOSError(DesaError):
    """RouterOS refused a command (its own message is kept)."""

    def __init__(self, command: str, output: str):
        self.command = command
        self.output = output.strip()
        super().__init__(f"RouterOS rejected `{_short(command)}`: {self.output}")


def _short(command: str, limit: int = 160) -> str:
    """Commands here carry `<secret:REF>` placeholders, never secret values."""
    return command if len(command) <= limit else command[:limit] + "…"


def check_output(command: str, output: str) -> str:
    if ERROR_PATTERN.search(output):
        raise RouterOSError(command, output)
    return output


def resolve_secrets(command: str) -> str:
    """Replace `<secret:REF>` placeholders (inside a quoted value) with the escaped secret value."""
    from desa.network.desired import SECRET_CLOSE, SECRET_OPEN
    from desa.network.quoting import quote

    pattern = re.compile(re.escape(SECRET_OPEN) + r"(secret:[a-z0-9][a-z0-9_./-]*)" + re.escape(SECRET_CLOSE))
    if not pattern.search(command):
        return command
    from desa import secrets

    return pattern.sub(lambda m: quote(secrets.resolve(m.group(1)))[1:-1], command)


class SessionDropped(EOFError):
    """The router closed the SSH session (reboot, backup load, a dropped link)."""


def _fail_fast_on_close(conn) -> None:
    """netmiko reads an empty string from a closed channel and waits for its read timeout; raise
    at once instead, so a session the router drops fails the command now, not 30 s later."""
    channel = getattr(conn, "channel", None)
    read = getattr(channel, "read_channel", None)
    if read is None:
        return

    def read_or_fail() -> str:
        data = read()
        remote = conn.remote_conn
        if not data and remote is not None and (remote.closed or remote.eof_received) and not remote.recv_ready():
            raise SessionDropped("the router closed the session")
        return data

    channel.read_channel = read_or_fail


class RouterOSSession:
    """One SSH CLI session (netmiko `mikrotik_routeros`)."""

    def __init__(self, conn, *, timeout: float = 30.0):
        self.conn = conn
        self.timeout = timeout
        _fail_fast_on_close(conn)

    def send(self, command: str, *, timeout: float | None = None) -> str:
        """Run one absolute, one-line command; raise RouterOSError if RouterOS prints an error."""
        if "\n" in command or "\r" in command:
            raise ValueError("RouterOS commands are sent one line at a time")
        real = resolve_secrets(command)
        # The prompt is known (absolute commands never change it; `send_last` re-reads it): no
        # `find_prompt` round trip (~0.5 s) per command.
        root_prompt = re.escape(self.conn.base_prompt) + r" >[ \t]*$"  # base_prompt: `[user@identity]`
        output = self.conn.send_command(real, expect_string=root_prompt, read_timeout=timeout or self.timeout,
                                        strip_prompt=True, strip_command=True)
        return check_output(command, output)

    def send_last(self, command: str) -> str:
        """A command that changes the prompt (identity): don't wait for the old prompt."""
        real = resolve_secrets(command)
        output = self.conn.send_command(real, expect_string=ANY_PROMPT, read_timeout=self.timeout,
                                        strip_prompt=False, strip_command=True)
        self.conn.set_base_prompt()
        output = _strip_prompt_line(output)
        return check_output(command, output)

    def export(self, menu: str = "", *, terse: bool = True) -> str:
        cmd = f"{menu} export".strip() if menu else "/export"
        if terse:
            cmd += " terse"
        return self.send(cmd, timeout=max(self.timeout, 60))

    @property
    def local_address(self) -> str | None:
        try:
            return self.conn.remote_conn.get_transport().sock.getsockname()[0]
        except Exception:  # noqa: BLE001 - only a hint for the management allow-list
            return None

    def close(self) -> None:
        try:
            self.conn.disconnect()
        except Exception:  # noqa: BLE001 - the session may already be gone
            pass


def connect(host: str, port: int, username: str, password: str, *, timeout: float = 30.0,
            conn_timeout: float = 10.0) -> RouterOSSession:
    from netmiko import ConnectHandler

    conn = ConnectHandler(
        device_type="mikrotik_routeros", host=host, port=port, username=username, password=password,
        timeout=timeout, conn_timeout=conn_timeout, auth_timeout=conn_timeout, banner_timeout=conn_timeout,
        session_timeout=timeout, fast_cli=False, allow_agent=False, use_keys=False,
    )
    return RouterOSSession(conn, timeout=timeout)


@contextmanager
def open_router(intent, *, host: str | None = None, port: int | None = None,
                timeout: float = 30.0) -> Iterator[RouterOSSession]:
    """A session to the site's router (password from `desa.secrets`)."""
    from desa import secrets

    session = connect(host or str(intent.router.address), port or intent.router.port,
                      intent.router.username, secrets.resolve(intent.router.password), timeout=timeout)
    try:
        yield session
    finally:
        session.close()
