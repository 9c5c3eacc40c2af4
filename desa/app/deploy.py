"""Deploy the village apps (stage "app"): pyinfra over SSH to each site's server, results per host.

    deploy_apps(intents, *, lab=False, lab_state=None) -> list[StageResult]
    converge(intent, *, lab, project_root, inventory_root)     # the roles, inside a pyinfra deploy

`converge` is what `deploys/app.py` runs under plain pyinfra too. OpenSID sites get PHP-FPM, MariaDB
(a database and least-privilege user, password `secret:sites/SLUG/app-db`), nginx with TLS and the
release switch; opaque sites get nginx in front of their service and data backups.

Hosts and the pyinfra run come from the server team's `desa.runner` (one run over all the sites'
servers, results per host, secrets masked, one pyinfra run at a time per process): with `lab=True`
through the lab's pyinfra inventory (state dir `lab_state` or $DESA_LAB_STATE), otherwise at the
inventory's addresses as `ssh_user` with sudo.
"""

from __future__ import annotations

import sys
from pathlib import Path

from desa import runner
from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent
from desa.results import HostResult, StageResult


def _roles():
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from roles import app as app_role
    from roles import database, opaque_app, php, web

    return app_role, database, opaque_app, php, web


def converge(intent: SiteIntent, *, lab: bool, project_root: Path, inventory_root: Path) -> None:
    """The app of one site, as pyinfra operations on the current host."""
    app_role, database, opaque_app, php, web = _roles()
    app = intent.app
    if app is None:
        return
    before = web.install()
    before += web.certificate(intent, inventory_root)
    if app.kind == "opensid":
        from desa.secrets import resolve

        php.install()
        database.install()
        password = resolve(database.password_ref(intent.slug))
        database.app_database(slug=intent.slug, database=app_role.DATABASE, password=password)
        app_role.opensid(intent, project_root=project_root, db_password=password)
        web.site(intent, "opensid.conf.j2", changed_before=before, base="/srv/desa/opensid", fpm_socket=php.SOCKET)
    else:
        opaque_app.run(intent, lab=lab)
        web.site(intent, "opaque.conf.j2", changed_before=before, service=app.service, port=app.port)


def targets(intents: list[SiteIntent], *, lab: bool, lab_state: Path | None = None) -> dict[str, dict]:
    """{server host name: pyinfra host data} of the sites (no hubs: the app lives on the servers)."""
    return runner.targets(intents, lab=lab, hubs=False, servers=True, lab_state=lab_state)


def deploy_apps(intents: list[SiteIntent], *, lab: bool = False, lab_state: Path | None = None) -> list[StageResult]:
    """Converge the apps of `intents` (sites without an app are left out); one StageResult per site."""
    intents = [i for i in intents if i.app is not None]
    if not intents:
        return []
    lab_state = lab_state or runner.lab_state_dir()
    results = {i.slug: StageResult(stage="app", site=i.slug) for i in intents}
    try:
        hosts = targets(intents, lab=lab, lab_state=lab_state)
    except (FileNotFoundError, LookupError) as e:
        for i in intents:
            results[i.slug].hosts[i.server.hostname] = HostResult(host=i.server.hostname, failed=True, error=str(e))
        return list(results.values())
    by_host = {i.server.hostname: i for i in intents}

    def one() -> None:
        from pyinfra import host

        intent = by_host[host.name]
        inventory_root = runner.inventory_root(intent)
        converge(intent, lab=lab, project_root=inventory_root.parent, inventory_root=inventory_root)

    for name, result in runner.run(hosts, one).items():
        results[by_host[name].slug].hosts[name] = result
    return list(results.values())
