"""desa.runner as data: targets per site and hub, the inventory file plain pyinfra reads, op names, results."""

from __future__ import annotations

from desa import runner
from desa.results import HostResult


def test_targets_servers_and_one_hub_per_regency(bekasi):
    intents = list(bekasi.sites.values())
    t = runner.targets(intents, lab=False)
    assert sorted(t) == sorted([i.server.hostname for i in intents] + ["hub-bekasi"])
    s = t["srv-sumberjaya"]
    assert s["desa_site"] == "sumberjaya" and s["ssh_hostname"] == str(bekasi.site("sumberjaya").server.address)
    assert s["ssh_user"] == "desa" and s["desa_lab"] is False
    assert t["hub-bekasi"]["desa_regency"] == "bekasi" and "desa_site" not in t["hub-bekasi"]
    assert "hub-bekasi" not in runner.targets(intents, lab=False, hubs=False)
    for data in t.values():  # a reset connection on a village link is tried again, not a failed host
        assert data["ssh_connect_retries"] == 3 and 0 < data["ssh_connect_retry_min_delay"] <= data[
            "ssh_connect_retry_max_delay"]


def test_pyinfra_inventory_is_loadable(bekasi, tmp_path):
    path = runner.pyinfra_inventory(list(bekasi.sites.values()), lab=False, path=tmp_path / "inv.py")
    scope: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    assert [n for n, _ in scope["hubs"]] == ["hub-bekasi"]
    assert {n for n, _ in scope["servers"]} == {f"srv-{s}" for s in bekasi.sites}
    assert all("password" not in repr(d) for _, d in scope["servers"])


def test_op_name_is_this_hosts_own():
    names = {"base | apt sources", "hub | sysctl: IPv4 forwarding"}
    assert runner._op_name(names, "apt sources") == "base | apt sources"
    assert runner._op_name(names, "sysctl: IPv4 forwarding") == "hub | sysctl: IPv4 forwarding"
    assert runner._op_name({"files.put"}, None) == "files.put"


def test_round_trips_summed_from_the_summary_entry():
    r = HostResult("h", operations=[{"name": "x", "changed": True, "failed": False},
                                     {"name": "ssh round trips", "changed": False, "failed": False, "round_trips": 42}])
    assert runner.round_trips(r) == 42


def test_unreachable_host_is_a_failed_result_not_a_crash(lab_secrets):
    from pyinfra.operations import server

    hosts = {"nowhere": {"ssh_hostname": "192.0.2.254", "ssh_port": 9, "ssh_user": "desa",
                         "ssh_connect_retries": 0}}
    results = runner.run(hosts, lambda: server.shell(name="never", commands=["true"]), connect_timeout=2)
    assert results["nowhere"].failed and "cannot connect" in results["nowhere"].error
