"""The OpenSID-shaped village information system: releases, villager data kept apart, DB dumps.

    app.opensid(intent, project_root=…, db_password=…)     (after php.install, database.*, web.install)

Layout and the release switch: `desa.app.release` (and templates/app/desa-opensid-release.sh.j2).
What this role owns on the server:
- /srv/desa/opensid/{releases,shared,current,.state}; shared/desa (the app's `desa/` folder: uploads
  and villager files, www-data 0750), shared/desa/config (root:www-data 0750) with `database.php` and
  `config.php` rendered from the inventory (root:www-data 0640; DB credentials from the secrets
  store), shared/storage and shared/backup_inkremental (www-data 0750);
- /usr/local/sbin/desa-opensid-release and desa-opensid-rollback (root 0750);
- /etc/desa/backup.d/10-app-db.sh: the database dumped to /var/backups/desa/ before each backup.
Villager data is never overwritten: the release switch seeds shared/ from the release's defaults with
no-clobber copies, and the database is dumped before any upgrade.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra.api import deploy
from pyinfra.operations import files

from desa.app import release as rel
from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent
from roles import php

TEMPLATES = PROJECT_ROOT / "templates" / "app"
DATABASE = "opensid"
LOG = "/var/log/desa/app-release.log"
BACKUP_HOOK = "/etc/desa/backup.d/10-app-db.sh"


def release_source(intent: SiteIntent, project_root: Path) -> str:
    source = intent.app.release.source
    return source if rel.is_url(source) else str(Path(project_root) / source)


def script_context() -> dict:
    return {"base": rel.BASE, "database": DATABASE, "php_fpm_service": php.SERVICE, "dumps": rel.DUMPS,
            "log": LOG}


@deploy("OpenSID-shaped village app")
def opensid(intent: SiteIntent, project_root: Path, db_password: str):
    app = intent.app
    base, shared = rel.BASE, f"{rel.BASE}/shared"
    for path, user, group, mode in [
        (base, "root", "root", "0755"),
        (f"{base}/releases", "root", "root", "0755"),
        (f"{base}/.state", "root", "root", "0700"),
        (shared, "root", "root", "0755"),
        (f"{shared}/desa", "www-data", "www-data", "0750"),
        (f"{shared}/desa/config", "root", "www-data", "0750"),
        (f"{shared}/desa/upload", "www-data", "www-data", "0750"),
        (f"{shared}/storage", "www-data", "www-data", "0750"),
        (f"{shared}/backup_inkremental", "www-data", "www-data", "0750"),
        (rel.DUMPS, "root", "root", "0700"),
        ("/etc/desa/backup.d", "root", "root", "0755"),
    ]:
        files.directory(name=f"folder {path}", path=path, user=user, group=group, mode=mode)

    site_file = Path(intent.source).name or intent.slug
    files.template(name="desa/config/database.php (from the inventory)", src=str(TEMPLATES / "database.php.j2"),
                   dest=f"{shared}/desa/config/database.php", user="root", group="www-data", mode="0640",
                   db_user=DATABASE, db_name=DATABASE, db_password=db_password, site_file=site_file,
                   slug=intent.slug)
    files.template(name="desa/config/config.php (from the inventory)", src=str(TEMPLATES / "config.php.j2"),
                   dest=f"{shared}/desa/config/config.php", user="root", group="www-data", mode="0640",
                   village=intent.name, kode=intent.kode, kecamatan=intent.site.kecamatan,
                   regency=intent.regency.name, domain=app.domain, site_file=site_file)
    for script, dest in ((rel.SWITCH, "desa-opensid-release.sh.j2"), (rel.ROLLBACK, "desa-opensid-rollback.sh.j2")):
        files.template(name=f"{script}", src=str(TEMPLATES / dest), dest=script, user="root", group="root",
                       mode="0750", **script_context())
    files.template(name="backup hook: app database dump", src=str(TEMPLATES / "backup-app-db.sh.j2"),
                   dest=BACKUP_HOOK, user="root", group="root", mode="0750", **script_context())
    rel.release(name=f"release {app.release.version}", version=app.release.version,
                source=release_source(intent, project_root), sha256=app.release.sha256)
