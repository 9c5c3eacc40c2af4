"""`/system scheduler` on one simulated router: when each event runs, and running it.

RouterOS's rules, as its manual ("Scheduler") states them:

- `add` without `start-time` starts the schedule at the moment of the add: `start-date` and
  `start-time` are set from the router's clock (and exported). Runs follow at start + k·interval;
  an item never runs at the instant it is made, so the first run is one interval after the add.
- `start-time=startup` with `interval=0` runs once, 3 s after each boot; with an interval the
  scheduler does not run it at startup but every interval from then on.
- `interval=0` with a clock time runs once, at that time, if it is still ahead.
- Disabled items never run. `run-count` counts runs since the last boot (a reboot resets it) and
  `next-run` shows when the item is due: both read-only, shown by `print`, never exported.
- Items due at the same moment run in the order they appear. `on-event` names a `/system script`
  or is itself script source. An event that loads a backup reboots the router: the rest of that
  moment's events are not run (the configuration they belonged to is gone).

The clock is the device's (`Device.now`, injectable): tests step it by calling `tick(now)`; the
simulator server ticks every device twice a second. An item is planned when it is added, changed
or enabled (from that moment) and, after a boot, from the boot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from desa.routeros import values

if TYPE_CHECKING:
    from desa.routeros.device import Device
    from desa.routeros.state import Item

MENU = ("system", "scheduler")
STARTUP_DELAY = timedelta(seconds=3)
RUNTIME = {"run-count", "next-run"}  # read-only: print shows them, export does not


def stamp(props: dict[str, str], now: datetime) -> None:
    """What RouterOS fills in on `add`: a schedule without a start starts now."""
    if "start-time" not in props:
        props["start-time"] = now.strftime("%H:%M:%S")
        props.setdefault("start-date", now.strftime("%Y-%m-%d"))
    elif props["start-time"] != "startup":
        props.setdefault("start-date", now.strftime("%Y-%m-%d"))


def _seconds(props: dict[str, str]) -> float:
    return values.parse_duration(props.get("interval", "0s")) or 0.0


def _origin(props: dict[str, str]) -> datetime | None:
    try:
        day = date.fromisoformat(props.get("start-date", ""))
        clock = time.fromisoformat(props.get("start-time", ""))
    except ValueError:
        return None
    return datetime.combine(day, clock)


def next_run(props: dict[str, str], *, booted: datetime, after: datetime) -> datetime | None:
    """The first moment strictly after `after` at which an item with these values runs (None: never)."""
    interval = _seconds(props)
    if props.get("start-time", "startup") == "startup":
        at_boot = booted + STARTUP_DELAY
        if not interval:
            return at_boot if at_boot > after else None
        origin, first_k = at_boot, 1  # not at startup itself
    else:
        origin = _origin(props)
        if origin is None:
            return None
        if not interval:
            return origin if origin > after else None
        first_k = 0
    step = timedelta(seconds=interval)
    k = max(first_k, int((after - origin) / step) if after > origin else 0)
    at = origin + k * step
    while at <= after:
        at += step
    return at


@dataclass
class _Plan:
    signature: tuple[str, ...]  # the values the plan was made from: a `set` makes a new plan
    due: datetime | None


class Scheduler:
    """The scheduler of one device. Call `boot()` when the device (re)starts and `tick()` on a clock."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.booted = device.now()
        self.last_tick: datetime | None = None
        self.plans: dict[int, _Plan] = {}

    def boot(self) -> None:
        """A (re)boot: counters back to zero, every plan made again from the boot time."""
        with self.device.lock:
            self.booted = self.device.now()
            self.last_tick = None
            self.plans.clear()
            for item in self._items():
                item.props["run-count"] = "0"
                item.props.pop("next-run", None)

    def _items(self) -> list[Item]:
        menu = self.device.config.menus.get(MENU)
        return list(menu.items) if menu else []

    def _plan(self, item: Item, after: datetime) -> _Plan:
        """The item's plan; a new one (runs strictly after `after`) if it has none or its values changed."""
        props = item.props
        signature = (props.get("start-date", ""), props.get("start-time", "startup"), props.get("interval", "0s"))
        plan = self.plans.get(item.id)
        if plan is None or plan.signature != signature:
            plan = _Plan(signature, next_run(props, booted=self.booted, after=after))
            self.plans[item.id] = plan
        return plan

    def _planned(self, item: Item, after: datetime) -> _Plan | None:
        """The plan of an enabled item (shown as `next-run`); a disabled item has none."""
        if item.disabled:
            self.plans.pop(item.id, None)
            item.props.pop("next-run", None)
            return None
        plan = self._plan(item, after)
        self._show(item, plan)
        return plan

    def replan(self, now: datetime) -> None:
        """After a command on the menu: what was added, changed or enabled is planned from `now`, and
        the plans of removed items go (items come and go only by commands, or with a boot)."""
        with self.device.lock:
            items = self._items()
            for gone in set(self.plans) - {item.id for item in items}:
                del self.plans[gone]
            for item in items:
                self._planned(item, now)

    def tick(self, now: datetime | None = None) -> list[str]:
        """Run every event that is due at `now` (the device's clock by default); their names, in order."""
        from desa.routeros.interpreter import QuitSession, Session

        ran: list[str] = []
        with self.device.lock:
            now = now or self.device.now()
            menus = self.device.config.menus
            since, self.last_tick = self.last_tick or self.booted, now
            for item in self._items():
                plan = self._planned(item, since)  # not planned yet: e.g. loaded from a backup at boot
                if plan is None or plan.due is None or plan.due > now:
                    continue
                plan.due = next_run(item.props, booted=self.booted, after=now)
                item.props["run-count"] = str(int(item.props.get("run-count", "0") or 0) + 1)
                self._show(item, plan)
                ran.append(item.props.get("name", f"*{item.id:X}"))
                source = self._source(item.props.get("on-event", ""))
                try:
                    self.device.interpreter.run_script(source, Session(user=item.props.get("owner", "admin")))
                except QuitSession:  # the event rebooted the router (backup load, reboot, reset)
                    return ran
                if self.device.config.menus is not menus:  # a new configuration: its own plans
                    return ran
        return ran

    def _source(self, on_event: str) -> str:
        """`on-event` is the name of a /system script, or script source itself."""
        scripts = self.device.config.menus.get(("system", "script"))
        for script in scripts.items if scripts else []:
            if script.props.get("name") == on_event.strip():
                return script.props.get("source", "")
        return on_event

    @staticmethod
    def _show(item: Item, plan: _Plan) -> None:
        item.props.setdefault("run-count", "0")
        if plan.due is None:
            item.props.pop("next-run", None)
        else:
            item.props["next-run"] = plan.due.strftime("%Y-%m-%d %H:%M:%S")
