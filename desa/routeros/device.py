"""One simulated RouterOS 7 router: configuration, users, file store, clock, scheduler, services
and fault switches."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path as FsPath
from typing import Callable

from desa.routeros.interpreter import Interpreter, Session
from desa.routeros.scheduler import Scheduler
from desa.routeros.schema import Schema, default_schema
from desa.routeros.state import Config, Item, Menu

# RouterOS's default configuration for a small router without wireless (ether1 = WAN, the rest
# bridged as LAN), as ``/system default-configuration print`` shows it, reduced to what matters.
DEFCONF = r"""
/interface bridge add name=bridge comment=defconf
/interface list add name=WAN comment=defconf
/interface list add name=LAN comment=defconf
/ip pool add name=default-dhcp ranges=192.168.88.10-192.168.88.254
/ip dhcp-server add name=defconf address-pool=default-dhcp interface=bridge
/interface bridge port add bridge=bridge interface=ether2 comment=defconf
/interface bridge port add bridge=bridge interface=ether3 comment=defconf
/interface bridge port add bridge=bridge interface=ether4 comment=defconf
/interface bridge port add bridge=bridge interface=ether5 comment=defconf
/ip neighbor discovery-settings set discover-interface-list=LAN
/interface list member add list=LAN interface=bridge comment=defconf
/interface list member add list=WAN interface=ether1 comment=defconf
/ip address add address=192.168.88.1/24 interface=bridge comment=defconf
/ip dhcp-client add interface=ether1 comment=defconf
/ip dhcp-server network add address=192.168.88.0/24 gateway=192.168.88.1 dns-server=192.168.88.1 comment=defconf
/ip dns set allow-remote-requests=yes
/ip dns static add name=router.lan address=192.168.88.1 type=A comment=defconf
/ip firewall filter add chain=input action=accept connection-state=established,related,untracked comment="defconf: accept established,related,untracked"
/ip firewall filter add chain=input action=drop connection-state=invalid comment="defconf: drop invalid"
/ip firewall filter add chain=input action=accept protocol=icmp comment="defconf: accept ICMP"
/ip firewall filter add chain=input action=accept dst-address=127.0.0.1 comment="defconf: accept to local loopback (for CAPsMAN)"
/ip firewall filter add chain=input action=drop in-interface-list=!LAN comment="defconf: drop all not coming from LAN"
/ip firewall filter add chain=forward action=accept ipsec-policy=in,ipsec comment="defconf: accept in ipsec policy"
/ip firewall filter add chain=forward action=accept ipsec-policy=out,ipsec comment="defconf: accept out ipsec policy"
/ip firewall filter add chain=forward action=fasttrack-connection connection-state=established,related comment="defconf: fasttrack"
/ip firewall filter add chain=forward action=accept connection-state=established,related,untracked comment="defconf: accept established,related, untracked"
/ip firewall filter add chain=forward action=drop connection-state=invalid comment="defconf: drop invalid"
/ip firewall filter add chain=forward action=drop connection-state=new connection-nat-state=!dstnat in-interface-list=WAN comment="defconf: drop all from WAN not DSTNATed"
/ip firewall nat add chain=srcnat action=masquerade out-interface-list=WAN ipsec-policy=out,none comment="defconf: masquerade"
/tool mac-server set allowed-interface-list=LAN
/tool mac-server mac-winbox set allowed-interface-list=LAN
"""

BACKUP_MAGIC = b"DESA-ROS-BACKUP 1\n"


@dataclass
class Faults:
    """Switches tests flip to make the router misbehave."""

    drop_after_commands: int | None = None  # close a session after this many commands
    delay: float = 0.0  # seconds before each answer
    refuse_login: bool = False  # every login fails

    def before_command(self) -> None:  # hook kept for the interpreter; the server counts commands
        return None


class FileStore:
    """The router's files, on disk so that SFTP/SCP serve them (``flash/`` as on RouterBOARDs)."""

    def __init__(self, root: FsPath | None = None) -> None:
        self._owned = root is None
        self.root = FsPath(root or tempfile.mkdtemp(prefix="desa-ros-"))
        (self.root / "flash").mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> FsPath:
        clean = name.strip().lstrip("/")
        target = (self.root / clean).resolve()
        if self.root.resolve() not in target.parents and target != self.root.resolve():
            raise ValueError(name)
        return target

    def read(self, name: str) -> bytes | None:
        try:
            path = self._path(name)
        except ValueError:
            return None
        return path.read_bytes() if path.is_file() else None

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def remove(self, name: str) -> bool:
        try:
            path = self._path(name)
        except ValueError:
            return False
        if path.is_file():
            path.unlink()
            return True
        return False

    def listing(self) -> list[dict[str, str]]:
        rows = []
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
            if path.is_dir():
                rows.append({"name": rel, "type": "directory", "last-modified": stamp})
            else:
                suffix = path.suffix.lstrip(".")
                kind = {"rsc": "script", "backup": "backup", "txt": ".txt file"}.get(suffix, f".{suffix} file" if suffix else "file")
                rows.append({"name": rel, "type": kind, "size": str(path.stat().st_size), "last-modified": stamp})
        return rows

    def free_space(self) -> int:
        used = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        return max(0, 128 * 1024 * 1024 - 40 * 1024 * 1024 - used)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "flash").mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class User:
    name: str
    password: str
    group: str = "full"


class Device:
    """A simulated router. Thread-safe: every command runs under the device lock."""

    def __init__(self, identity: str = "MikroTik", *, username: str = "admin", password: str = "",
                 blank: bool = False, version: str = "7.16", model: str = "RB750Gr3", ethernet: int = 5,
                 files_root: FsPath | None = None, schema: Schema | None = None,
                 first_login: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        self.schema = schema or default_schema()
        self.version = version
        self.model = model
        self.ethernet = ethernet
        self.blank = blank
        self.first_login = first_login
        self.initial_identity = identity
        digest = hashlib.sha1(identity.encode()).hexdigest().upper()
        self.serial = "HG" + digest[:9]
        self.software_id = f"{digest[10:14]}-{digest[14:18]}"
        self.build_time = "2024-09-20 13:00:27"
        self.users: dict[str, User] = {}
        self.admin = User(username, password)
        self.files = FileStore(files_root)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.interpreter = Interpreter(self)
        self._clock = clock
        self.booted = time.monotonic()
        self.boots = 1
        self.session_closers: set[Callable[[], None]] = set()
        self.history: list[str] = []
        self._build(blank)
        self.scheduler = Scheduler(self)

    # ---- configuration ----------------------------------------------------------------------------
    def _build(self, blank: bool) -> None:
        self.config = Config(self.schema, self.initial_identity, self.ethernet, seed=self.serial)
        menu = self.config.menu(("user",))
        menu.items.append(Item(menu.new_id(), {"name": self.admin.name, "group": self.admin.group,
                                               "password": self.admin.password}))
        if not blank:
            ok, out = self.interpreter.run_script(DEFCONF, Session())
            assert ok, out

    @property
    def identity(self) -> str:
        return self.config.identity

    def now(self) -> datetime:
        return self._clock() if self._clock else datetime.now().replace(microsecond=0)

    def uptime(self) -> float:
        return time.monotonic() - self.booted

    def free_memory(self) -> int:
        return 196 * 1024 * 1024 + 734003

    def check_password(self, username: str, password: str) -> bool:
        if self.faults.refuse_login:
            return False
        with self.lock:
            for item in self.config.menu(("user",)).items:
                if item.props.get("name") == username and not item.disabled:
                    return item.props.get("password", "") == password
        return False

    def allows(self, service: str, peer: str) -> bool:
        """Whether `/ip service` lets a new connection from `peer` in: the service is enabled and
        its `address` list (empty: anyone) holds the address. Sessions already open stay open."""
        with self.lock:
            item = next((i for i in self.config.menu(("ip", "service")).items if i.props.get("name") == service), None)
            if item is None or item.disabled:
                return False
            allowed = [a.strip() for a in item.props.get("address", "").split(",") if a.strip()]
        if not allowed:
            return True
        address = ipaddress.ip_address(peer.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in ipaddress.ip_network(a, strict=False) for a in allowed)

    def tick(self, now: datetime | None = None) -> list[str]:
        """Let the clock reach `now`: run the scheduler events that are due (their names)."""
        return self.scheduler.tick(now)

    def run(self, line: str, session: Session | None = None) -> str:
        """Run one command line (as typed at the prompt) and return what RouterOS prints."""
        with self.lock:
            self.history.append(line)
            return self.interpreter.run_line(line, session or Session())

    def run_script(self, text: str) -> tuple[bool, str]:
        with self.lock:
            return self.interpreter.run_script(text, Session())

    def export(self, *args: str) -> str:
        return self.run("/export " + " ".join(args))

    # ---- lifecycle -------------------------------------------------------------------------------
    def drop_sessions(self) -> None:
        for close in list(self.session_closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - a closing session may already be gone
                pass

    def reboot(self, keep_state: bool = True) -> None:
        """Drop every session; with ``keep_state=False`` come back with the factory configuration."""
        with self.lock:
            if not keep_state:
                self._build(self.blank)
            self._booted()
        self.drop_sessions()

    def reset_configuration(self, blank: bool = False) -> None:
        with self.lock:
            self.blank = blank
            self._build(blank)
            self._booted()

    def backup_bytes(self) -> bytes:
        with self.lock:
            menus = []
            for path, menu in self.config.menus.items():
                menus.append({"path": list(path), "single": menu.single, "next_id": menu.next_id,
                              "items": [{"id": i.id, "props": i.props, "initial": i.initial, "default": i.default,
                                         "dynamic": i.dynamic, "removable": i.removable} for i in menu.items]})
            return BACKUP_MAGIC + json.dumps({"version": self.version, "menus": menus}).encode()

    def load_backup(self, data: bytes) -> None:
        if not data.startswith(BACKUP_MAGIC):
            from desa.routeros.errors import RouterOSError
            raise RouterOSError("failure: backup file is corrupted")
        doc = json.loads(data[len(BACKUP_MAGIC):])
        with self.lock:
            menus = {}
            for m in doc["menus"]:
                menu = Menu(tuple(m["path"]), m["single"], next_id=m["next_id"])
                menu.items = [Item(i["id"], i["props"], i["initial"], i["default"], i["dynamic"], i["removable"])
                              for i in m["items"]]
                menus[menu.path] = menu
            self.config.menus = menus
            self._booted()
        self.drop_sessions()

    def _booted(self) -> None:
        self.booted = time.monotonic()
        self.boots += 1
        self.scheduler.boot()

    def close(self) -> None:
        self.files.close()
