"""Router slots: the RouterOS simulators of the sites, one background daemon per lab.

Not yet wired: the simulator (desa/routeros) has no server API yet. Until it lands, router slots
exist (namespace + management address) and report "stopped".
"""

from __future__ import annotations

import socket

from desa.lab.state import RouterRecord, State


def ensure(lab, st: State, intents, say) -> None:
    proc = st.procs.get("routers")
    if proc is not None and proc.alive():
        return
    say("router simulators: not yet available (desa.routeros has no server yet); router slots stay stopped")


def state(st: State, r: RouterRecord) -> str:
    proc = st.procs.get("routers")
    if proc is None or not proc.alive():
        return "stopped"
    return "running" if _answers(r) else "degraded"


def _answers(r: RouterRecord) -> bool:
    try:
        with socket.create_connection((r.address, r.port), timeout=2):
            return True
    except OSError:
        return False
