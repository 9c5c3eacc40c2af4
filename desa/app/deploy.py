"""Deploy the village apps (stage "app"): pyinfra over SSH to each site's server, results per host.

    deploy_apps(intents, *, lab=False, lab_state=None) -> list[StageResult]
    converge(intent, *, lab, project_root, inventory_root)     # the roles, inside a pyinfra deploy

`converge` is what `deploys/app.py` runs under plain pyinfra too. OpenSID sites get PHP-FPM, MariaDB
(a database and least-privilege user, password `secret:sites/SLUG/app-db`), nginx with TLS and the
release switch; opaque sites get nginx in front of their service and data backups.

With `lab=True` hosts are reached through the lab's pyinfra inventory (`Lab().pyinfra_inventory`,
state dir `lab_state` or $DESA_LAB_STATE); otherwise at the inventory's addresses as `ssh_user` with
sudo.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent
from desa.results import HostResult, StageResult

_LOCK = threading.Lock()  # pyinfra keeps global context: one run at a time per process


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


def lab_hosts(inventory_file: Path) -> dict[str, dict]:
    """{host name: data} of the servers in a lab's pyinfra inventory file."""
    scope: dict = {}
    exec(compile(inventory_file.read_text(), str(inventory_file), "exec"), scope)  # noqa: S102 - our own file
    return {name: dict(data) for name, data in scope.get("servers", [])}


def _targets(intents: list[SiteIntent], lab: bool, lab_state: Path | None) -> dict[str, tuple[SiteIntent, dict]]:
    if lab:
        from desa.lab import Lab

        inventory_file = Lab(lab_state).pyinfra_inventory
        if not inventory_file.exists():
            raise FileNotFoundError(f"{inventory_file} is missing → run `desa lab up` first")
        known = lab_hosts(inventory_file)
        out = {}
        for i in intents:
            if i.server.hostname not in known:
                raise LookupError(f"{i.server.hostname} is not in the lab ({inventory_file}) → `desa lab up {i.slug}`")
            out[i.server.hostname] = (i, known[i.server.hostname])
        return out
    return {i.server.hostname: (i, {"ssh_hostname": str(i.server.address), "ssh_port": i.server.ssh_port,
                                    "ssh_user": i.server.ssh_user, "desa_site": i.slug})
            for i in intents}


def deploy_apps(intents: list[SiteIntent], *, lab: bool = False, lab_state: Path | None = None) -> list[StageResult]:
    """Converge the apps of `intents` (sites without an app are left out); one StageResult per site."""
    intents = [i for i in intents if i.app is not None]
    if not intents:
        return []
    results = {i.slug: StageResult(stage="app", site=i.slug) for i in intents}
    try:
        targets = _targets(intents, lab, lab_state)
    except (FileNotFoundError, LookupError) as e:
        for i in intents:
            results[i.slug].hosts[i.server.hostname] = HostResult(host=i.server.hostname, failed=True, error=str(e))
        return list(results.values())
    with _LOCK:
        _run(targets, results, lab)
    return list(results.values())


def _run(targets: dict[str, tuple[SiteIntent, dict]], results: dict[str, StageResult], lab: bool) -> None:
    from pyinfra import host as current_host
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all, disconnect_all
    from pyinfra.api.deploy import add_deploy
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.api.state import StateStage

    hosts = [(name, {**data, "desa_lab": lab}) for name, (_, data) in targets.items()]
    state = State(Inventory((hosts, {})), Config(SUDO=True, CONNECT_TIMEOUT=20))
    by_name = {name: HostResult(host=name) for name in targets}
    for name, (intent, _) in targets.items():
        results[intent.slug].hosts[name] = by_name[name]

    def one() -> None:
        intent, _ = targets[current_host.name]
        converge(intent, lab=lab, project_root=_project_root(intent), inventory_root=_inventory_root(intent))

    try:
        state.set_stage(StateStage.Connect)
        connect_all(state)
        for h in state.inventory:
            if h not in state.activated_hosts:
                by_name[h.name].failed = True
                by_name[h.name].error = f"cannot connect to {h.name} over SSH"
        state.set_stage(StateStage.Prepare)
        add_deploy(state, one)
        state.set_stage(StateStage.Execute)
        run_ops(state)
    except (PyinfraError, OSError, ValueError, LookupError) as e:  # a failed run, or a prepare error
        run_error = str(e) or type(e).__name__
    else:
        run_error = None
    finally:
        _collect(state, by_name)
        try:
            state.set_stage(StateStage.Disconnect)
            disconnect_all(state)
        except Exception:  # noqa: BLE001 - a failed disconnect must not hide the results
            pass
    if run_error:
        for r in by_name.values():
            incomplete = any(o.get("ran") is False for o in r.operations) or not r.operations
            if r.failed or incomplete:
                r.failed, r.error = True, r.error or _mask(run_error)


def _collect(state, by_name: dict[str, HostResult]) -> None:
    for h in state.inventory:
        result = by_name[h.name]
        ops = []
        for op_hash in state.get_op_order():
            data = state.ops.get(h, {}).get(op_hash)
            if data is None:
                continue
            meta = data.operation_meta
            name = ", ".join(sorted(state.get_op_meta(op_hash).names)) or op_hash
            if not meta.is_complete():
                ops.append({"name": name, "changed": False, "failed": False, "ran": False})
                continue
            op = {"name": name, "changed": meta.did_change(), "failed": meta.did_error()}
            if op["failed"]:
                op["stderr"] = _mask(_last_error_line(meta))
            ops.append(op)
        result.operations = ops
        result.changed = sum(1 for o in ops if o["changed"])
        failed = [o for o in ops if o["failed"]]
        if failed:
            result.failed = True
            detail = "; ".join(f"{o['name']}" + (f" ({o['stderr']})" if o["stderr"] else "") for o in failed)
            result.error = result.error or f"failed: {detail}"
        elif h in state.failed_hosts:
            result.failed = True


def _last_error_line(meta) -> str:
    output = getattr(meta, "_combined_output", None)
    lines = [line for line in (getattr(output, "stderr_lines", None) or []) if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _mask(text: str) -> str:
    try:
        from desa.secrets import mask
    except ImportError:
        return text
    return mask(text)


def _inventory_root(intent: SiteIntent) -> Path:
    # intent.source is SITES/slug.yaml under inventory/REGENCY/sites/
    src = Path(intent.source)
    return src.parent.parent.parent if intent.source else PROJECT_ROOT / "inventory"


def _project_root(intent: SiteIntent) -> Path:
    return _inventory_root(intent).parent
