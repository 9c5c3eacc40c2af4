"""`/system scheduler` and `/ip service` as RouterOS applies them: commands and a clock in, runs out.

The device's clock is injected; `tick(now)` lets it reach a moment. Over SSH the simulator server
ticks by itself (the last tests), so an armed event runs with nobody connected.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from desa.routeros.device import Device
from desa.routeros.scheduler import next_run
from desa.routeros.server import DeviceSpec, RouterSimulator

T0 = datetime(2026, 11, 28, 10, 0, 0)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dev(clock) -> Device:
    device = Device("R1", blank=True, clock=clock)
    yield device
    device.close()


def pools(dev: Device) -> list[str]:
    return [i.props["name"] for i in dev.config.menu(("ip", "pool")).items]


def scheduled(dev: Device, name: str) -> dict[str, str]:
    return next(i.props for i in dev.config.menu(("system", "scheduler")).items if i.props.get("name") == name)


# ---- when an item runs: values in, moments out ------------------------------------------------------

BOOT = T0 - timedelta(hours=1)
NEXT_RUN = [
    # (values, after, expected next run)
    ({"start-date": "2026-11-28", "start-time": "10:00:00", "interval": "1m"}, T0, T0 + timedelta(minutes=1)),
    ({"start-date": "2026-11-28", "start-time": "10:00:00", "interval": "1m"}, T0 + timedelta(seconds=61),
     T0 + timedelta(minutes=2)),
    ({"start-date": "2026-11-28", "start-time": "12:30:00", "interval": "1d"}, T0, datetime(2026, 11, 28, 12, 30)),
    ({"start-date": "2026-11-20", "start-time": "03:00:00", "interval": "1d"}, T0, datetime(2026, 11, 29, 3, 0)),
    ({"start-date": "2026-11-28", "start-time": "12:00:00", "interval": "0s"}, T0, datetime(2026, 11, 28, 12, 0)),
    ({"start-date": "2026-11-28", "start-time": "09:00:00", "interval": "0s"}, T0, None),  # once, already past
    ({"start-time": "startup", "interval": "0s"}, BOOT, BOOT + timedelta(seconds=3)),
    ({"start-time": "startup", "interval": "0s"}, BOOT + timedelta(seconds=3), None),  # once per boot
    ({"start-time": "startup", "interval": "10m"}, BOOT, BOOT + timedelta(seconds=3, minutes=10)),  # not at boot
    ({"start-date": "2026-11-28", "start-time": "10:00:00", "interval": "00:02:00"}, T0, T0 + timedelta(minutes=2)),
    ({"start-date": "bad", "start-time": "10:00:00", "interval": "1m"}, T0, None),
]


@pytest.mark.parametrize(("props", "after", "expected"), NEXT_RUN)
def test_next_run(props, after, expected):
    assert next_run(props, booted=BOOT, after=after) == expected


def test_add_starts_now_runs_one_interval_later_and_repeats(dev, clock):
    dev.run("/system script add name=mk source=\"/ip pool add name=p1 ranges=10.1.0.2\"")
    dev.run("/system scheduler add name=once interval=1m on-event=mk")
    exported = dev.export("terse")
    assert "/system scheduler add interval=1m name=once on-event=mk start-date=2026-11-28 start-time=10:00:00" in exported
    assert "run-count" not in exported and "next-run" not in exported, "read-only values are not exported"
    assert dev.tick(clock.at(0)) == [] and dev.tick(clock.at(59)) == []
    assert scheduled(dev, "once")["next-run"] == "2026-11-28 10:01:00"
    assert dev.tick(clock.at(60)) == ["once"] and pools(dev) == ["p1"]
    assert scheduled(dev, "once")["run-count"] == "1"
    assert dev.tick(clock.at(61)) == []
    assert dev.tick(clock.at(120)) == ["once"]  # again: the script now fails (name taken), it still ran
    assert scheduled(dev, "once")["run-count"] == "2" and pools(dev) == ["p1"]
    assert "run-count=2" in dev.run("/system scheduler print terse")


def test_disabled_never_runs_and_set_replans(dev, clock):
    dev.run('/system scheduler add name=s interval=10s on-event="/ip pool add name=a ranges=10.1.0.2"')
    dev.run("/system scheduler disable s")
    assert dev.tick(clock.at(10)) == [] and dev.tick(clock.at(100)) == []
    dev.run("/system scheduler enable s")
    assert dev.tick(clock.at(101)) == []  # planned from now: not at once
    dev.run("/system scheduler set s interval=1h start-time=10:30:00")
    assert dev.tick(clock.at(1799)) == []
    assert dev.tick(clock.at(1800)) == ["s"] and pools(dev) == ["a"]


def test_same_moment_runs_in_order_and_on_event_is_source_or_script_name(dev, clock):
    dev.run('/system script add name=second source="/ip pool add name=b ranges=10.1.0.3"')
    dev.run('/system scheduler add name=z-first interval=5s on-event="/ip pool add name=a ranges=10.1.0.2"')
    dev.run("/system scheduler add name=a-second interval=5s on-event=second")
    assert dev.tick(clock.at(5)) == ["z-first", "a-second"]
    assert pools(dev) == ["a", "b"]


def test_startup_runs_after_each_boot_and_reboot_resets_the_count(dev, clock):
    clock.at(40)
    dev.run('/system scheduler add name=boot start-time=startup on-event="/ip pool add name=at-boot ranges=10.1.0.2"')
    assert "start-time=startup" in dev.export("terse")
    assert dev.tick(clock.at(50)) == []  # added long after this boot: waits for the next one
    dev.reboot()
    assert dev.tick(clock.at(52)) == []
    assert dev.tick(clock.at(53)) == ["boot"] and pools(dev) == ["at-boot"]
    assert dev.tick(clock.at(500)) == []
    assert scheduled(dev, "boot")["run-count"] == "1"
    dev.run("/ip pool remove at-boot")
    dev.reboot()
    assert scheduled(dev, "boot")["run-count"] == "0"
    assert dev.tick(clock.at(504)) == ["boot"]


def test_an_armed_backup_load_restores_and_reboots(dev, clock):
    dev.run("/ip pool add name=good ranges=10.1.0.2")
    dev.run("/system backup save name=before dont-encrypt=yes")
    before = dev.export("terse").split("\n", 1)[1]
    dev.run('/system scheduler add name=revert interval=30s on-event="/system backup load name=before.backup password=\\"\\""')
    dev.run("/ip pool remove good")
    dev.run("/ip pool add name=bad ranges=10.9.0.2")
    boots = dev.boots
    assert dev.tick(clock.at(29)) == []
    assert dev.tick(clock.at(30)) == ["revert"]
    assert dev.boots == boots + 1, "loading a backup reboots the router"
    assert pools(dev) == ["good"]
    assert dev.export("terse").split("\n", 1)[1] == before, "the scheduler itself was not in the backup"
    assert dev.tick(clock.at(60)) == []


@pytest.mark.parametrize("value", ["run-count=3", "next-run=3"])
def test_runtime_values_are_read_only(dev, value):
    assert dev.run(f"/system scheduler add name=x interval=1m on-event=x {value}") == \
        "expected end of command (line 1 column 53)"
    assert dev.config.menu(("system", "scheduler")).items == []


# ---- /ip service: who may open a new session ---------------------------------------------------------

SERVICE_CASES = [
    # (address list of /ip service ssh, disabled, peer, allowed)
    ("", "no", "127.0.0.1", True),
    ("10.216.1.128/26", "no", "10.216.1.130", True),
    ("10.216.1.128/26", "no", "10.216.1.10", False),
    ("10.216.1.128/26,10.99.0.0/16", "no", "10.99.4.2", True),
    ("127.0.0.1", "no", "127.0.0.1", True),  # a bare address is a /32
    ("127.0.0.1", "no", "127.0.0.2", False),
    ("10.0.0.0/8", "no", "::ffff:10.1.2.3", True),  # an IPv4 peer on a dual-stack socket
    ("", "yes", "127.0.0.1", False),
]


@pytest.mark.parametrize(("address", "disabled", "peer", "allowed"), SERVICE_CASES)
def test_ip_service_decides_who_gets_in(dev, address, disabled, peer, allowed):
    assert dev.run(f'/ip service set ssh address="{address}" disabled={disabled}') == ""
    assert dev.allows("ssh", peer) is allowed


# ---- over SSH: the server's own clock, and logins refused by /ip service ----------------------------

def _login(sim, name: str, **kw):
    from netmiko import ConnectHandler

    return ConnectHandler(device_type="mikrotik_routeros", host="127.0.0.1", port=sim.port(name), username="admin",
                          password="pw", timeout=10, conn_timeout=5, auth_timeout=5, banner_timeout=5, **kw)


@pytest.mark.timeout(90)
def test_over_ssh_a_cut_off_router_reverts_by_its_own_clock():
    """Management cut by `/ip service` (no new session gets in, the open one lives on); with every
    session closed, the router's scheduler restores the backup when the interval ends."""
    with RouterSimulator.start_in_thread([DeviceSpec("R9", password="pw")]) as sim:
        device = sim.device("R9")
        conn = _login(sim, "R9")
        conn.send_command("/system backup save name=ok dont-encrypt=yes")
        conn.send_command('/system scheduler add name=revert interval=4s '
                          'on-event="/system backup load name=ok.backup password=\\"\\""')
        conn.send_command("/ip service set ssh address=192.0.2.0/24")
        assert "192.0.2.0/24" in conn.send_command("/ip service print where name=ssh"), "the open session lives on"
        with pytest.raises(Exception, match="banner|closed|reset|Error reading"):
            _login(sim, "R9")
        conn.disconnect()
        boots = device.boots
        deadline = time.monotonic() + 30
        while device.boots == boots and time.monotonic() < deadline:
            time.sleep(0.25)
        assert device.boots == boots + 1, "the scheduler never ran the revert"
        again = _login(sim, "R9")
        try:
            assert "192.0.2.0/24" not in again.send_command("/ip service print where name=ssh")
        finally:
            again.disconnect()
