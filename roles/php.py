"""PHP-FPM 8.2 (Debian 12) with the extensions and php.ini limits OpenSID needs (DESIGN.md).

    php.install()          packages, limits for FPM and CLI, the app's pool; FPM restarted only on change
"""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.operations import apt, files, systemd
from pyinfra.operations.util import any_changed

from desa.inventory import PROJECT_ROOT
from roles import apt_lists

VERSION = "8.2"
SERVICE = f"php{VERSION}-fpm"
POOL = "desa-app"
SOCKET = f"/run/php/{POOL}.sock"
# pdo_mysql + mysqli (php-mysql), curl, gd, mbstring, tidy, zip, xml, intl; fileinfo, iconv and exif
# come with php8.2-common.
PACKAGES = [f"php{VERSION}-{p}" for p in ("fpm", "cli", "common", "mysql", "curl", "gd", "mbstring",
                                          "tidy", "zip", "xml", "intl")]
LIMITS = {"max_execution_time": 300, "post_max_size": "25M", "upload_max_filesize": "20M",
          "memory_limit": "512M", "timezone": "Asia/Jakarta"}
TEMPLATES = PROJECT_ROOT / "templates" / "php"


@deploy("PHP-FPM for the village app")
def install(max_children: int = 8):
    apt_lists(name="apt lists", cache_time=24 * 3600)
    apt.packages(name="PHP 8.2 with OpenSID's extensions", packages=PACKAGES, no_recommends=True)
    ini = [files.template(name=f"php.ini limits ({sapi})", src=str(TEMPLATES / "desa.ini.j2"),
                          dest=f"/etc/php/{VERSION}/{sapi}/conf.d/90-desa.ini", mode="0644", **LIMITS)
           for sapi in ("fpm", "cli")]
    pool = files.template(name="PHP-FPM pool of the app", src=str(TEMPLATES / "pool.conf.j2"),
                          dest=f"/etc/php/{VERSION}/fpm/pool.d/{POOL}.conf", mode="0644",
                          pool=POOL, socket=SOCKET, max_children=max_children,
                          max_execution_time=LIMITS["max_execution_time"])
    systemd.service(name="PHP-FPM running", service=SERVICE, running=True, enabled=True)
    systemd.service(name="PHP-FPM restarted (configuration changed)", service=SERVICE, restarted=True,
                    _if=any_changed(ini[0], pool))
