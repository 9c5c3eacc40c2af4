"""Against the RouterOS simulator (in process: `desa.routeros.device.Device`, the same interpreter the
SSH simulator serves): converge, idempotence, ownership, vouchers, half-way failures, hostile values."""

import re
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from desa import inventory
from desa.network import desired, safety
from desa.network.connection import check_output
from desa.network.deploy import deploy_site, plan_site
from desa.network.diff import diff
from desa.network.export import Export, parse
from desa.network.render import render_context

from .test_render import HOSTILE, expected_values, hostile_context

device_mod = pytest.importorskip("desa.routeros.device")

WG_KEY = "kHjL1zRDS2l4HbSG3r4VvRmlXXtF9dKwU6MJ4Hcmz1E="
class DeviceSession:
    """The RouterOSSession interface over an in-process simulated device."""

    def __init__(self, device, drop_after: int | None = None):
        self.device = device
        self.conn = None
        self.sent: list[str] = []
        self.drop_after = drop_after

    def send(self, command: str, *, timeout=None) -> str:
        if self.drop_after is not None and len(self.sent) >= self.drop_after:
            raise EOFError("session dropped by the router")
        self.sent.append(command)
        real = command.replace("<secret:sites/sumberjaya/wireguard>", WG_KEY)
        return check_output(command, self.device.run(real))

    send_last = send

    def export(self, menu: str = "", *, terse: bool = True) -> str:
        return self.device.export("terse")

    local_address = None


@pytest.fixture(scope="module")
def intent():
    return inventory.load().site("sumberjaya")


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("DESA_STATE", str(tmp_path))


def opener_for(device, **kw):
    @contextmanager
    def opener():
        yield DeviceSession(device, **kw)
    return opener


def new_device(blank=False):
    return device_mod.Device("MikroTik", username="desa", password="pw", blank=blank)


def test_fresh_router_deploy_then_zero_changes(intent):
    device = new_device()
    first = deploy_site(intent, opener=opener_for(device))
    assert not first.failed, first.error
    assert first.changed > 0
    assert plan_site(intent, opener=opener_for(device)) == {intent.router.identity: []}
    assert device.identity == intent.router.identity


def _converged(intent, device):
    deploy_site(intent, opener=opener_for(device))
    return plan_site(intent, opener=opener_for(device))[intent.router.identity]


def test_manual_change_to_owned_item_reverted_unowned_kept_voucher_survives(intent):
    device = new_device()
    assert _converged(intent, device) == []
    device.run('/ip firewall filter set [ find where comment="desa:fw-in-drop" ] disabled=yes')
    device.run('/ip firewall filter add chain=forward action=accept src-address=10.9.9.9 comment="teknisi: kamera"')
    device.run('/ip hotspot user add name=vc123 password=abc profile=warga comment="vc-123-11.28.26-mikhmon"')
    device.run('/ip hotspot user profile add name=mikhmon-1jam rate-limit=1M/1M')
    plan = plan_site(intent, opener=opener_for(device))[intent.router.identity]
    assert '/ip firewall filter set [ find where comment="desa:fw-in-drop" ] disabled=no' in plan
    assert not any("teknisi" in c or "vc123" in c or "mikhmon" in c for c in plan)
    deploy_site(intent, opener=opener_for(device))
    export = parse(device.export("terse"))
    rules = export.menu("/ip firewall filter")
    drop = next(r for r in rules if r.comment == "desa:fw-in-drop")
    assert drop.props.get("disabled", "no") == "no"
    assert any(r.comment == "teknisi: kamera" for r in rules)
    assert any(u.props.get("name") == "vc123" for u in export.menu("/ip hotspot user"))
    assert any(p.props.get("name") == "mikhmon-1jam" for p in export.menu("/ip hotspot user profile"))


def test_push_failing_half_way_then_next_deploy_converges(intent):
    device = new_device()
    broken = deploy_site(intent, opener=opener_for(device, drop_after=25))
    assert broken.failed and "dropped" in broken.error
    assert _converged(intent, device) == []


def test_backup_kept_before_change(intent, tmp_path):
    device = new_device()
    deploy_site(intent, opener=opener_for(device))
    exports = list((tmp_path / "network" / intent.slug).glob("*/export.rsc"))
    assert exports and "/interface" in exports[0].read_text()
    assert any(f["name"].endswith(".backup") for f in device.files.listing())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=HOSTILE)
def test_simulator_receives_hostile_strings_only_as_values(intent, s):
    """Hostile values pushed to a simulated router are stored by it as the same values (no command
    injected: every command is accepted and each field holds exactly the hostile string)."""
    menus = ("/system identity", "/system note", "/ip dns", "/ip hotspot walled-garden")
    want = parse(render_context(hostile_context(desired.context(intent), s)))
    device = new_device(blank=True)
    for change in diff(Export({m: want.menus[m] for m in menus}), parse(device.export("terse"))):
        check_output(change.command, device.run(change.command))
    for (menu, prop), value in expected_values(s).items():
        # identity: the model allows [A-Za-z0-9_-] only; RouterOS trims control characters from it
        if menu in menus and menu != "/system identity":
            assert stored(device, menu)[prop] == value


def stored(device, menu: str) -> dict:
    """What the simulated router holds for the first static item of a menu."""
    items = [i for i in device.config.menu(tuple(menu.strip("/").split())).items if not i.dynamic]
    return items[0].props


def test_simulator_export_keeps_a_trailing_newline():
    device = new_device(blank=True)
    check_output("set", device.run('/system note set note="x\\n"'))
    assert stored(device, "/system note")["note"] == "x\n"
    assert parse(device.export("terse")).menu("/system note")[0].props["note"] == "x\n"


def armed_revert(device) -> list:
    return [i for i in parse(device.export("terse")).menu("/system scheduler") if i.props.get("name") == "desa-revert"]


def test_change_cutting_management_is_left_armed_and_the_router_reverts_by_its_clock(intent, monkeypatch):
    """A push after which no new session gets in stays armed; when the interval ends the router's own
    scheduler loads the pre-push backup (the device's clock, stepped here)."""
    monkeypatch.setenv("DESA_REVERT_SECONDS", "120")
    monkeypatch.setattr(safety.time, "sleep", lambda s: None)
    clock = [datetime(2026, 11, 28, 10, 0, 0)]
    device = device_mod.Device("MikroTik", username="desa", password="pw", clock=lambda: clock[0])
    before = device.export("terse")
    opens = []

    @contextmanager
    def opener():
        opens.append(1)
        if len(opens) > 1:
            raise ConnectionRefusedError("management cut: ssh refused")
        yield DeviceSession(device)

    result = deploy_site(intent, opener=opener)
    assert result.failed and "management access lost" in result.error
    sched = armed_revert(device)
    assert len(sched) == 1, "the revert must stay armed when the push is not confirmed"
    assert device.tick(clock[0] + timedelta(seconds=119)) == []
    assert parse(device.export("terse")).menus != parse(before).menus
    assert device.tick(clock[0] + timedelta(seconds=120)) == ["desa-revert"]
    assert parse(device.export("terse")).menus == parse(before).menus


def test_failed_push_is_not_confirmed_and_a_rerun_keeps_the_last_confirmed_backup(intent, monkeypatch):
    """Whole or nothing: a push that fails part-way stays armed (as with plain pyinfra); a re-run
    re-arms the same pre-push backup, not the half-applied state, and confirms once it completes."""
    monkeypatch.setenv("DESA_REVERT_SECONDS", "120")
    clock = [datetime(2026, 11, 28, 10, 0, 0)]
    device = device_mod.Device("MikroTik", username="desa", password="pw", clock=lambda: clock[0])
    before = device.export("terse")
    broken = deploy_site(intent, opener=opener_for(device, drop_after=25))
    assert broken.failed and "not confirmed: the router restores backup desa-pre-" in broken.error, broken.error
    first = armed_revert(device)[0].props["on-event"]
    # nobody re-runs: the router returns to its pre-push state by itself
    assert device.tick(clock[0] + timedelta(seconds=120)) == ["desa-revert"]
    assert parse(device.export("terse")).menus == parse(before).menus
    # fails again; this time a re-run follows before the interval ends
    clock[0] += timedelta(minutes=5)
    assert deploy_site(intent, opener=opener_for(device, drop_after=25)).failed
    target = armed_revert(device)[0].props["on-event"]
    assert target != first
    rerun = DeviceSession(device)
    fixed = deploy_site(intent, opener=lambda: _yield(rerun))
    assert not fixed.failed, fixed.error
    rearmed = [c for c in rerun.sent if c.startswith("/system scheduler add") and "desa-revert" in c]
    backup_name = re.search(r"desa-pre-[0-9T]+-[0-9a-f]+", target).group(0)
    assert len(rearmed) == 1 and backup_name in rearmed[0], rearmed
    assert backup_name not in rerun.sent[1], "the re-run took its own backup, under another name"
    assert armed_revert(device) == [], "the completed push was confirmed"
    assert _converged(intent, device) == []


@contextmanager
def _yield(session):
    yield session


def test_confirmed_push_disarms_the_revert(intent):
    device = new_device()
    assert not deploy_site(intent, opener=opener_for(device)).failed
    names = [i.props.get("name") for i in parse(device.export("terse")).menu("/system scheduler")]
    assert "desa-revert" not in names
