"""MariaDB (Debian 12: 10.11) and one database with a least-privilege user per app.

    database.install()
    database.app_database(slug="sumberjaya", database="opensid", password=…)   # password: secret:sites/SLUG/app-db
"""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.operations import apt, files, systemd

from desa.app import db
from roles import apt_lists

SERVICE = "mariadb"


def password_ref(slug: str) -> str:
    return f"secret:sites/{slug}/app-db"


@deploy("MariaDB")
def install():
    apt_lists(name="apt lists", cache_time=24 * 3600)
    apt.packages(name="MariaDB server and client", packages=["mariadb-server", "mariadb-client"], no_recommends=True)
    # Local clients only: the app talks to it over the unix socket.
    conf = files.put(name="MariaDB listens on localhost only", src=_local_only(),
                     dest="/etc/mysql/mariadb.conf.d/90-desa.cnf", mode="0644")
    systemd.service(name="MariaDB running", service=SERVICE, running=True, enabled=True)
    systemd.service(name="MariaDB restarted (configuration changed)", service=SERVICE, restarted=True,
                    _if=conf.did_change)


def _local_only():
    from io import StringIO

    return StringIO("# desa-digital (roles/database.py)\n[mysqld]\nbind-address = 127.0.0.1\n"
                    "character-set-server = utf8mb4\ncollation-server = utf8mb4_general_ci\n")


@deploy("Database of the app")
def app_database(slug: str, database: str, password: str):
    files.directory(name="root-only folder for app database grants", path="/etc/desa/app",
                    user="root", group="root", mode="0700")
    db.app_database(name=f"database {database} and its user", database=database, user=database, password=password)
