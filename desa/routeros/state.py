"""Configuration state of one simulated router: menus of items, factory objects and the rules
RouterOS enforces (unique names, no duplicate address, references that must exist, renames that
follow references)."""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field

from desa.routeros import scheduler, values
from desa.routeros.errors import NO_SUCH_ITEM, RouterOSError, no_match
from desa.routeros.parser import BoolOp, Cmp, Expr
from desa.routeros.schema import Schema

Path = tuple[str, ...]

# -----------------------------------------------------------------------------------------------
# Data: what RouterOS has before anyone configures it
# -----------------------------------------------------------------------------------------------

SERVICES = [("telnet", "23"), ("ftp", "21"), ("www", "80"), ("ssh", "22"), ("www-ssl", "443"),
            ("api", "8728"), ("winbox", "8291"), ("api-ssl", "8729")]
QUEUE_TYPES = [("default", "pfifo"), ("ethernet-default", "pfifo"), ("wireless-default", "sfq"),
               ("synchronous-default", "red"), ("hotspot-default", "sfq"), ("pcq-upload-default", "pcq"),
               ("pcq-download-default", "pcq"), ("only-hardware-queue", "none"),
               ("multi-queue-ethernet-default", "mq-pfifo"), ("default-small", "pfifo")]
SERVICE_PORTS = ["ftp", "tftp", "irc", "h323", "sip", "pptp", "rtsp", "udplite", "dccp", "sctp"]

# Single-object menus and the values they start with (defaults: hidden in export).
SINGLE_INITIAL: dict[Path, dict[str, str]] = {
    ("system", "identity"): {"name": "MikroTik"},
    ("ip", "dns"): {"servers": "", "allow-remote-requests": "no", "cache-size": "2048KiB", "cache-max-ttl": "1w",
                    "max-udp-packet-size": "4096", "query-server-timeout": "2s", "query-total-timeout": "10s",
                    "use-doh-server": "", "verify-doh-cert": "no"},
    ("system", "ntp", "client"): {"enabled": "no", "mode": "unicast", "servers": ""},
    ("system", "clock"): {"time-zone-autodetect": "yes", "time-zone-name": "manual"},
    ("ip", "neighbor", "discovery-settings"): {"discover-interface-list": "all", "protocol": "cdp,lldp,mndp"},
    ("tool", "mac-server"): {"allowed-interface-list": "all"},
    ("tool", "mac-server", "mac-winbox"): {"allowed-interface-list": "all"},
    ("system", "note"): {"show-at-login": "yes", "note": ""},
    ("ip", "settings"): {"ip-forward": "yes", "rp-filter": "no"},
    ("ip", "firewall", "connection", "tracking"): {"enabled": "auto", "udp-timeout": "30s"},
}

# Values of a newly added item that RouterOS does not repeat in an export.
ADD_DEFAULTS: dict[Path, dict[str, str]] = {
    ("interface", "bridge"): {"mtu": "auto", "protocol-mode": "rstp", "vlan-filtering": "no", "pvid": "1",
                              "arp": "enabled", "igmp-snooping": "no", "fast-forward": "yes",
                              "frame-types": "admit-all", "ingress-filtering": "yes", "auto-mac": "yes"},
    ("interface", "bridge", "port"): {"pvid": "1", "frame-types": "admit-all", "ingress-filtering": "yes",
                                      "hw": "yes", "edge": "auto", "horizon": "none", "trusted": "no"},
    ("interface", "bridge", "vlan"): {"tagged": "", "untagged": ""},
    ("interface", "vlan"): {"mtu": "1500", "arp": "enabled", "use-service-tag": "no"},
    ("interface", "list"): {"include": "", "exclude": ""},
    ("interface", "wireguard", "peers"): {"endpoint-address": "", "endpoint-port": "0",
                                          "persistent-keepalive": "0s"},
    ("ip", "dhcp-server"): {"lease-time": "30m", "address-pool": "static-only", "authoritative": "yes"},
    ("ip", "dhcp-client"): {"use-peer-dns": "yes", "use-peer-ntp": "yes", "add-default-route": "yes"},
    ("ip", "hotspot"): {"addresses-per-mac": "unlimited", "profile": "default", "idle-timeout": "5m"},
    ("ip", "hotspot", "user"): {"profile": "default"},
    ("ip", "hotspot", "walled-garden"): {"action": "allow"},
    ("queue", "simple"): {"max-limit": "0/0", "limit-at": "0/0", "parent": "none", "priority": "8/8",
                          "queue": "default-small/default-small", "burst-limit": "0/0",
                          "burst-threshold": "0/0", "burst-time": "0s/0s", "bucket-size": "0.1/0.1"},
    ("system", "scheduler"): {"interval": "0s", "on-event": "",
                              "policy": "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon"},
    ("system", "script"): {"dont-require-permissions": "no", "owner": "admin", "source": "",
                           "policy": "ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon"},
    ("user",): {"address": "", "disabled": "no"},
}
# Menus whose export repeats every value that was set, defaults included (RouterOS 7 routes).
KEEPS_EXPLICIT: set[Path] = {("ip", "route")}

# v7 hides these in /export unless show-sensitive.
SENSITIVE = {"private-key", "preshared-key", "password", "secret", "passphrase", "authentication-key",
             "wpa-pre-shared-key", "wpa2-pre-shared-key", "auth-key", "key"}
# Shown by print, never settable, never exported.
READ_ONLY: dict[Path, set[str]] = {("interface", "wireguard"): {"public-key"}, scheduler.MENU: scheduler.RUNTIME}

# What a reference argument must name. A trailing "!" allows "!name"; "*" a comma list; "/" up/down.
REFS: dict[Path, dict[str, str]] = {
    ("interface", "bridge", "port"): {"bridge": "bridge", "interface": "interface|interface-list"},
    ("interface", "bridge", "vlan"): {"bridge": "bridge", "tagged": "interface*", "untagged": "interface*"},
    ("interface", "vlan"): {"interface": "interface"},
    ("interface", "list", "member"): {"interface": "interface", "list": "interface-list"},
    ("interface", "wireguard", "peers"): {"interface": "wireguard"},
    ("ip", "address"): {"interface": "interface"},
    ("ip", "dhcp-server"): {"interface": "interface", "address-pool": "pool"},
    ("ip", "dhcp-server", "network"): {},
    ("ip", "dhcp-client"): {"interface": "interface"},
    ("ip", "pool"): {"next-pool": "pool"},
    ("ip", "hotspot"): {"interface": "interface", "address-pool": "pool", "profile": "hotspot-profile"},
    ("ip", "hotspot", "user"): {"profile": "hotspot-user-profile", "server": "hotspot"},
    ("ip", "hotspot", "user", "profile"): {"address-pool": "pool"},
    ("ip", "firewall", "filter"): {"in-interface": "interface!", "out-interface": "interface!",
                                   "in-interface-list": "interface-list!", "out-interface-list": "interface-list!"},
    ("ip", "firewall", "nat"): {"in-interface": "interface!", "out-interface": "interface!",
                                "in-interface-list": "interface-list!", "out-interface-list": "interface-list!"},
    ("ip", "firewall", "mangle"): {"in-interface": "interface!", "out-interface": "interface!",
                                   "in-interface-list": "interface-list!", "out-interface-list": "interface-list!"},
    ("queue", "simple"): {"parent": "queue-simple", "queue": "queue-type/"},
    ("user",): {"group": "user-group"},
    ("ip", "neighbor", "discovery-settings"): {"discover-interface-list": "interface-list!"},
    ("tool", "mac-server"): {"allowed-interface-list": "interface-list"},
    ("tool", "mac-server", "mac-winbox"): {"allowed-interface-list": "interface-list"},
}
REF_SPECIAL = {"pool": {"static-only", "none"}, "queue-simple": {"none"},
               "interface-list": {"all", "none", "dynamic", "static"}, "interface": {"all"}}
CATEGORY_MENUS: dict[str, Path] = {
    "bridge": ("interface", "bridge"), "interface-list": ("interface", "list"), "pool": ("ip", "pool"),
    "hotspot-profile": ("ip", "hotspot", "profile"), "hotspot-user-profile": ("ip", "hotspot", "user", "profile"),
    "queue-type": ("queue", "type"), "queue-simple": ("queue", "simple"), "user-group": ("user", "group"),
    "wireguard": ("interface", "wireguard"), "hotspot": ("ip", "hotspot"),
}
INTERFACE_TYPES = {"ethernet": "ether", "bridge": "bridge", "vlan": "vlan", "wireguard": "wg", "bonding": "bond",
                   "veth": "veth", "eoip": "eoip", "gre": "gre", "pppoe-client": "pppoe-out", "macvlan": "macvlan",
                   "vrrp": "vrrp", "vxlan": "vxlan", "ovpn-client": "ovpn-out", "l2tp-client": "l2tp-out",
                   "sstp-client": "sstp-out", "lte": "lte", "wifi": "wifi", "ipip": "ipip"}
# Items whose natural key may appear once (besides unique names).
UNIQUE_KEYS: dict[Path, tuple[tuple[str, ...], str]] = {
    ("ip", "address"): (("address", "interface"), "failure: already have such address"),
    ("interface", "bridge", "port"): (("interface",), "failure: device already added as bridge port"),
    ("interface", "list", "member"): (("list", "interface"), "failure: already have such entry"),
    ("ip", "dhcp-server", "network"): (("address",), "failure: already have such entry"),
    ("ip", "dhcp-server"): (("interface",), "failure: dhcp server already exists on this interface"),
    ("interface", "wireguard", "peers"): (("interface", "public-key"), "failure: already have such entry"),
}


@dataclass
class Item:
    id: int
    props: dict[str, str]
    initial: dict[str, str] | None = None  # factory items: the values they came with
    default: bool = False  # matches [ find default=yes ]
    dynamic: bool = False
    removable: bool = True

    @property
    def builtin(self) -> bool:
        return self.initial is not None

    @property
    def disabled(self) -> bool:
        return self.props.get("disabled") == "yes"


@dataclass
class Menu:
    path: Path
    single: bool
    items: list[Item] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        nid = self.next_id
        self.next_id += 1
        return nid


def fake_mac(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).digest()
    return ":".join(f"{b:02X}" for b in (b"\x48\xa9\x8a" + digest[:3]))


def fake_key(seed: str) -> str:
    import base64
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


class Config:
    """All menus of one router."""

    def __init__(self, schema: Schema, identity: str = "MikroTik", ethernet: int = 5, seed: str = "") -> None:
        self.schema = schema
        self.seed = seed or identity
        self.menus: dict[Path, Menu] = {}
        self._interface_menus: list[Path] | None = None
        self._factory(identity, ethernet)

    # ---- structure ----------------------------------------------------------------------------
    def menu(self, path: Path) -> Menu:
        menu = self.menus.get(path)
        if menu is None:
            single = path in SINGLE_INITIAL or self.schema.is_single(path)
            menu = Menu(path, single)
            if single:
                menu.items.append(Item(menu.new_id(), dict(SINGLE_INITIAL.get(path, {})),
                                       initial=dict(SINGLE_INITIAL.get(path, {})), removable=False))
            self.menus[path] = menu
        return menu

    def interface_menus(self) -> list[Path]:
        if self._interface_menus is None:
            out = []
            for name, node in self.schema.node(("interface",)).get("c", {}).items():
                if node.get("k") or name in ("list", "detect-internet", "ethernet"):
                    continue
                if "name" in self.schema.args(("interface", name), "add"):
                    out.append(("interface", name))
            self._interface_menus = [("interface", "ethernet")] + sorted(out)
        return self._interface_menus

    def interfaces(self) -> list[tuple[Path, Item]]:
        out = []
        for path in self.interface_menus():
            if path in self.menus:
                out.extend((path, item) for item in self.menus[path].items)
        return out

    def interface_names(self) -> set[str]:
        return {item.props.get("name", "") for _, item in self.interfaces()}

    def names(self, category: str) -> set[str]:
        if category == "interface":
            return self.interface_names()
        path = CATEGORY_MENUS[category]
        return {item.props.get("name", "") for item in self.menu(path).items}

    def single(self, path: Path) -> Item:
        return self.menu(path).items[0]

    @property
    def identity(self) -> str:
        return self.single(("system", "identity")).props.get("name", "MikroTik")

    # ---- factory objects -------------------------------------------------------------------------
    def _builtin(self, path: Path, props: dict[str, str], default: bool = False, removable: bool = False) -> Item:
        menu = self.menu(path)
        item = Item(menu.new_id(), dict(props), initial=dict(props), default=default, removable=removable)
        menu.items.append(item)
        return item

    def _factory(self, identity: str, ethernet: int) -> None:
        self.single(("system", "identity")).props["name"] = identity
        for n in range(1, ethernet + 1):
            name = f"ether{n}"
            self._builtin(("interface", "ethernet"), {
                "name": name, "default-name": name, "mtu": "1500", "l2mtu": "1598", "arp": "enabled",
                "mac-address": fake_mac(f"{self.seed}/{name}"), "disabled": "no", "comment": "",
                "loop-protect": "default", "auto-negotiation": "yes"})
        for name, port in SERVICES:
            self._builtin(("ip", "service"), {"name": name, "port": port, "address": "",
                                              "disabled": "yes" if name == "www-ssl" else "no",
                                              "vrf": "main", "max-sessions": "20"})
        for name in SERVICE_PORTS:
            self._builtin(("ip", "firewall", "service-port"), {"name": name, "disabled": "no"})
        for name, policy in (("read", "local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api"),
                             ("write", "local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,sensitive,api,romon,rest-api"),
                             ("full", "local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api")):
            self._builtin(("user", "group"), {"name": name, "policy": policy, "skin": "default"})
        for name, kind in QUEUE_TYPES:
            self._builtin(("queue", "type"), {"name": name, "kind": kind})
        self._builtin(("ip", "hotspot", "profile"), {"name": "default", "hotspot-address": "0.0.0.0",
                                                     "html-directory": "hotspot", "login-by": "cookie,http-chap",
                                                     "dns-name": "", "use-radius": "no"}, default=True)
        self._builtin(("ip", "hotspot", "user", "profile"), {"name": "default", "shared-users": "1",
                                                             "rate-limit": "", "address-pool": "none"}, default=True)
        self._builtin(("interface", "wireless", "security-profiles"), {"name": "default"}, default=True) \
            if self.schema.node(("interface", "wireless")) else None

    # ---- lookups ---------------------------------------------------------------------------------
    def effective(self, path: Path, item: Item) -> dict[str, str]:
        base = dict(ADD_DEFAULTS.get(path, {})) if not item.builtin else {}
        base.setdefault("disabled", "no") if not self.menu(path).single else None
        base.update(item.props)
        return base

    def visible(self, path: Path) -> list[Item]:
        return list(self.menu(path).items)

    def resolve(self, path: Path, ref: str) -> list[Item]:
        """Items named by a ``numbers`` value: ``0,2``, ``*1A``, a name, or a comma list of them."""
        items = self.visible(path)
        out: list[Item] = []
        for part in ref.split(","):
            part = part.strip()
            found: Item | None = None
            if part.startswith("*"):
                try:
                    wanted = int(part[1:], 16)
                except ValueError:
                    raise RouterOSError(NO_SUCH_ITEM) from None
                found = next((i for i in items if i.id == wanted), None)
            elif re.fullmatch(r"\d+", part):
                idx = int(part)
                found = items[idx] if idx < len(items) else None
                if found is None:
                    found = next((i for i in items if i.props.get("name") == part), None)
            else:
                found = next((i for i in items if i.props.get("name") == part), None)
                if found is None and path == ("interface",):
                    found = next((i for _, i in self.interfaces() if i.props.get("name") == part), None)
            if found is None:
                raise RouterOSError(NO_SUCH_ITEM)
            if found not in out:
                out.append(found)
        return out

    def find(self, path: Path, expr: Expr | None) -> list[Item]:
        return [item for item in self.visible(path) if expr is None or self.matches(path, item, expr)]

    def matches(self, path: Path, item: Item, expr: Expr) -> bool:
        if isinstance(expr, BoolOp):
            if expr.op == "not":
                return not self.matches(path, item, expr.args[0])
            results = (self.matches(path, item, a) for a in expr.args)
            return all(results) if expr.op == "and" else any(results)
        assert isinstance(expr, Cmp)
        props = self.effective(path, item)
        flags = {"default": item.default, "dynamic": item.dynamic, "disabled": item.disabled,
                 "builtin": item.builtin, "invalid": False, "running": not item.disabled}
        if expr.op == "":
            if expr.prop in flags:
                return flags[expr.prop]
            return props.get(expr.prop, "") not in ("", "no")
        if expr.prop in flags and expr.prop not in props:
            actual = "yes" if flags[expr.prop] else "no"
        else:
            actual = props.get(expr.prop, "")
        wanted = expr.value
        if expr.op == "=":
            return actual == wanted or (wanted in ("true", "yes") and actual == "yes") or \
                (wanted in ("false", "no") and actual == "no")
        if expr.op == "!=":
            return actual != wanted
        if expr.op == "~":
            try:
                return re.search(wanted, actual) is not None
            except re.error:
                raise RouterOSError("invalid regular expression") from None
        try:
            a, b = float(actual), float(wanted)
        except ValueError:
            a, b = actual, wanted  # type: ignore[assignment]
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[expr.op]

    # ---- semantics -------------------------------------------------------------------------------
    def check_refs(self, path: Path, props: dict[str, str]) -> None:
        for arg, spec in REFS.get(path, {}).items():
            if arg not in props or props[arg] == "":
                continue
            value = props[arg]
            many = spec.endswith("*")
            updown = spec.endswith("/")
            negatable = spec.endswith("!")
            cats = spec.rstrip("*/!").split("|")
            known: set[str] = set()
            for cat in cats:
                known |= self.names(cat) | REF_SPECIAL.get(cat, set())
            parts = value.split(",") if many else (value.split("/") if updown else [value])
            for part in parts:
                if negatable and part.startswith("!"):
                    part = part[1:]
                if part not in known:
                    raise no_match(arg)

    def check_unique(self, path: Path, props: dict[str, str], skip: Item | None = None) -> None:
        name = props.get("name")
        if name is not None and name != "":
            if path in self.interface_menus():
                for _, other in self.interfaces():
                    if other is not skip and other.props.get("name") == name:
                        raise RouterOSError("failure: already have interface with such name")
            else:
                for other in self.menu(path).items:
                    if other is not skip and other.props.get("name") == name:
                        if path == ("user",):
                            raise RouterOSError("failure: user with the same name already exists")
                        raise RouterOSError("failure: already have such name")
        if path in UNIQUE_KEYS:
            keys, message = UNIQUE_KEYS[path]
            if all(props.get(k) for k in keys):
                for other in self.menu(path).items:
                    if other is skip:
                        continue
                    if all(other.props.get(k) == props.get(k) for k in keys):
                        raise RouterOSError(message)

    def derive(self, path: Path, props: dict[str, str], item: Item | None = None) -> None:
        """Values RouterOS fills in itself."""
        if path == ("ip", "address") and "address" in props:
            props["address"], network = values.interface_address(props["address"])
            if item is None or "network" not in props or props.get("network") == item.props.get("network"):
                props["network"] = network
        if path == ("interface", "wireguard"):
            seed = f"{self.seed}/wg/{props.get('name', '')}/{len(self.menu(path).items)}"
            if item is None:
                props.setdefault("listen-port", str(13231 + len(self.menu(path).items)))
                props.setdefault("mtu", "1420")
                props.setdefault("private-key", fake_key(seed))
            if "private-key" in props:
                props["public-key"] = fake_key("pub/" + props["private-key"])
        if path == ("queue", "simple") and item is None:
            props.setdefault("name", f"queue{len(self.menu(path).items) + 1}")
        if path in self.interface_menus() and item is None and path != ("interface", "ethernet"):
            props.setdefault("name", f"{path[-1]}{sum(1 for _ in self.menu(path).items) + 1}")

    def rename(self, path: Path, old: str, new: str) -> None:
        """References follow a rename (RouterOS stores them by id)."""
        if old == new or not old:
            return
        categories = {cat for cat, p in CATEGORY_MENUS.items() if p == path}
        if path in self.interface_menus():
            categories.add("interface")
            if path == ("interface", "bridge"):
                categories.add("bridge")
            if path == ("interface", "wireguard"):
                categories.add("wireguard")
        for ref_path, refs in REFS.items():
            if ref_path not in self.menus:
                continue
            for arg, spec in refs.items():
                if not set(spec.rstrip("*/!").split("|")) & categories:
                    continue
                for item in self.menus[ref_path].items:
                    value = item.props.get(arg)
                    if not value:
                        continue
                    sep = "," if spec.endswith("*") else ("/" if spec.endswith("/") else None)
                    parts = value.split(sep) if sep else [value]
                    parts = [("!" + new if p == "!" + old else (new if p == old else p)) for p in parts]
                    item.props[arg] = (sep or "").join(parts)

    def connected_routes(self) -> list[Item]:
        """The dynamic connected routes RouterOS derives from enabled addresses (shown by print only)."""
        out = []
        for item in self.menu(("ip", "address")).items:
            if item.disabled or "address" not in item.props:
                continue
            prefix = item.props["address"].split("/")[1]
            out.append(Item(0x8000 + item.id, {"dst-address": f"{item.props.get('network')}/{prefix}",
                                               "gateway": item.props.get("interface", ""),
                                               "immediate-gw": item.props.get("interface", ""),
                                               "distance": "0", "scope": "10", "routing-table": "main",
                                               "pref-src": item.props["address"].split("/")[0]},
                            dynamic=True, removable=False))
        return out

    def snapshot(self) -> dict[Path, Menu]:
        return copy.deepcopy(self.menus)

    def restore(self, menus: dict[Path, Menu]) -> None:
        self.menus = copy.deepcopy(menus)
