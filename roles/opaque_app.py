"""Apps we only run and back up (Lambangsari's Sidolpin): service, port, HTTP health, backups.

    opaque_app.run(intent, lab=False)      (after web.install and web.certificate; then web.site)

Nothing about such an app is public, so desa-digital never installs or configures it: the vendor does.
We require its systemd unit (`app.service`) and keep it running and enabled, put nginx with TLS in
front of its port (`app.port`, on 127.0.0.1), and archive its `app.data_paths` to /var/backups/desa/
before each backup (/etc/desa/backup.d/10-app-data.sh). The checks probe the service, the port and
`app.health_path`.

Lab stand-in: lab hosts (host data `desa_lab: True`) have no such unit, so there — and only there —
a unit of the same name is installed that serves a static page with python3's http.server on the
port, clearly described as "LAB STAND-IN" (templates/app/lab-standin.service.j2, page under
/opt/desa-lab-standin/). Real servers never get it: without the vendor's unit the deploy fails with a
message saying so.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import FactBase, deploy, operation
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import files, systemd

from desa.app.release import DUMPS
from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent

TEMPLATES = PROJECT_ROOT / "templates" / "app"
STANDIN_ROOT = "/opt/desa-lab-standin"
BACKUP_HOOK = "/etc/desa/backup.d/10-app-data.sh"


def unit_name(service: str) -> str:
    return service if "." in service else f"{service}.service"


class UnitExists(FactBase):
    """Whether systemd knows the unit (installed, loaded or not)."""

    def command(self, unit: str) -> str:
        return f"systemctl cat -- {unit} >/dev/null 2>&1 && echo yes || echo no"

    def process(self, output: list[str]) -> bool:
        return output == ["yes"]


@operation()
def require_unit(service: str, hostname: str):
    """Fail, saying what to do, when the systemd unit `service` does not exist on the host."""
    if not host.get_fact(UnitExists, unit=unit_name(service)):
        raise OperationError(f"{unit_name(service)} is not installed on {hostname} → install the app from its "
                             f"vendor first; desa-digital only runs, proxies and backs it up")
    host.noop(f"{unit_name(service)} is installed")
    return
    yield  # an operation is a generator


@deploy("Opaque app")
def run(intent: SiteIntent, lab: bool = False):
    app = intent.app
    unit = unit_name(app.service)
    if lab:
        www = f"{STANDIN_ROOT}/{unit.removesuffix('.service')}"
        files.directory(name="lab stand-in: page folder", path=www, user="root", group="root", mode="0755")
        files.template(name="lab stand-in: page", src=str(TEMPLATES / "lab-standin-index.html.j2"),
                       dest=f"{www}/index.html", mode="0644", service=unit, village=intent.name)
        standin = files.template(name=f"lab stand-in: {unit}", src=str(TEMPLATES / "lab-standin.service.j2"),
                                 dest=f"/etc/systemd/system/{unit}", mode="0644", service=unit, village=intent.name,
                                 port=app.port, www=www)
        for path in app.data_paths:
            files.directory(name=f"lab stand-in: data folder {path}", path=path, mode="0750")
        systemd.daemon_reload(name="systemd reloaded (stand-in unit changed)", _if=standin.did_change)
        systemd.service(name=f"{unit} restarted (stand-in changed)", service=unit, restarted=True,
                        _if=standin.did_change)
    else:
        require_unit(name=f"{unit} is installed", service=unit, hostname=intent.server.hostname)
    systemd.service(name=f"{unit} running and enabled", service=unit, running=True, enabled=True)
    files.directory(name="backup dumps folder", path=DUMPS, user="root", group="root", mode="0700")
    files.directory(name="backup hooks folder", path="/etc/desa/backup.d", user="root", group="root", mode="0755")
    files.template(name="backup hook: app data", src=str(TEMPLATES / "backup-app-data.sh.j2"),
                   dest=BACKUP_HOOK, user="root", group="root", mode="0750", service=unit, dumps=DUMPS,
                   archive=f"{unit.removesuffix('.service')}-data.tar.gz", data_paths=app.data_paths)
