"""Run pyinfra deploys over a set of hosts in one run and turn the outcome into results per host.

    hosts = targets(intents, lab=True)                     # {name: host data} servers (+ hubs)
    results = run(hosts, deploy_fn)                         # {name: HostResult}, one pyinfra run
    pyinfra_inventory(intents, lab) -> Path                 # for plain `pyinfra INVENTORY deploys/server.py`

With `lab=True` hosts are reached through the lab's ssh_config/key/known_hosts (`Lab(lab_state)`, default
$DESA_LAB_STATE or state/lab) and carry `desa_controller` (the address the lab's controller connects from,
which the firewall keeps open); otherwise the inventory's addresses, as `ssh_user` with sudo.

Every host's data carries `desa_site` (servers) or `desa_regency` (hubs), `desa_inventory` (the inventory
root) and `desa_lab`. Output that could hold a secret (errors, stderr) goes through `desa.secrets.mask`.
Speed: TCP_NODELAY on each SSH socket (paramiko does not set it), curve25519 key exchange first (paramiko's
default order), one run across all hosts so each operation runs on every host in parallel. SSH round
trips (commands, uploads, downloads) are counted per host in `HostResult.operations`' summary entry
`{"name": "ssh round trips", "round_trips": N}`.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent
from desa.results import HostResult

_LOCK = threading.Lock()  # pyinfra keeps global context: one run at a time per process
NOTES: dict[str, list[str]] = {}
UPLOAD_DIR = ".desa-tmp"  # pyinfra's TEMP_DIR: the deploy user's own 0700 folder, relative to its home  # host name → what roles skipped (filled by roles.note)


def inventory_root(intent: SiteIntent) -> Path:
    """The inventory folder a site came from (inventory/REGENCY/sites/SLUG.yaml → inventory/)."""
    if intent.source:
        return Path(intent.source).resolve().parent.parent.parent
    return PROJECT_ROOT / "inventory"


def _mask(text: str) -> str:
    from desa.secrets import mask

    return mask(text)


def _lab_hosts(lab_state: Path | None) -> tuple[dict[str, dict], Path]:
    from desa.lab import Lab

    lab = Lab(lab_state)
    path = lab.pyinfra_inventory
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing → run `desa lab up` first")
    scope: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), scope)  # noqa: S102 - the lab's own file
    hosts = {n: dict(d) for group in ("servers", "hubs") for n, d in scope.get(group, [])}
    st = lab.load_state()
    for name, data in hosts.items():
        rec = st.hosts.get(name)
        if rec is not None:
            data["desa_controller"] = rec.gateway.split("/")[0]
    return hosts, lab.state_dir


# A village link may reset a new connection (a stall, a flaky LTE or satellite uplink): pyinfra's
# ssh connector tries again (1–3 s apart) before the host counts as unreachable. Seen in the lab's
# satellite bench: one reset connection made a server's whole unchanged re-run fail.
CONNECT_RETRIES = {"ssh_connect_retries": 3, "ssh_connect_retry_min_delay": 1.0, "ssh_connect_retry_max_delay": 3.0}


def targets(intents: list[SiteIntent], *, lab: bool, hubs: bool = True, servers: bool = True,
            lab_state: Path | None = None) -> dict[str, dict]:
    """{host name: pyinfra host data} of the sites' servers and (once per regency) their hubs."""
    wanted: dict[str, dict] = {}
    for i in intents:
        root = str(inventory_root(i))
        if servers:
            wanted[i.server.hostname] = {"desa_site": i.slug, "desa_inventory": root, "desa_lab": lab,
                                         "ssh_hostname": str(i.server.address), "ssh_port": i.server.ssh_port,
                                         "ssh_user": i.server.ssh_user}
        if hubs:
            wanted.setdefault(i.hub.name, {"desa_regency": i.regency.slug, "desa_inventory": root,
                                           "desa_lab": lab, "ssh_hostname": str(i.hub.endpoint),
                                           "ssh_user": i.hub.ssh_user})
    if lab:
        known, state_dir = _lab_hosts(lab_state)
        missing = sorted(set(wanted) - set(known))
        if missing:
            raise LookupError(f"{', '.join(missing)} not in the lab ({state_dir}) → `desa lab up SITE…`")
        wanted = {n: {**known[n], **{k: v for k, v in d.items() if k.startswith("desa_")}, "desa_lab": True}
                  for n, d in wanted.items()}
    for data in wanted.values():
        data.update(CONNECT_RETRIES)
    return wanted


def pyinfra_inventory(intents: list[SiteIntent], lab: bool, path: Path | None = None,
                      lab_state: Path | None = None) -> Path:
    """Write a pyinfra inventory (groups `servers`, `hubs`) for these sites; return its path."""
    hosts = targets(intents, lab=lab, lab_state=lab_state)
    path = path or PROJECT_ROOT / "state" / ("inventory-lab.py" if lab else "inventory.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    servers = [(n, d) for n, d in hosts.items() if "desa_site" in d]
    hub_hosts = [(n, d) for n, d in hosts.items() if "desa_site" not in d]
    lines = ['"""pyinfra inventory written by desa.runner.pyinfra_inventory: pyinfra THIS deploys/server.py"""', "",
             "import os", "", f'os.environ.setdefault("DESA_SECRETS", {"lab" if lab else "age"!r})', "",
             f"servers = {servers!r}", "", f"hubs = {hub_hosts!r}", ""]
    path.write_text("\n".join(lines))
    return path


def _nodelay(state) -> None:
    for h in state.activated_hosts:
        client = getattr(h.connector, "client", None)
        transport = client.get_transport() if client is not None else None
        sock = getattr(transport, "sock", None)
        if isinstance(sock, socket.socket):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass


def _count_round_trips(state, counts: Counter) -> None:
    for h in state.inventory:
        conn = h.connector
        for meth in ("run_shell_command", "put_file", "get_file"):
            orig = getattr(conn, meth, None)
            if orig is None or getattr(orig, "_desa_counted", False):
                continue

            def counted(*a, _orig=orig, _name=h.name, **kw):
                counts[_name] += 1
                return _orig(*a, **kw)

            counted._desa_counted = True  # type: ignore[attr-defined]
            setattr(conn, meth, counted)


def run(hosts: dict[str, dict], deploy_fn: Callable[[], None], *, sudo: bool = True,
        connect_timeout: int = 20) -> dict[str, HostResult]:
    """One pyinfra run of `deploy_fn` (called once per host, `pyinfra.host` set) over `hosts`."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    with _LOCK:
        return _run(hosts, deploy_fn, sudo, connect_timeout)


def _run(hosts: dict[str, dict], deploy_fn, sudo: bool, connect_timeout: int) -> dict[str, HostResult]:
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all, disconnect_all
    from pyinfra.api.deploy import add_deploy
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops
    from pyinfra.api.state import StateStage

    by_name = {name: HostResult(host=name) for name in hosts}
    for name in hosts:
        NOTES[name] = []
    # check_for_changes=False (as `pyinfra -y`): each operation is evaluated once, at execution, instead of
    # also at prepare time to preview changes — half the facts, half the SSH round trips.
    # TEMP_DIR: uploads go to the deploy user's own 0700 folder (roles.private_uploads), never /tmp.
    state = State(Inventory((list(hosts.items()), {})),
                  Config(SUDO=sudo, CONNECT_TIMEOUT=connect_timeout, TEMP_DIR=UPLOAD_DIR), check_for_changes=False)
    counts: Counter = Counter()
    run_error = None
    try:
        state.set_stage(StateStage.Connect)
        _count_round_trips(state, counts)
        connect_all(state)
        _nodelay(state)
        for h in list(state.activated_hosts):  # the private upload folder (TEMP_DIR) before any operation
            h.run_shell_command(f"install -d -m 0700 {UPLOAD_DIR} && chmod 0700 {UPLOAD_DIR}", _sudo=False)
        state.set_stage(StateStage.Prepare)
        add_deploy(state, deploy_fn)
        state.set_stage(StateStage.Execute)
        run_ops(state)
    except Exception as e:  # noqa: BLE001 - a failing role must become a failed result, not a crash
        run_error = f"{type(e).__name__}: {e}" if not isinstance(e, PyinfraError) else (str(e) or type(e).__name__)
    finally:
        for h in state.inventory:
            if h not in state.activated_hosts:
                by_name[h.name].failed = True
                by_name[h.name].error = (f"cannot connect to {h.name} over SSH → check it is up and reachable "
                                         "(`desa lab status` in the lab)")
        _collect(state, by_name, counts)
        try:
            state.set_stage(StateStage.Disconnect)
            disconnect_all(state)
        except Exception:  # noqa: BLE001 - a failed disconnect must not hide the results
            pass
    if run_error:
        for r in by_name.values():
            incomplete = any(o.get("ran") is False for o in r.operations) or not any(
                "ran" in o for o in r.operations)
            if r.failed or incomplete:
                r.failed, r.error = True, r.error or _mask(run_error)
    return by_name


def _last_error_line(meta) -> str:
    output = getattr(meta, "_combined_output", None)
    lines = [line for line in (getattr(output, "stderr_lines", None) or []) if line.strip()]
    if not lines:
        lines = [line for line in (getattr(output, "stdout_lines", None) or []) if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _op_name(names, own: str | None) -> str:
    """This host's name of an operation (pyinfra merges the names of every host's n-th operation)."""
    if own:
        for n in names:
            if n == own or n.endswith(" | " + own):
                return n
        return own
    return ", ".join(sorted(names))


def _collect(state, by_name: dict[str, HostResult], counts: Counter) -> None:
    for h in state.inventory:
        result = by_name[h.name]
        ops = []
        for op_hash in state.get_op_order():
            data = state.ops.get(h, {}).get(op_hash)
            if data is None:
                continue
            meta = data.operation_meta
            name = _op_name(state.get_op_meta(op_hash).names, data.global_arguments.get("name")) or op_hash
            if not meta.is_complete():
                ops.append({"name": name, "changed": False, "failed": False, "ran": False})
                continue
            op = {"name": name, "changed": bool(meta.did_change()), "failed": bool(meta.did_error()), "ran": True}
            if op["failed"]:
                op["stderr"] = _mask(_last_error_line(meta))
            ops.append(op)
        for note in NOTES.get(h.name, []):
            ops.append({"name": note, "changed": False, "failed": False, "skipped": True})
        ops.append({"name": "ssh round trips", "changed": False, "failed": False, "round_trips": counts[h.name]})
        result.operations = ops
        result.changed = sum(1 for o in ops if o["changed"])
        failed = [o for o in ops if o["failed"]]
        if failed:
            result.failed = True
            detail = "; ".join(o["name"] + (f" ({o['stderr']})" if o.get("stderr") else "") for o in failed)
            result.error = result.error or f"failed: {detail}"
        elif h in state.failed_hosts:
            result.failed = True
            result.error = result.error or "the host failed (see the deploy output)"


def round_trips(result: HostResult) -> int:
    return sum(o.get("round_trips", 0) for o in result.operations)


def lab_state_dir() -> Path | None:
    env = os.environ.get("DESA_LAB_STATE")
    return Path(env) if env else None
