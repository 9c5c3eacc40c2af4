"""Plan and deploy a site's router: read the running state, diff with the intent, push the delta.

`plan_site(intent)` → {device: [commands]} (no change made; empty list when nothing to do).
`deploy_site(intent)` → StageResult("network"): backup first, an armed self-revert when a change
can cut management, the delta pushed in a safe order (identity last), then confirmed from a new
session. A push that fails part-way is not confirmed (as with plain pyinfra, which stops at the
failed command): the router returns to its last confirmed state by itself, or a re-run completes
the push and confirms it.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Callable

from desa.intent import SiteIntent
from desa.network import safety
from desa.network.connection import RouterOSError, RouterOSSession, open_router
from desa.network.desired import in_management
from desa.network.diff import Change, diff
from desa.network.export import Export, parse
from desa.network.render import desired_state
from desa.results import HostResult, StageResult

Opener = Callable[[], AbstractContextManager[RouterOSSession]]


def revert_seconds() -> int:
    return int(os.environ.get("DESA_REVERT_SECONDS", "120"))


def management_sources(intent: SiteIntent, session: RouterOSSession | None) -> list[str]:
    """Keep the address we manage from in the allow-list when it is outside management + VPN
    (the same for `desa deploy` and plain pyinfra, so both converge to one state)."""
    local = session.local_address if session is not None else None
    if local and not in_management(intent, local):
        return [f"{local}/32"]
    return []


def changes_for(intent: SiteIntent, session: RouterOSSession, current: Export | None = None) -> list[Change]:
    """The delta from the router's running configuration (`current`, read from it when not given)."""
    current = current if current is not None else parse(session.export())
    desired = desired_state(intent, management_sources=management_sources(intent, session))
    return diff(desired, current)


def plan_site(intent: SiteIntent, *, opener: Opener | None = None) -> dict[str, list[str]]:
    opener = opener or (lambda: open_router(intent))
    with opener() as session:
        return {intent.router.identity: [c.command for c in changes_for(intent, session)]}


def deploy_site(intent: SiteIntent, *, opener: Opener | None = None) -> StageResult:
    opener = opener or (lambda: open_router(intent))
    name = intent.router.identity
    result = StageResult(stage="network", site=intent.slug)
    host = HostResult(host=name)
    result.hosts[name] = host
    try:
        _deploy(intent, opener, host)
    except (OSError, EOFError, RouterOSError) as e:
        host.failed = True
        host.error = host.error or f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - netmiko raises its own timeouts/auth errors
        host.failed = True
        host.error = host.error or f"{type(e).__name__}: {e}"
    return result


def _deploy(intent: SiteIntent, opener: Opener, host: HostResult) -> None:
    with opener() as session:
        current = parse(session.export())
        changes = changes_for(intent, session, current)
        if not changes:
            return
        backup = safety.backup(session, intent.slug)
        armed = any(c.risky for c in changes)
        restores = safety.arm_revert(session, current, backup.name, revert_seconds()) if armed else None
        pushed = 0
        try:
            for change in changes:
                if change.menu == "/system identity":
                    session.send_last(change.command)
                else:
                    session.send(change.command)
                pushed += 1
                host.operations.append({"name": change.command, "changed": True, "failed": False})
        except Exception as e:
            host.failed = True
            host.error = f"{type(e).__name__}: {e} (after {pushed} of {len(changes)} changes)"
            host.operations.append({"name": changes[pushed].command, "changed": False, "failed": True})
        finally:
            host.changed = pushed
    if not armed:
        return
    if host.failed:
        host.error += (f"; not confirmed: the router restores backup {restores} within {revert_seconds()}s "
                       f"by itself unless a re-run completes the push first")
    elif not safety.confirm(opener):
        host.failed = True
        host.error = (f"management access lost after the push: the router restores backup {restores} "
                      f"within {revert_seconds()}s by itself")
