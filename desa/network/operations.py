"""pyinfra operations for RouterOS: read the export fact, yield only the delta.

    from desa.network import operations as routeros
    routeros.config(name="Village network", rsc=render_site(intent))
    routeros.identity(name="Identity", identity="lambangsari-gw")

The diff itself (ownership markers, value normalisation, order) lives in `desa.network.diff`.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from desa.network.diff import diff
from desa.network.export import Export, parse
from desa.network.facts import RouterOSExport, RouterOSIdentity
from desa.network.quoting import quote


def delta(desired: Export, current: Export) -> list[str]:
    """The commands that bring `current` to `desired` (empty when nothing is to do)."""
    return [c.command for c in diff(desired, current)]


@operation()
def config(rsc: str, site: str | None = None, revert_seconds: int = 120):
    """Converge the router to a rendered configuration (export form), menu by menu.

    + rsc: the desired configuration, as `desa.network.render.render_site` writes it
    + site: the site slug; with it, as `desa deploy` does, a backup (export + binary) is taken before
      any change and kept under `state/network/SITE/`, and when a change can cut management a
      self-revert is armed first and confirmed from a new session after the push
    + revert_seconds: how long the router waits for that confirmation before restoring the backup
    """
    current = host.get_fact(RouterOSExport)
    changes = diff(parse(rsc), current)
    if not changes:
        host.noop("RouterOS configuration matches the intent")
        return
    risky = any(c.risky for c in changes)
    if site:
        yield FunctionCommand(_backup_and_arm, (site, risky, revert_seconds, current), {})
    for change in changes:
        yield change.command
    if site and risky:
        yield FunctionCommand(_confirm, (revert_seconds,), {})


def _session(host_):
    connector = host_.connector
    if getattr(connector, "session", None) is None:
        connector.connect()
    return connector.session


def _backup_and_arm(state, host, site: str, risky: bool, revert_seconds: int, current: Export) -> bool:
    from desa.network import safety

    session = _session(host)
    backup = safety.backup(session, site)
    host.connector.revert_backup = backup.name
    if risky:
        host.connector.revert_backup = safety.arm_revert(session, current, backup.name, revert_seconds)
    return True


def _confirm(state, host, revert_seconds: int) -> bool:
    from desa.network import safety

    if safety.confirm(host.connector.fresh_session):
        return True
    host.log_styled(f"management access lost after the push: the router restores backup "
                    f"{getattr(host.connector, 'revert_backup', '?')} within {revert_seconds}s by itself",
                    fg="red")
    return False


@operation()
def identity(identity: str):
    """Set the router's identity (apply last: it changes the CLI prompt)."""
    if host.get_fact(RouterOSIdentity) == identity:
        host.noop(f"identity is {identity}")
        return
    yield f"/system identity set name={quote(identity)}"
