"""pyinfra operations for RouterOS: read the export fact, yield only the delta.

    from desa.network import operations as routeros
    routeros.config(name="Village network", rsc=render_site(intent))
    routeros.identity(name="Identity", identity="lambangsari-gw")

The diff itself (ownership markers, value normalisation, order) lives in `desa.network.diff`.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import operation

from desa.network.diff import diff
from desa.network.export import Export, parse
from desa.network.facts import RouterOSExport, RouterOSIdentity
from desa.network.quoting import quote


def delta(desired: Export, current: Export) -> list[str]:
    """The commands that bring `current` to `desired` (empty when nothing is to do)."""
    return [c.command for c in diff(desired, current)]


@operation()
def config(rsc: str):
    """Converge the router to a rendered configuration (export form), menu by menu.

    + rsc: the desired configuration, as `desa.network.render.render_site` writes it
    """
    commands = delta(parse(rsc), host.get_fact(RouterOSExport))
    if not commands:
        host.noop("RouterOS configuration matches the intent")
        return
    yield from commands


@operation()
def identity(identity: str):
    """Set the router's identity (apply last: it changes the CLI prompt)."""
    if host.get_fact(RouterOSIdentity) == identity:
        host.noop(f"identity is {identity}")
        return
    yield f"/system identity set name={quote(identity)}"
