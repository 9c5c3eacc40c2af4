"""MariaDB: one database and one least-privilege user per app (fact + operation, tests as data).

The password never appears in a process argument: the grants are written to a root-only SQL file
(mode 0600) and fed to `mariadb` on stdin, and only when that file changed or the database or user
is missing.
"""

from __future__ import annotations

import re
from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.operations import files

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# What an OpenSID-like app needs on its own database, and nothing global.
PRIVILEGES = ("SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, "
              "CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER, "
              "CREATE ROUTINE, ALTER ROUTINE, EXECUTE")


class AppDatabase(FactBase):
    """{"database": bool, "user": bool}, or None when MariaDB is not installed or not running."""

    def command(self, database: str, user: str) -> str:
        _check(database, user)
        return ("command -v mariadb >/dev/null 2>&1 && mariadb -NB -e "
                f"\"SELECT 'database', COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='{database}'; "
                f"SELECT 'user', COUNT(*) FROM mysql.user WHERE User='{user}' AND Host='localhost'\" 2>/dev/null "
                "|| echo unavailable")

    def process(self, output: list[str]) -> dict | None:
        return parse_database(output)


def parse_database(lines: list[str]) -> dict | None:
    found = {}
    for line in lines:
        parts = line.split()
        if parts == ["unavailable"]:
            return None
        if len(parts) == 2 and parts[0] in ("database", "user"):
            found[parts[0]] = parts[1] != "0"
    if set(found) != {"database", "user"}:
        return None
    return found


def _check(database: str, user: str) -> None:
    for n in (database, user):
        if not NAME_RE.match(n):
            raise ValueError(f"database/user name {n!r} must match {NAME_RE.pattern}")


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def grants_sql(database: str, user: str, password: str) -> str:
    """The idempotent SQL that creates the database and the user with exactly its rights."""
    _check(database, user)
    account = f"'{user}'@'localhost'"
    pw = sql_string(password)
    return "\n".join([
        f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;",
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {pw};",
        f"ALTER USER {account} IDENTIFIED BY {pw};",
        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};",
        f"GRANT {PRIVILEGES} ON `{database}`.* TO {account};",
        "",
    ])


def sql_file(database: str) -> str:
    return f"/etc/desa/app/{database}-db.sql"


@operation()
def app_database(database: str, user: str, password: str):
    """Ensure `database` and `user`@localhost with rights on that database only.

    + database, user: names ([a-z][a-z0-9_]*)
    + password: the user's password (from the secrets store); written to a 0600 file, fed on stdin
    """
    present = host.get_fact(AppDatabase, database=database, user=user)
    path = sql_file(database)
    put = list(files.put._inner(src=StringIO(grants_sql(database, user, password)), dest=path,
                                user="root", group="root", mode="0600"))
    yield from put
    if put or not present or not (present["database"] and present["user"]):
        yield f"mariadb < {path}"
    else:
        host.noop(f"database {database} and user {user} are in place")
