"""Against the RouterOS simulator over SSH on 127.0.0.1: the netmiko session, deploy_site/plan_site,
the pyinfra connector run by plain `pyinfra`, and `desa plan`/`desa deploy` through the CLI.

One simulator per module (a device per scenario, free ports). The site inventory is a private copy
whose routed pool is 127.77.0.0/16, so each router's management address (127.77.S.129) is a
loopback address the simulator can listen on; its `devices.router.ssh_port` names the simulator's port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from desa import inventory
from desa.network.connection import RouterOSError, open_router
from desa.network.deploy import deploy_site, plan_site
from desa.network.export import parse
from desa.network.safety import REVERT_NAME

server = pytest.importorskip("desa.routeros.server")
RouterSimulator, DeviceSpec = server.RouterSimulator, server.DeviceSpec

PROJECT = Path(__file__).resolve().parents[2]
PYINFRA = Path(sys.executable).with_name("pyinfra")
SITE = "sumberjaya"
CLI_ADDRESS = "127.77.2.129"  # sumberjaya's management gateway in the 127.77.0.0/16 plan
TIMEOUT = 20.0  # seconds per RouterOS command over SSH


@pytest.fixture(scope="module")
def env(tmp_path_factory, monkeypatch_module):
    """A private state dir (backups, journal); secrets in lab mode (conftest). Subprocesses
    (pyinfra) inherit both through the environment."""
    tmp = tmp_path_factory.mktemp("ssh")
    monkeypatch_module.setenv("DESA_STATE", str(tmp / "state"))
    from desa.secrets import resolve

    return {"tmp": tmp, "resolve": resolve}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def root(env):
    from desa.lab.testing import private_inventory

    return private_inventory(env["tmp"], sites=[SITE], routed="127.77.0.0/16", hub_endpoint="10.98.77.2")


@pytest.fixture(scope="module")
def intent(root):
    return inventory.load(root).site(SITE)


DEVICES = ("converged", "halfway", "cutoff", "pyinfra", "pyinfra-conflict", "pyinfra-cutoff", "session", "connector")


@pytest.fixture(scope="module")
def sim(env, intent):
    password = env["resolve"](intent.router.password)
    specs = [DeviceSpec(identity=name, host="127.0.0.1", username=intent.router.username, password=password)
             for name in DEVICES]
    specs.append(DeviceSpec(identity="cli", host=CLI_ADDRESS, username=intent.router.username, password=password))
    with RouterSimulator.start_in_thread(devices=specs) as simulator:
        yield simulator


def opener(intent, sim, name):
    return lambda: open_router(intent, host=sim.spec(name).host, port=sim.port(name), timeout=TIMEOUT)


def commands_of(result) -> list[str]:
    return [op["name"] for op in next(iter(result.hosts.values())).operations]


# ---- the netmiko session ----------------------------------------------------------------------------

def test_session_sends_and_raises_routeros_errors(intent, sim):
    with opener(intent, sim, "session")() as session:
        assert "name: session" in session.send("/system identity print")
        session.send('/ip pool add name=probe ranges=10.9.9.10-10.9.9.20 comment="desa-test"')
        assert "probe" in session.send("/ip pool print")
        for bad, wording in [("/ip adress print", "bad command name"),
                             ("/ip pool add name=probe2", "missing value"),
                             ("/ip firewall filter add chain=input action=acept", "input does not match"),
                             ("/ip pool set 99 name=q", "no such item"),
                             ("/ip pool add name=probe ranges=10.9.9.30", "already have")]:
            with pytest.raises(RouterOSError, match=wording) as e:
                session.send(bad)
            assert e.value.command == bad
        # `[ find name=… ]` without `where` is valid RouterOS (the simulator rejected it once)
        session.send('/ip pool remove [ find name="probe" ]')
        assert "probe" not in session.send("/ip pool print")
        session.send_last("/system identity set name=renamed")  # the prompt changes: re-read
        assert "name: renamed" in session.send("/system identity print")
        assert session.local_address == "127.0.0.1"


def test_wrong_password_is_refused(intent, sim):
    from netmiko.exceptions import NetmikoAuthenticationException

    with pytest.raises(NetmikoAuthenticationException):
        from desa.network.connection import connect

        connect("127.0.0.1", sim.port("session"), intent.router.username, "not-the-password",
                timeout=TIMEOUT, conn_timeout=5)


def test_connector_runs_commands_and_moves_files_over_scp(intent, sim, env):
    """The pyinfra connector in process: failure on a RouterOS error, upload + `/import`, download."""
    import io

    from pyinfra.api import Config, Inventory, State

    data = {"routeros_hostname": "127.0.0.1", "routeros_port": sim.port("connector"), "routeros_user": "desa",
            "routeros_password": intent.router.password, "routeros_timeout": int(TIMEOUT)}
    inv = Inventory(([("@routeros/connector", data)], {}))
    State(inv, Config())
    host = inv.get_host("@routeros/connector")
    assert type(host.connector).__name__ == "RouterOSConnector"
    host.connect()
    try:
        script = b"/ip pool add name=from-file ranges=10.1.1.1-10.1.1.9 comment=uploaded\n"
        assert host.connector.put_file(io.BytesIO(script), "flash/desa-test.rsc")
        assert sim.device("connector").files.read("flash/desa-test.rsc") == script
        ok, out = host.run_shell_command("/import file-name=flash/desa-test.rsc")
        assert ok, out.stderr
        ok, out = host.run_shell_command("/ip pool print")
        assert ok and "from-file" in out.stdout
        ok, out = host.run_shell_command("/ip pool add name=from-file ranges=10.1.1.20")
        assert not ok and "already have" in out.stderr
        ok, out = host.run_shell_command("/system identity print\n/ip adress print\n/system note print")
        assert not ok and out.stdout.startswith("name: connector") and "bad command name" in out.stderr
        back = io.BytesIO()
        assert host.connector.get_file("flash/desa-test.rsc", back) and back.getvalue() == script
        sim.device("connector").files.write("flash/bad.rsc", b"/ip adress print\n")
        ok, out = host.run_shell_command("/import file-name=flash/bad.rsc")
        assert not ok and "bad command name" in out.stderr
    finally:
        host.disconnect()


# ---- deploy_site / plan_site over SSH ---------------------------------------------------------------

@pytest.fixture(scope="module")
def converged(intent, sim):
    return sim.device("converged"), deploy_site(intent, opener=opener(intent, sim, "converged"))


def test_fresh_router_deploy_then_zero_changes(intent, sim, converged, env):
    device, first = converged
    assert not first.failed, first.error
    assert first.changed > 20
    assert device.identity == intent.router.identity
    assert plan_site(intent, opener=opener(intent, sim, "converged")) == {intent.router.identity: []}
    again = deploy_site(intent, opener=opener(intent, sim, "converged"))
    assert not again.failed and again.changed == 0, commands_of(again)
    # the backup of the first deploy: text export kept locally (0600), binary fetched by SCP
    kept = list((Path(os.environ["DESA_STATE"]) / "network" / intent.slug).glob("*"))
    assert len(kept) == 1, "one backup per deploy that changed something, none for a no-op"
    assert oct((kept[0] / "export.rsc").stat().st_mode & 0o777) == "0o600"
    binaries = list(kept[0].glob("*.backup"))
    assert binaries and binaries[0].read_bytes() == device.files.read(binaries[0].name)
    names = [i.props.get("name") for i in parse(device.export("terse")).menu("/system scheduler")]
    assert REVERT_NAME not in names, "a confirmed push disarms the revert"


def test_manual_changes_owned_reverted_unowned_and_voucher_kept(intent, sim, converged):
    device, first = converged
    assert not first.failed, first.error
    device.run('/ip firewall filter set [ find where comment="desa:fw-in-drop" ] disabled=yes')
    device.run('/ip dns set servers=9.9.9.9')
    device.run('/ip firewall filter add chain=forward action=accept src-address=10.9.9.9 comment="teknisi: kamera"')
    device.run('/ip hotspot user profile add name=mikhmon-1jam rate-limit=1M/1M shared-users=1')
    device.run('/ip hotspot user add name=vc123 password=abc profile=mikhmon-1jam '
               'comment="vc-123-11.28.26-mikhmon"')
    plan = plan_site(intent, opener=opener(intent, sim, "converged"))[intent.router.identity]
    assert '/ip firewall filter set [ find where comment="desa:fw-in-drop" ] disabled=no' in plan
    assert any(c.startswith("/ip dns set") and "servers=" in c for c in plan)
    assert not any("teknisi" in c or "vc123" in c or "mikhmon" in c for c in plan), plan
    result = deploy_site(intent, opener=opener(intent, sim, "converged"))
    assert not result.failed, result.error
    assert result.changed == len(plan)
    export = parse(device.export("terse"))
    rules = export.menu("/ip firewall filter")
    assert next(r for r in rules if r.comment == "desa:fw-in-drop").props.get("disabled", "no") == "no"
    assert "9.9.9.9" not in export.menu("/ip dns")[0].props.get("servers", "")
    assert any(r.comment == "teknisi: kamera" for r in rules)
    assert [u.comment for u in export.menu("/ip hotspot user") if u.props.get("name") == "vc123"] == [
        "vc-123-11.28.26-mikhmon"]
    assert any(p.props.get("name") == "mikhmon-1jam" for p in export.menu("/ip hotspot user profile"))
    assert plan_site(intent, opener=opener(intent, sim, "converged")) == {intent.router.identity: []}


def test_push_dropped_half_way_then_next_deploy_converges(intent, sim):
    device = sim.device("halfway")
    device.faults.drop_after_commands = 30  # export, backup (3), revert (2), then ~24 changes
    try:
        broken = deploy_site(intent, opener=opener(intent, sim, "halfway"))
    finally:
        device.faults.drop_after_commands = None
    assert broken.failed
    host = broken.hosts[intent.router.identity]
    assert 10 < host.changed < 30 and "closed the session (after" in host.error, host.error
    assert device.identity != intent.router.identity, "identity is applied last: not reached"
    assert "not confirmed" in host.error, host.error
    armed = [i for i in parse(device.export("terse")).menu("/system scheduler") if i.props.get("name") == REVERT_NAME]
    assert len(armed) == 1, "a push that failed part-way is never confirmed"
    fixed = deploy_site(intent, opener=opener(intent, sim, "halfway"))
    assert not fixed.failed, fixed.error
    assert fixed.changed > 0
    assert device.identity == intent.router.identity
    names = [i.props.get("name") for i in parse(device.export("terse")).menu("/system scheduler")]
    assert REVERT_NAME not in names, "the re-run completed the push and confirmed it"
    assert plan_site(intent, opener=opener(intent, sim, "halfway")) == {intent.router.identity: []}


REVERT_SECONDS = 15  # longer than the push and the confirmation's three tries (2 s apart)


def wait_for_revert(device, boots: int, limit: float = 60.0) -> None:
    """Nobody connected: wait until the router's own scheduler has loaded the backup (it reboots)."""
    started = time.monotonic()
    while device.boots == boots and time.monotonic() - started < limit:
        time.sleep(0.25)
    assert device.boots == boots + 1, "the router never rolled itself back"


def test_push_that_cuts_management_is_rolled_back_by_the_router_itself(intent, sim, monkeypatch):
    """A converged router, then a plan that forgets the address we manage from (the guard
    `management_sources` broken): after the push `/ip service ssh` lets 127.0.0.1 in no more, the
    confirmation cannot get in, the deploy says so and leaves; with nobody connected the router's
    scheduler loads the pre-push backup when the interval ends, and management works again."""
    import desa.network.deploy as network_deploy

    device = sim.device("cutoff")
    monkeypatch.setenv("DESA_REVERT_SECONDS", str(REVERT_SECONDS))
    assert not deploy_site(intent, opener=opener(intent, sim, "cutoff")).failed
    before = parse(device.export("terse")).menus
    monkeypatch.setattr(network_deploy, "management_sources", lambda intent, session: [])
    boots = device.boots
    result = deploy_site(intent, opener=opener(intent, sim, "cutoff"))
    assert result.failed and "management access lost" in result.error, result.error
    assert not device.allows("ssh", "127.0.0.1"), "the push really cut management"
    with pytest.raises(Exception):
        with opener(intent, sim, "cutoff")() as session:
            session.send("/system identity print")
    assert device.boots == boots and sim.server.hosted["cutoff"].sessions == 0
    wait_for_revert(device, boots)
    with opener(intent, sim, "cutoff")() as session:  # management is back
        assert parse(session.export()).menus == before


def test_plain_pyinfra_push_that_cuts_management_is_rolled_back_too(env, root, intent, sim):
    """The same through plain `pyinfra` and the connector: a converged router, then a deploy file
    that renders the site without the controller's address; pyinfra reports the failed
    confirmation, the router reverts."""
    device = sim.device("pyinfra-cutoff")
    assert not deploy_site(intent, opener=opener(intent, sim, "pyinfra-cutoff")).failed
    before = parse(device.export("terse")).menus
    deploy = env["tmp"] / "forgets_the_controller.py"
    deploy.write_text(
        "from pathlib import Path\n"
        "from pyinfra import host\n"
        "from desa import inventory\n"
        "from desa.network import operations as routeros\n"
        "from desa.network.render import render_site\n"
        "intent = inventory.load(Path(host.data.desa_inventory)).site(host.data.desa_site)\n"
        f"routeros.config(name='forgets the controller', rsc=render_site(intent), site=intent.slug,\n"
        f"                revert_seconds={REVERT_SECONDS})\n")
    inv = _pyinfra_inventory(env["tmp"] / "inventory_cutoff.py", root,
                             {"pyinfra-cutoff": sim.port("pyinfra-cutoff")}, intent.router.password)
    boots = device.boots
    run = run_pyinfra(env, inv, str(deploy))
    text = run.stdout + run.stderr
    assert run.returncode != 0 and "management access lost" in text, text[-3000:]
    assert device.boots == boots and not device.allows("ssh", "127.0.0.1")
    wait_for_revert(device, boots)
    with opener(intent, sim, "pyinfra-cutoff")() as session:
        assert parse(session.export()).menus == before


# ---- plain pyinfra with the `routeros` connector ----------------------------------------------------

def _pyinfra_inventory(path: Path, root: Path, hosts: dict[str, int], password_ref: str) -> Path:
    lines = ["hosts = ["]
    for name, port in hosts.items():
        data = {"routeros_hostname": "127.0.0.1", "routeros_port": port, "routeros_user": "desa",
                "routeros_password": password_ref, "routeros_timeout": int(TIMEOUT),
                "desa_site": SITE, "desa_inventory": str(root)}
        lines.append(f"    ({f'@routeros/{name}'!r}, {data!r}),")
    lines.append("]")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_pyinfra(env, inventory_file: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    penv = dict(os.environ, PYTHONPATH=str(PROJECT), NO_COLOR="1")
    return subprocess.run([str(PYINFRA), "-y", str(inventory_file), *args], cwd=PROJECT, env=penv,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def grand_total(run: subprocess.CompletedProcess) -> dict[str, int]:
    """pyinfra's results table, last row: `Grand total  HOSTS  SUCCESS  ERROR  NO-CHANGE` (`-` = 0)."""
    for line in (run.stdout + run.stderr).splitlines():
        if line.strip().startswith("Grand total"):
            cells = [0 if c == "-" else int(c) for c in line.split()[2:]]
            return dict(zip(("hosts", "success", "error", "no change"), cells))
    raise AssertionError("no results table in pyinfra's output:\n" + (run.stdout + run.stderr)[-3000:])


def test_pyinfra_deploy_changes_then_no_change(env, root, intent, sim):
    inv = _pyinfra_inventory(env["tmp"] / "inventory_routers.py", root, {"pyinfra": sim.port("pyinfra")},
                             intent.router.password)
    kept = Path(os.environ["DESA_STATE"]) / "network" / intent.slug
    before = set(kept.glob("*"))
    first = run_pyinfra(env, inv, "deploys/network.py")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert grand_total(first) == {"hosts": 1, "success": 1, "error": 0, "no change": 0}
    device = sim.device("pyinfra")
    assert device.identity == intent.router.identity
    backups = set(kept.glob("*")) - before  # the pyinfra path backs up first, as `desa deploy` does
    assert len(backups) == 1 and (backups.pop() / "export.rsc").stat().st_size > 0
    scheduler = [i.props.get("name") for i in parse(device.export("terse")).menu("/system scheduler")]
    assert REVERT_NAME not in scheduler, "the revert armed for the firewall changes was confirmed"
    second = run_pyinfra(env, inv, "deploys/network.py")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert grand_total(second) == {"hosts": 1, "success": 0, "error": 0, "no change": 1}
    assert len(set(kept.glob("*")) - before) == 1, "no backup when nothing changes"
    assert plan_site(intent, opener=opener(intent, sim, "pyinfra")) == {intent.router.identity: []}
    secret = env["resolve"](intent.router.password)
    assert secret not in first.stdout + first.stderr + second.stdout + second.stderr


def test_pyinfra_reports_routeros_errors_as_failures(env, root, intent, sim):
    device = sim.device("pyinfra-conflict")
    # a technician's bridge holds the name our office VLAN needs: RouterOS refuses the VLAN
    vlan = intent.segment("office").interface
    device.run(f"/interface bridge add name={vlan} comment=teknisi")
    inv = _pyinfra_inventory(env["tmp"] / "inventory_conflict.py", root,
                             {"pyinfra-conflict": sim.port("pyinfra-conflict")}, intent.router.password)
    run = run_pyinfra(env, inv, "deploys/network.py")
    text = run.stdout + run.stderr
    assert run.returncode != 0, text[-3000:]
    assert "[@routeros/pyinfra-conflict] Error" in text and "Success" not in text, text[-3000:]
    assert "already have interface with such name" in text, text[-3000:]
    armed = [i.props.get("name") for i in parse(device.export("terse")).menu("/system scheduler")]
    assert REVERT_NAME in armed, "a push that failed is never confirmed: the router restores its backup"
    bad = run_pyinfra(env, inv, "exec", "--", "/ip adress print")
    assert bad.returncode != 0 and "bad command name" in bad.stdout + bad.stderr, bad.stderr[-3000:]


# ---- desa plan / desa deploy through the CLI, then the site checks ---------------------------------

@pytest.fixture(scope="module")
def cli_root(root, sim, monkeypatch_module):
    """The inventory copy with sumberjaya's router at the `cli` simulator (address and port)."""
    site_file = root / "bekasi" / "sites" / f"{SITE}.yaml"
    yaml = YAML()
    doc = yaml.load(site_file.read_text())
    doc.setdefault("devices", {}).setdefault("router", {})["ssh_port"] = sim.port("cli")
    with site_file.open("w") as f:
        yaml.dump(doc, f)
    monkeypatch_module.setenv("DESA_INVENTORY", str(root))
    cli_intent = inventory.load(root).site(SITE)
    assert (str(cli_intent.router.address), cli_intent.router.port) == (CLI_ADDRESS, sim.port("cli"))
    return root


@pytest.fixture(scope="module")
def cli_deployed(cli_root):
    from typer.testing import CliRunner

    from desa.cli import app

    runner = CliRunner()
    identity = inventory.load(cli_root).site(SITE).router.identity

    def plan() -> list[str]:
        res = runner.invoke(app, ["plan", SITE, "--only", "network", "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["devices"][identity]["commands"]

    before = plan()
    deployed = runner.invoke(app, ["deploy", SITE, "--only", "network", "-y", "--json"])
    return {"identity": identity, "before": before, "deployed": deployed, "after": plan()}


def test_cli_plan_and_deploy_network(cli_deployed, sim):
    before, deployed = cli_deployed["before"], cli_deployed["deployed"]
    assert len(before) > 20 and before[-1].startswith("/system identity set")
    assert sim.device("cli").identity == cli_deployed["identity"]
    assert deployed.exit_code == 0, deployed.output
    report = json.loads(deployed.stdout)
    assert report["hosts"][cli_deployed["identity"]]["changed"] == len(before)
    assert Path(report["journal"]).is_relative_to(os.environ["DESA_STATE"])
    assert cli_deployed["after"] == []


def run_checks(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "checks/test_network.py",
                           "--desa-site", SITE, "--desa-inventory", str(root)],
                          cwd=PROJECT, env=dict(os.environ, PYTHONPATH=str(PROJECT)), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_site_checks_pass_on_the_deployed_router_and_name_drift(cli_deployed, cli_root, sim):
    assert cli_deployed["deployed"].exit_code == 0
    good = run_checks(cli_root)  # `pytest checks/…` as `desa check` runs it
    assert good.returncode == 0 and "6 passed" in good.stdout, good.stdout[-3000:]
    sys.path.insert(0, str(PROJECT))
    try:
        from checks import test_network as checks
    finally:
        sys.path.remove(str(PROJECT))
    cli_intent = inventory.load(cli_root).site(SITE)
    device = sim.device("cli")
    device.run('/interface wireguard peers set [ find where comment~"^desa:" ] endpoint-address=10.1.2.3')
    try:
        with open_router(cli_intent, timeout=TIMEOUT) as router:
            checks.test_identity(router, cli_intent)
            for check, says in [(checks.test_wireguard_peer_to_hub, "no WireGuard peer to hub"),
                                (checks.test_no_drift, "router drifted from intent")]:
                with pytest.raises(AssertionError) as failed:
                    check(router, cli_intent)
                message = str(failed.value).splitlines()[0]
                assert says in message and message.endswith(f"`desa deploy {SITE} --only network`"), message
    finally:
        device.run(f'/interface wireguard peers set [ find where comment~"^desa:" ] '
                   f'endpoint-address={cli_intent.hub.endpoint}')
