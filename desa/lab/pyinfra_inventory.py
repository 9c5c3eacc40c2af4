"""The pyinfra inventory for what the lab started, so plain `pyinfra` works against it too:

    pyinfra state/lab/inventory.py deploys/server.py
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desa.lab.lab import Lab
    from desa.lab.state import State


def has_routeros_connector() -> bool:
    try:
        return importlib.util.find_spec("desa.network.connector") is not None
    except ModuleNotFoundError:
        return False


def render(lab: Lab, st: State) -> str:
    common = {
        "ssh_config_file": str(lab.ssh_config),
        "ssh_key": str(lab.ssh_key),
        "ssh_known_hosts_file": str(lab.known_hosts),
        "ssh_strict_host_key_checking": "yes",
        "desa_lab": True,
        "desa_lab_state": str(lab.state_dir),
    }
    lines = ['"""pyinfra inventory of the desa lab at ' + str(lab.state_dir) + ' (written by `desa lab up`)."""',
             "", "import os", "",
             "# The lab's hosts use the lab's generated secrets (routers' passwords, say).",
             'os.environ.setdefault("DESA_SECRETS", "lab")', "",
             f"_common = {common!r}", ""]
    servers = [(h.name, {"ssh_hostname": h.address, "ssh_port": h.port, "ssh_user": h.user,
                         "desa_site": h.site, "desa_regency": h.regency})
               for h in sorted(st.hosts.values(), key=lambda h: h.name) if h.kind == "server"]
    hubs = [(h.name, {"ssh_hostname": h.address, "ssh_port": h.port, "ssh_user": h.user,
                      "desa_regency": h.regency})
            for h in sorted(st.hosts.values(), key=lambda h: h.name) if h.kind == "hub"]
    lines.append("servers = [")
    lines += [f"    ({n!r}, {{**_common, **{d!r}}})," for n, d in servers]
    lines += ["]", "", "hubs = ["]
    lines += [f"    ({n!r}, {{**_common, **{d!r}}})," for n, d in hubs]
    lines += ["]", ""]
    from desa.lab import routers as slots

    running = [r for r in sorted(st.routers.values(), key=lambda r: r.name) if slots.state(st, r) != "stopped"]
    if has_routeros_connector() and running:
        # Only routers whose simulator runs: pyinfra fails a run when any inventory host is unreachable.
        routers = [(f"@routeros/{r.name}", {"routeros_hostname": r.address, "routeros_port": r.port,
                                             "routeros_user": r.user, "routeros_password": r.password_ref,
                                             "desa_site": r.site, "desa_lab": True,
                                             "desa_lab_state": str(lab.state_dir)})
                   for r in running]
        lines.append("routers = [")
        lines += [f"    ({n!r}, {d!r})," for n, d in routers]
        lines += ["]", ""]
    return "\n".join(lines)


def write(lab: Lab, st: State) -> None:
    path = lab.pyinfra_inventory
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(lab, st))
    tmp.replace(path)
