"""Village servers and regency hubs (stages "hub" and "server"): one pyinfra run over all their hosts.

    deploy_servers(intents, *, lab, lab_state=None) -> list[StageResult]
        stage "hub" once per regency (site = the hub's name), stage "server" per site
    converge_server(intent)      the server roles in order, on the current pyinfra host
    converge_hub(regency_sites)  the hub role for every site of its regency (all of them, not only
                                 the ones deployed now: a hub never forgets a site)

Both are what deploys/server.py and deploys/hub.py run under plain pyinfra too.
"""

from __future__ import annotations

from pathlib import Path

from desa import runner
from desa.intent import SiteIntent
from desa.results import HostResult, StageResult

SERVER_ROLES = ("base", "hardening", "firewall", "vpn", "monitoring", "backup")


def _roles(names):
    import importlib
    import sys

    from desa.inventory import PROJECT_ROOT

    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    return [importlib.import_module(f"roles.{n}") for n in names]


def _private_uploads() -> None:
    import roles

    roles.private_uploads(name="private upload folder of the deploy user", _sudo=False)


def converge_server(intent: SiteIntent) -> None:
    _roles([])
    _private_uploads()
    for role in _roles(SERVER_ROLES):
        role.run(intent)


def regency_sites(inventory_root: Path, regency: str) -> list[SiteIntent]:
    from desa import inventory

    inv = inventory.load(inventory_root)
    return [i for i in inv.sites.values() if i.regency.slug == regency]


def converge_hub(sites: list[SiteIntent]) -> None:
    (hub,) = _roles(["hub"])
    _private_uploads()
    hub.run(sites)


def _deploy_fn(hosts: dict[str, dict], intents_by_host: dict[str, SiteIntent]):
    cache: dict[tuple[str, str], list[SiteIntent]] = {}

    def one() -> None:
        from pyinfra import host

        data = hosts[host.name]
        if "desa_site" in data:
            converge_server(intents_by_host[host.name])
        else:
            key = (data["desa_inventory"], data["desa_regency"])
            if key not in cache:
                cache[key] = regency_sites(Path(key[0]), key[1])
            converge_hub(cache[key])

    return one


def deploy_servers(intents: list[SiteIntent], *, lab: bool, lab_state: Path | None = None,
                   hubs: bool = True) -> list[StageResult]:
    """Converge the hubs of these sites' regencies and the sites' servers in one pyinfra run."""
    if not intents:
        return []
    lab_state = lab_state or runner.lab_state_dir()
    hub_results = {i.hub.name: StageResult(stage="hub", site=i.hub.name) for i in intents} if hubs else {}
    site_results = {i.slug: StageResult(stage="server", site=i.slug) for i in intents}
    try:
        hosts = runner.targets(intents, lab=lab, hubs=hubs, lab_state=lab_state)
    except (FileNotFoundError, LookupError) as e:
        for i in intents:
            site_results[i.slug].hosts[i.server.hostname] = HostResult(i.server.hostname, failed=True, error=str(e))
        for name, r in hub_results.items():
            r.hosts[name] = HostResult(name, failed=True, error=str(e))
        return list(hub_results.values()) + list(site_results.values())
    by_host = {i.server.hostname: i for i in intents}
    # Hubs first, in a run of their own: a server's first backup needs its hub account and WireGuard peer,
    # and pyinfra (API mode) orders operations by their index on each host, not by role.
    hub_hosts = {n: d for n, d in hosts.items() if n not in by_host}
    server_hosts = {n: d for n, d in hosts.items() if n in by_host}
    results: dict[str, HostResult] = {}
    if hub_hosts:
        results.update(runner.run(hub_hosts, _deploy_fn(hub_hosts, by_host)))
    failed_hubs = {n for n, r in results.items() if r.failed}
    if failed_hubs:
        for name in server_hosts:
            results[name] = HostResult(name, failed=True,
                                       error=f"not deployed: its hub {by_host[name].hub.name} failed → fix the hub first")
        server_hosts = {n: d for n, d in server_hosts.items() if by_host[n].hub.name not in failed_hubs}
    if server_hosts:
        results.update(runner.run(server_hosts, _deploy_fn(server_hosts, by_host)))
    for name, r in results.items():
        if name in by_host:
            site_results[by_host[name].slug].hosts[name] = r
        else:
            hub_results[name].hosts[name] = r
    return list(hub_results.values()) + list(site_results.values())
