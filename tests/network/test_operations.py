"""The pyinfra operations as data: facts in → commands out, including "nothing to do" (no router)."""

import pytest
from pyinfra.api import Config, FunctionCommand, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from desa.network import operations
from desa.network.export import parse
from desa.network.facts import RouterOSExport, RouterOSIdentity, RouterOSResource

POOL = "/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126\n"
RULE = "/ip firewall filter\nadd action=drop chain=input comment=desa:drop\n"


@pytest.fixture
def host(monkeypatch):
    inventory = Inventory(([("@routeros/r1", {"routeros_hostname": "192.0.2.1"})], {}))
    state = State(inventory, Config())
    host = inventory.get_host("@routeros/r1")
    facts: dict = {}
    monkeypatch.setattr(host, "get_fact", lambda fact, *a, **kw: facts[fact])
    host.facts = facts
    with ctx_state.use(state), ctx_host.use(host):
        yield host


def run(op, **kwargs) -> list:
    return list(op._inner(**kwargs))


def test_config_yields_only_the_delta(host):
    host.facts[RouterOSExport] = parse("/ip pool\nadd comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.100\n")
    assert run(operations.config, rsc=POOL) == [
        '/ip pool set [ find where comment="desa:pool-office" ] ranges=10.0.0.64-10.0.0.126']


def test_config_nothing_to_do(host):
    host.facts[RouterOSExport] = parse(POOL)
    assert run(operations.config, rsc=POOL) == []
    assert run(operations.config, rsc=POOL, site="lambangsari") == []  # no backup when nothing changes


def test_config_with_a_site_backs_up_first(host):
    host.facts[RouterOSExport] = parse("")
    out = run(operations.config, rsc=POOL, site="lambangsari", revert_seconds=90)
    assert isinstance(out[0], FunctionCommand) and out[0].function is operations._backup_and_arm
    # a pool cannot cut management: no revert armed; the running configuration goes along (an earlier
    # unconfirmed revert is read from it, not asked for again)
    assert out[0].args == ("lambangsari", False, 90, host.facts[RouterOSExport])
    assert out[1:] == ['/ip pool add comment=desa:pool-office name=pool-office ranges=10.0.0.64-10.0.0.126']


def test_config_risky_change_is_armed_then_confirmed(host):
    host.facts[RouterOSExport] = parse("")
    out = run(operations.config, rsc=RULE, site="lambangsari")
    assert out[0].args == ("lambangsari", True, 120, host.facts[RouterOSExport])
    assert out[1] == "/ip firewall filter add action=drop chain=input comment=desa:drop"
    assert isinstance(out[-1], FunctionCommand) and out[-1].function is operations._confirm


PENDING = [
    # (running /system scheduler, the backup an earlier unconfirmed push armed)
    ("", None),
    ('/system scheduler\nadd name=teknisi interval=1d on-event="/system backup save"\n', None),
    ('/system scheduler\nadd comment="desa: reverts an unconfirmed push" interval=120s name=desa-revert '
     'on-event="/system backup load name=\\"desa-pre-20261128T101500-a1b2c3.backup\\" password=\\"\\""\n',
     "desa-pre-20261128T101500-a1b2c3"),
]


@pytest.mark.parametrize(("running", "backup"), PENDING)
def test_pending_revert_is_read_from_the_running_configuration(running, backup):
    from desa.network.safety import pending_revert

    assert pending_revert(parse(running)) == backup


def test_identity_set_or_nothing(host):
    host.facts[RouterOSIdentity] = "MikroTik"
    assert run(operations.identity, identity='gw "1"') == ['/system identity set name="gw \\"1\\""']
    host.facts[RouterOSIdentity] = "lambangsari-gw"
    assert run(operations.identity, identity="lambangsari-gw") == []


def test_facts_parse_print_output():
    assert RouterOSIdentity().process(["  name: lambangsari-gw"]) == "lambangsari-gw"
    res = RouterOSResource().process(["  version: 7.16 (stable)", "  free-memory: 196.7MiB"])
    assert res == {"version": "7.16 (stable)", "free-memory": "196.7MiB"}
    assert RouterOSExport().command("ip pool") == "/ip pool export terse"
    assert RouterOSExport().process(POOL.splitlines()).menu("/ip pool")[0].comment == "desa:pool-office"
