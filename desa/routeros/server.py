"""An asyncssh server hosting many simulated RouterOS routers in one process.

Each device listens on its own address/port with its own state and file store. The session behaves
as RouterOS's SSH server does for netmiko ``mikrotik_routeros`` and scrapli: ``SSH-2.0-ROSSSH``
banner, ``user+ct511w4098h`` login options, RouterOS banner and prompts (``[admin@R1] > ``,
``[admin@R1] /ip address> ``), byte-wise echo, ``\\r``/``\\r\\n``/``\\n`` as Enter, Ctrl-C, ``quit``, an
exec channel (``ssh admin@r /export``), SCP and SFTP into the device's file store, and optional
first-login screens.

Each router keeps its own clock: the server ticks every device's `/system scheduler` twice a second
(`run_clock`), so an armed event runs with nobody connected. New connections are let in only as
`/ip service ssh` allows (enabled, source inside its `address` list); a refused peer sees the
connection closed before the SSH banner, as RouterOS does.

``SimulatorServer`` is the asyncio API; ``RouterSimulator.start_in_thread(devices=[DeviceSpec(...)])``
runs it on a background thread for pytest fixtures and the lab.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path as FsPath

import asyncssh

from desa.routeros.device import Device
from desa.routeros.interpreter import QuitSession, Session

BANNER = """\r
\r
\r
\r
  MMM      MMM       KKK                          TTTTTTTTTTT      KKK\r
  MMMM    MMMM       KKK                          TTTTTTTTTTT      KKK\r
  MMM MMMM MMM  III  KKK  KKK  RRRRRR     OOOOOO      TTT     III  KKK  KKK\r
  MMM  MM  MMM  III  KKKKK     RRR  RRR  OOO  OOO     TTT     III  KKKKK\r
  MMM      MMM  III  KKK KKK   RRRRRR    OOO  OOO     TTT     III  KKK KKK\r
  MMM      MMM  III  KKK  KKK  RRR  RRR   OOOOOO      TTT     III  KKK  KKK\r
\r
  MikroTik RouterOS {version} (c) 1999-2024       https://www.mikrotik.com/\r
\r
\r
Press F1 for help\r
\r
"""
FIRST_LOGIN = ('\r\nDo you want to see the software license? [Y/n]: ')
DEFAULT_CONFIG_NOTICE = ('\r\nRouterMode:\r\n * WAN port is protected by firewall and enabled DHCP client\r\n'
                         ' * Ethernet interfaces (except WAN port/s) are part of LAN bridge\r\n'
                         'You can remove this default configuration type "r" or press any key to continue.\r\n'
                         'If you are connecting to the router by IP then please reconnect after removal.\r\n'
                         'You can click on "Remove Configuration" in the WebFig to remove it.\r\n'
                         'To remove this default configuration type "r" and press Enter')
NEW_PASSWORD = "\r\nChange your password\r\n\r\nnew password> "

_HOST_KEY: asyncssh.SSHKey | None = None
TICK = 0.5  # seconds between two scheduler ticks
log = logging.getLogger(__name__)


def host_key() -> asyncssh.SSHKey:
    global _HOST_KEY
    if _HOST_KEY is None:
        _HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
    return _HOST_KEY


@dataclass
class DeviceSpec:
    identity: str = "MikroTik"
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (read it back from the handle)
    username: str = "admin"
    password: str = ""
    blank: bool = False
    version: str = "7.16"
    model: str = "RB750Gr3"
    ethernet: int = 5
    first_login: bool = False  # show the licence / new-password screens at the first login
    files_root: str | None = None


@dataclass
class HostedDevice:
    spec: DeviceSpec
    device: Device
    server: asyncssh.SSHAcceptor | None = None
    sessions: int = 0

    @property
    def port(self) -> int:
        return self.spec.port


def parse_login(username: str) -> tuple[str, dict[str, str]]:
    """``admin+ct511w4098h`` → ("admin", {"c": "", "t": "", "w": "511", "h": "4098"})."""
    user, plus, opts = username.partition("+")
    options: dict[str, str] = {}
    for num, letter in re.findall(r"(\d*)([a-z])", opts if plus else ""):
        options[letter] = num
    return user, options


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, hosted: HostedDevice) -> None:
        self.hosted = hosted

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = (conn.get_extra_info("peername") or ("",))[0]
        if peer and not self.hosted.device.allows("ssh", peer):
            conn.abort()  # RouterOS closes a connection its service does not allow

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.hosted.device.check_password(parse_login(username)[0], password)

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        return "", "", "", [("Password: ", False)]

    def validate_kbdint_response(self, username, responses):
        return len(responses) == 1 and self.hosted.device.check_password(parse_login(username)[0], responses[0])


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "replace")


def prompt(session: Session, identity: str) -> str:
    menu = ("/" + " ".join(session.cwd)) if session.cwd else ""
    return f"[{session.user}@{identity}] {menu}> " if menu else f"[{session.user}@{identity}] > "


async def _handle(process: asyncssh.SSHServerProcess, hosted: HostedDevice) -> None:
    device = hosted.device
    user, options = parse_login(process.get_extra_info("username") or "admin")
    size = process.get_terminal_size()
    width = int(options["w"]) if options.get("w") else (size[0] if size and size[0] else 80)
    session = Session(user=user, width=width)
    conn = process.get_extra_info("connection")
    closer = conn.abort
    device.session_closers.add(closer)
    hosted.sessions += 1
    count = 0
    try:
        if process.command is not None:
            # exec channel: run the command(s), print, exit
            for line in process.command.replace("\r", "\n").split("\n"):
                if not line.strip():
                    continue
                if device.faults.delay:
                    await asyncio.sleep(device.faults.delay)
                try:
                    out = device.run(line, session)
                except QuitSession:
                    break
                if out:
                    process.stdout.write(_crlf(out + "\n"))
            process.exit(0)
            return
        process.stdout.write(_crlf(BANNER.format(version=device.version)))
        if device.first_login:
            device.first_login = False
            if not await _first_login(process, device):
                return
        process.stdout.write(prompt(session, device.identity).encode())
        line = bytearray()
        last_cr = False
        while True:
            data = await process.stdin.read(4096)
            if not data:
                break
            for byte in data:
                ch = bytes([byte])
                if ch == b"\n" and last_cr:
                    last_cr = False
                    continue
                last_cr = ch == b"\r"
                if ch in (b"\r", b"\n"):
                    text = line.decode("utf-8", "replace")
                    line.clear()
                    process.stdout.write(b"\r\n")
                    if text.strip():
                        count += 1
                        limit = device.faults.drop_after_commands
                        if limit is not None and count > limit:
                            conn.abort()
                            return
                        if device.faults.delay:
                            await asyncio.sleep(device.faults.delay)
                        try:
                            out = device.run(text, session)
                        except QuitSession:
                            process.stdout.write(b"interrupted\r\n")
                            process.exit(0)
                            return
                        if out:
                            process.stdout.write(_crlf(out + "\n"))
                    process.stdout.write(prompt(session, device.identity).encode())
                elif ch == b"\x03":
                    line.clear()
                    process.stdout.write(b"\r\n" + prompt(session, device.identity).encode())
                elif ch == b"\x04" and not line:
                    process.exit(0)
                    return
                elif ch in (b"\x7f", b"\x08"):
                    if line:
                        line.pop()
                        process.stdout.write(b"\x08 \x08")
                elif byte >= 32 or ch == b"\t":
                    line += ch
                    process.stdout.write(ch)
    except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged):
        pass
    except (ConnectionError, asyncssh.Error, BrokenPipeError):
        pass
    finally:
        device.session_closers.discard(closer)
        hosted.sessions -= 1
        try:
            process.exit(0)
        except Exception:  # noqa: BLE001 - channel already gone
            pass


async def _first_login(process: asyncssh.SSHServerProcess, device: Device) -> bool:
    """RouterOS's first-login screens: licence question, default-configuration notice, new password."""

    async def read_line() -> str | None:
        buf = b""
        while True:
            data = await process.stdin.read(1)
            if not data:
                return None
            if data in (b"\r", b"\n", b"\x03"):
                if data == b"\x03":
                    return "\x03"
                return buf.decode()
            if data in (b"n", b"N", b"y", b"Y") and not buf:
                return data.decode()
            buf += data

    process.stdout.write(FIRST_LOGIN.encode())
    if await read_line() is None:
        return False
    if not device.blank:
        process.stdout.write(_crlf(DEFAULT_CONFIG_NOTICE))
        answer = await read_line()
        if answer is None:
            return False
        if answer.strip() == "r":
            device.reset_configuration(blank=True)
    process.stdout.write(NEW_PASSWORD.encode())
    answer = await read_line()
    if answer is None:
        return False
    process.stdout.write(b"\r\n")
    return True


class SimulatorServer:
    """Hosts simulated routers on one asyncio loop."""

    def __init__(self) -> None:
        self.hosted: dict[str, HostedDevice] = {}
        self.started = False
        self._clock: asyncio.Task | None = None

    async def add_device(self, spec: DeviceSpec) -> Device:
        if spec.identity in self.hosted:
            raise ValueError(f"device {spec.identity!r} already hosted")
        device = Device(spec.identity, username=spec.username, password=spec.password, blank=spec.blank,
                        version=spec.version, model=spec.model, ethernet=spec.ethernet,
                        files_root=FsPath(spec.files_root) if spec.files_root else None,
                        first_login=spec.first_login)
        hosted = HostedDevice(spec, device)
        self.hosted[spec.identity] = hosted
        if self.started:
            await self._listen(hosted)
        return device

    async def _listen(self, hosted: HostedDevice) -> None:
        files_root = str(hosted.device.files.root)

        def sftp_factory(chan):
            return asyncssh.SFTPServer(chan, chroot=files_root.encode())

        async def process_factory(process):
            await _handle(process, hosted)

        hosted.server = await asyncssh.create_server(
            lambda: _SSHServer(hosted), hosted.spec.host, hosted.spec.port,
            server_host_keys=[host_key()], server_version="ROSSSH", process_factory=process_factory,
            encoding=None, line_editor=False, sftp_factory=sftp_factory, allow_scp=True,
            keepalive_interval=0, login_timeout=30)
        if hosted.spec.port == 0:
            hosted.spec.port = hosted.server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self.started = True
        await asyncio.gather(*(self._listen(h) for h in self.hosted.values() if h.server is None))
        self.run_clock()

    def run_clock(self) -> None:
        """Tick every device's scheduler on this loop (idempotent)."""
        if self._clock is None or self._clock.done():
            self._clock = asyncio.get_running_loop().create_task(self._ticks())

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            for hosted in list(self.hosted.values()):
                try:
                    hosted.device.tick()
                except Exception:  # noqa: BLE001 - one router's broken event must not stop the others' clocks
                    log.exception("scheduler of %s", hosted.spec.identity)

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None
        for hosted in self.hosted.values():
            hosted.device.drop_sessions()
            if hosted.server is not None:
                hosted.server.close()
                await hosted.server.wait_closed()
                hosted.server = None
            hosted.device.close()
        self.started = False

    def device(self, identity: str) -> Device:
        return self.hosted[identity].device


class RouterSimulator:
    """A :class:`SimulatorServer` running on its own thread; usable from synchronous code."""

    def __init__(self) -> None:
        self.server = SimulatorServer()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="routeros-simulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @classmethod
    def start_in_thread(cls, devices: list[DeviceSpec] | None = None) -> RouterSimulator:
        sim = cls()
        sim._thread.start()
        for spec in devices or []:
            sim._call(sim.server.add_device(spec))
        sim._call(sim.server.start())
        return sim

    def add_device(self, spec: DeviceSpec) -> Device:
        return self._call(self.server.add_device(spec))

    def device(self, identity: str) -> Device:
        return self.server.device(identity)

    def spec(self, identity: str) -> DeviceSpec:
        return self.server.hosted[identity].spec

    def port(self, identity: str) -> int:
        return self.server.hosted[identity].spec.port

    @property
    def identities(self) -> list[str]:
        return list(self.server.hosted)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self._call(self.server.stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()

    def __enter__(self) -> RouterSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["DeviceSpec", "SimulatorServer", "RouterSimulator", "HostedDevice", "parse_login", "prompt"]
