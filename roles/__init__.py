"""pyinfra @deploy units of desa-digital (one module per role), wired by deploys/*.py.

Server roles (this package's server side): base, hardening, firewall, vpn, monitoring, backup; the
regency hub: hub. App roles: web, php, database, app, opaque_app. Every role reads its knobs from host
data with the documented defaults at the top of its module (`setting(key)`), its facts about the site
from the SiteIntent it is given.

Helpers shared by the roles:
    in_container() -> bool            systemd-detect-virt --container (nspawn in the lab)
    note(text)                        record what a role skipped ("skipped in container: …"); the runner
                                      reports it per host, pyinfra's output shows it
    setting(defaults, key)            host data `key`, else the role's default
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyinfra import host
from pyinfra.api import FactBase

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
logger = logging.getLogger("desa.roles")


class Container(FactBase):
    """The container technology this host runs in (`systemd-nspawn`, `lxc`, …) or "none"."""

    default = str

    def command(self) -> str:
        return "systemd-detect-virt --container 2>/dev/null || true"

    def process(self, output) -> str:
        lines = [line.strip() for line in output if line.strip()]
        return lines[0] if lines else "none"


def in_container() -> bool:
    return host.get_fact(Container) != "none"


def note(text: str) -> None:
    """Say what a role skipped or could not do here (never silently)."""
    try:
        from desa.runner import NOTES

        NOTES.setdefault(host.name, [])
        if text not in NOTES[host.name]:
            NOTES[host.name].append(text)
    except ImportError:  # pragma: no cover - plain pyinfra without the desa package
        pass
    logger.warning("%s: %s", host.name, text)


def setting(defaults: dict, key: str):
    if key not in defaults:
        raise KeyError(f"unknown setting {key}")
    value = host.data.get(key)
    return defaults[key] if value is None else value
