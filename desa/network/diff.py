"""The structured diff: desired RouterOS state vs the running state → only the needed commands.

Ownership, per menu:
- list menus with a `comment` argument: items we manage carry `comment=desa:KEY`. Those are ours —
  added, set to the intent (every property), moved into the intent's order, removed when the intent
  drops them. Anything else in the menu (a technician's manual rule, a Mikhmon voucher) is left alone.
  An unmarked item with the same natural key (a name) as a desired one is adopted (marked and set).
- list menus without a `comment` argument (hotspot server/profiles, user profiles): items are ours by
  the names the intent declares; other names are never touched, never removed.
- `set TARGET …` items (built-in entries: `/ip service set telnet`, `/interface ethernet set
  [ find default-name=ether1 ]`) and single-object menus (`/system identity`, `/ip dns`): only the
  declared properties are compared (merge).
Ordered menus (firewall, NAT, walled garden, queues) keep the intent's relative order of owned items;
unowned items stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desa.network.export import Export, Item, normalise_path
from desa.network.normalise import normalise, same
from desa.network.quoting import quote, word

MARK = "desa:"

ORDERED = {"/ip firewall filter", "/ip firewall nat", "/ip firewall mangle", "/ip firewall raw",
           "/ip hotspot walled-garden", "/ip hotspot walled-garden ip", "/queue simple"}
# Natural keys: an unmarked item with these values is the same object (adopted, never duplicated).
NATURAL_KEYS = {
    "/interface bridge": ("name",), "/interface vlan": ("name",), "/interface list": ("name",),
    "/interface wireguard": ("name",), "/ip pool": ("name",), "/ip dhcp-server": ("name",),
    "/ip hotspot": ("name",), "/ip hotspot profile": ("name",), "/ip hotspot user profile": ("name",),
    "/queue simple": ("name",), "/system scheduler": ("name",), "/user group": ("name",),
    "/ip address": ("address", "interface"), "/interface bridge port": ("bridge", "interface"),
    "/interface bridge vlan": ("bridge", "vlan-ids"), "/interface list member": ("list", "interface"),
    "/ip dhcp-server network": ("address",),
}
# Menus without a `comment` argument in RouterOS 7 (from the command tree): owned by name.
UNMARKABLE = {"/ip hotspot", "/ip hotspot profile", "/ip hotspot user profile", "/queue type"}
# Properties RouterOS never prints back without show-sensitive: set on add, not compared.
WRITE_ONLY = {"private-key", "password", "preshared-key", "mac-auth-password"}
# Properties RouterOS adds by itself; not drift.
GENERATED = {"/interface wireguard": {"public-key"}, "/interface bridge": {"admin-mac", "auto-mac"},
             "/ip address": {"network"}}
# RouterOS 7 defaults per menu: an export omits a property at its default value.
MENU_DEFAULTS = {("/ip dhcp-server", "lease-time"): "30m", ("/system note", "show-at-login"): "yes",
                 ("/interface wireguard", "mtu"): "1420", ("/ip hotspot user profile", "shared-users"): "1"}
# Default values to restore when an owned item carries a property the intent does not set.
DEFAULTS = {"disabled": "no", "log": "no", "log-prefix": "", "passthrough": "yes"}
# Menus whose changes can cut our management access (guarded by the armed revert).
RISKY = {"/ip service", "/ip firewall filter", "/interface bridge", "/interface bridge port",
         "/interface bridge vlan", "/interface vlan", "/ip address", "/ip route", "/user",
         "/interface wireguard", "/interface wireguard peers", "/interface list member",
         "/interface ethernet", "/ip dhcp-client", "/ip firewall raw"}


@dataclass
class Change:
    menu: str
    command: str  # absolute, one line
    kind: str  # add, set, remove, move, unset

    @property
    def risky(self) -> bool:
        return self.menu in RISKY


@dataclass
class MenuDiff:
    menu: str
    changes: list[Change] = field(default_factory=list)


def selector(key: tuple[str, str]) -> str:
    prop, value = key
    return f"[ find where {prop}={quote(value)} ]"


def fmt_props(props: dict[str, str]) -> str:
    return " ".join(f"{k}={word(v)}" for k, v in props.items())


def _target_selector(target: str) -> str:
    if "=" in target:
        k, v = target.split("=", 1)
        return f"[ find where {k}={quote(v)} ]"
    return word(target)


def _owned_key(menu: str, item: Item) -> str | None:
    """The marker word of an item we own (`desa:KEY`, optionally followed by a note), else None."""
    c = item.props.get("comment")
    if menu not in UNMARKABLE and c and c.startswith(MARK):
        return c.split(" ", 1)[0]
    return None


def _natural(menu: str, item: Item) -> tuple | None:
    keys = NATURAL_KEYS.get(menu)
    if not keys or any(k not in item.props for k in keys):
        return None
    return tuple(normalise(k, item.props[k]) for k in keys)


def _compare(menu: str, want: dict[str, str], have: dict[str, str], replace: bool
             ) -> tuple[dict[str, str], list[str]]:
    """(properties to set, properties to unset)."""
    to_set = {k: v for k, v in want.items()
              if k not in WRITE_ONLY
              and not same(k, v, have.get(k, MENU_DEFAULTS.get((menu, k), DEFAULTS.get(k))))}
    to_unset: list[str] = []
    if replace:
        skip = WRITE_ONLY | GENERATED.get(menu, set())
        for k, v in have.items():
            if k in want or k in skip:
                continue
            if k in DEFAULTS:
                if not same(k, v, DEFAULTS[k]):
                    to_set[k] = DEFAULTS[k]
            else:
                to_unset.append(k)
    return to_set, to_unset


def _lis(seq: list[int]) -> set[int]:
    """Indices (into seq) of one longest increasing subsequence."""
    import bisect

    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(seq)
    for i, x in enumerate(seq):
        pos = bisect.bisect_left(tails, x)
        if pos == len(tails):
            tails.append(x)
            tails_idx.append(i)
        else:
            tails[pos] = x
            tails_idx[pos] = i
        prev[i] = tails_idx[pos - 1] if pos else -1
    out: set[int] = set()
    i = tails_idx[-1] if tails_idx else -1
    while i != -1:
        out.add(i)
        i = prev[i]
    return out


def diff_menu(menu: str, desired: list[Item], current: list[Item]) -> tuple[list[Change], list[Change]]:
    """(removals, other changes) for one menu."""
    menu = normalise_path(menu)
    removals: list[Change] = []
    changes: list[Change] = []

    def emit(kind: str, text: str, into: list[Change] | None = None) -> None:
        (changes if into is None else into).append(Change(menu, f"{menu} {text}", kind))

    # single-object menu / built-in entries: merge the declared properties
    owned_current: dict[str, Item] = {}
    for it in current:
        k = _owned_key(menu, it)
        if k is not None:
            owned_current.setdefault(k, it)
    unowned = [it for it in current if _owned_key(menu, it) is None]

    desired_keys: list[str] = []
    plans: list[tuple[str, Item, Item | None, str | None]] = []
    desired_comment: dict[str, str] = {}

    def sel(key: str) -> str:
        """Selector of an existing owned item, by its comment as the router holds it."""
        return selector(("comment", owned_current[key].props["comment"]))

    def placed_sel(key: str) -> str:
        """Selector of a present item after the sets: its comment is the desired one by then."""
        return selector(("comment", desired_comment[key]))
    for want in desired:
        if want.action == "set":
            have = _find_set_target(menu, want, current)
            to_set, _ = _compare(menu, want.props, have.props if have else {}, replace=False)
            if to_set:
                sel = f"{_target_selector(want.target)} " if want.target else ""
                emit("set", f"set {sel}{fmt_props(to_set)}")
            continue
        if menu in UNMARKABLE:
            name = want.props["name"]
            have = next((it for it in current if it.props.get("name") == name), None)
            if have is None:
                emit("add", f"add {fmt_props(want.props)}")
            else:
                to_set, to_unset = _compare(menu, want.props, have.props, replace=True)
                if to_set:
                    emit("set", f"set {selector(('name', name))} {fmt_props(to_set)}")
                for k in to_unset:
                    emit("unset", f"unset {selector(('name', name))} value-name={k}")
            continue
        key = _owned_key(menu, want)
        if key is None:
            raise ValueError(f"{menu}: desired item without a {MARK} marker: {want.props}")
        desired_keys.append(key)
        desired_comment[key] = want.props["comment"]
        have = owned_current.get(key)
        adopt_sel = None
        if have is None:
            nat = _natural(menu, want)
            if nat is not None:
                match = next((it for it in unowned if _natural(menu, it) == nat), None)
                if match is not None:
                    have = match
                    adopt_sel = "where " + " and ".join(
                        f"{k}={quote(match.props[k])}" for k in NATURAL_KEYS[menu])
        plans.append((key, want, have, adopt_sel))

    # removals of owned items the intent no longer has
    wanted = set(desired_keys)
    for key in owned_current:
        if key not in wanted:
            emit("remove", f"remove {sel(key)}", removals)

    # sets (and adoptions) of existing items
    for key, want, have, adopt_sel in plans:
        if have is None:
            continue
        to_set, to_unset = _compare(menu, want.props, have.props, replace=True)
        where = f"[ find {adopt_sel} ]" if adopt_sel else sel(key)
        if to_set:
            emit("set", f"set {where} {fmt_props(to_set)}")
        for k in to_unset:
            emit("unset", f"unset {where} value-name={k}")

    # order (ordered menus): existing owned items into the intent's order, then adds in place
    existing_order = [k for k in (_owned_key(menu, it) for it in current) if k in wanted]
    present = {k for k, _w, h, _a in plans if h is not None}
    if menu in ORDERED:
        pos = {k: i for i, k in enumerate(desired_keys)}
        seq = [pos[k] for k in existing_order if k in present]
        keys_seq = [k for k in existing_order if k in present]
        keep = {keys_seq[i] for i in _lis(seq)}
        placed = set(keep)
        # walk the intent backwards: each moved item goes before its next placed successor
        for i in range(len(desired_keys) - 1, -1, -1):
            k = desired_keys[i]
            if k not in present or k in keep:
                continue
            nxt = next((desired_keys[j] for j in range(i + 1, len(desired_keys))
                        if desired_keys[j] in placed), None)
            if nxt is None:
                # last of ours: before the first item that follows our block, i.e. to the end
                emit("move", f"move {placed_sel(k)}")
            else:
                emit("move", f"move {placed_sel(k)} destination={placed_sel(nxt)}")
            placed.add(k)
    for i, (key, want, have, _a) in enumerate(plans):
        if have is not None:
            continue
        props = dict(want.props)
        if menu in ORDERED:
            nxt = next((k for k, _w, h, _x in plans[i + 1:] if h is not None), None)
            if nxt is not None:
                emit("add", f"add {fmt_props(props)} place-before={placed_sel(nxt)}")
                continue
        emit("add", f"add {fmt_props(props)}")
    return removals, changes


def _find_set_target(menu: str, want: Item, current: list[Item]) -> Item | None:
    for it in current:
        if it.action == "set" and it.target == want.target:
            return it
    if want.target and "=" in want.target:
        k, v = want.target.split("=", 1)
        for it in current:
            if it.props.get(k) == v:
                return it
    elif want.target:
        for it in current:
            if it.props.get("name") == want.target:
                return it
    return None


def diff(desired: Export, current: Export, *, last: tuple[str, ...] = ("/system identity",)) -> list[Change]:
    """Every change, in a safe order: removals (reverse menu order) first, then menus in the
    desired order, the identity last."""
    order = [m for m in desired.menus if m not in last] + [m for m in last if m in desired.menus]
    removals: list[Change] = []
    changes: list[Change] = []
    for menu in order:
        r, c = diff_menu(menu, desired.menus[menu], current.menu(menu))
        removals = r + removals
        changes.extend(c)
    return removals + changes


def commands(changes: list[Change]) -> list[str]:
    return [c.command for c in changes]
