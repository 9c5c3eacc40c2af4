"""The on-server release switch and rollback scripts, run for real against a temporary tree with stub
`php`, `mariadb`, `mariadb-dump`, `runuser` and `systemctl` (what they were asked is logged)."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import jinja2
import pytest

from desa.app import fixture as fx
from desa.inventory import PROJECT_ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the scripts chown to www-data: needs root")

TEMPLATES = PROJECT_ROOT / "templates" / "app"
STUBS = {
    "php": '#!/bin/sh\n[ -e "$STUBS/fail-migrate" ] && { echo "migration failed" >&2; exit 1; }\n'
           'echo "migrate $(cat app/VERSION)" >> "$STUBS/calls"\n',
    "runuser": '#!/bin/sh\n[ "$1" = -u ] && [ "$2" = www-data ] && [ "$3" = -- ] || exit 9\nshift 3\nexec "$@"\n',
    "mariadb-dump": '#!/bin/sh\necho "dump $*" >> "$STUBS/calls"\necho "-- dump of $(cat "$STUBS/db-state")"\n'
                    '[ -e "$STUBS/fail-dump" ] && { echo "Lost connection to server" >&2; exit 2; }\nexit 0\n',
    "mariadb": '#!/bin/sh\nif [ "$1" = -e ]; then echo "sql $2" >> "$STUBS/calls"; '
               'case "$2" in "DROP DATABASE"*) echo "nothing (dropped)" > "$STUBS/db-state";; esac; '
               'elif [ -e "$STUBS/fail-restore" ]; then cat >/dev/null; echo "ERROR 2013: Lost connection" >&2; exit 1; '
               'else sed -n "s/^-- dump of //p" > "$STUBS/db-state"; echo restore >> "$STUBS/calls"; fi\n',
    "systemctl": '#!/bin/sh\necho "systemctl $*" >> "$STUBS/calls"\n',
}


class Box:
    def __init__(self, tmp: Path):
        self.tmp, self.base, self.dumps, self.stubs = tmp, tmp / "opensid", tmp / "dumps", tmp / "stubs"
        self.stubs.mkdir()
        for name, body in STUBS.items():
            (self.stubs / name).write_text(body)
            (self.stubs / name).chmod(0o755)
        (self.stubs / "db-state").write_text("schema-1\n")
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        ctx = {"base": str(self.base), "database": "opensid", "php_fpm_service": "php8.2-fpm",
               "dumps": str(self.dumps), "log": str(tmp / "release.log")}
        self.scripts = {}
        for name in ("desa-opensid-release", "desa-opensid-rollback"):
            path = tmp / name
            path.write_text(env.from_string((TEMPLATES / f"{name}.sh.j2").read_text()).render(ctx))
            path.chmod(0o750)
            self.scripts[name] = path
        self.archives = {v: p for v, (p, _) in fx.build(tmp / "archives").items()}
        self.sha = {v: s for v, (_, s) in fx.build(tmp / "archives").items()}

    def run(self, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": f"{self.stubs}:{os.environ['PATH']}", "STUBS": str(self.stubs)}
        done = subprocess.run([str(self.scripts[script]), *args], capture_output=True, text=True, env=env, timeout=60)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def switch(self, version: str, check: bool = True, sha: str | None = None):
        return self.run("desa-opensid-release", version, str(self.archives[version]), sha or self.sha[version], check=check)

    def current(self) -> str:
        return os.readlink(self.base / "current")

    def calls(self) -> list[str]:
        path = self.stubs / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def previous(self) -> dict:
        text = (self.base / ".state" / "previous").read_text()
        return dict(line.split("=", 1) for line in text.splitlines())


@pytest.fixture
def box(tmp_path):
    return Box(tmp_path)


def test_first_install_seeds_villager_data_and_switches(box):
    box.switch("1.0.0")
    assert box.current() == "releases/1.0.0"
    rel = box.base / "releases" / "1.0.0"
    for d in ("desa", "storage", "backup_inkremental"):
        assert os.readlink(rel / d) == f"../../shared/{d}"
    assert (box.base / "shared" / "desa" / "config" / "database.php").exists()  # seeded from desa-contoh
    assert box.calls() == ["migrate 1.0.0", "systemctl reload php8.2-fpm"]  # nothing to dump on a first install
    assert not (box.base / ".state" / "switch.pid").exists()
    assert not (box.base / ".state" / "previous").exists()


def test_upgrade_dumps_first_and_never_overwrites_villager_data(box):
    box.switch("1.0.0")
    config = box.base / "shared" / "desa" / "config" / "database.php"
    config.write_text("<?php // rendered by the deploy\n")
    upload = box.base / "shared" / "desa" / "upload" / "ktp.jpg"
    upload.write_bytes(b"villager photo")
    box.switch("1.1.0")
    assert box.current() == "releases/1.1.0"
    assert config.read_text() == "<?php // rendered by the deploy\n" and upload.read_bytes() == b"villager photo"
    prev = box.previous()
    assert (prev["from"], prev["to"]) == ("1.0.0", "1.1.0")
    assert gzip.decompress(Path(prev["dump"]).read_bytes()).decode() == "-- dump of schema-1\n"
    assert oct(Path(prev["dump"]).stat().st_mode & 0o777) == "0o600"
    calls = box.calls()
    assert calls.index("dump --single-transaction --routines --triggers --databases opensid") < calls.index("migrate 1.1.0")


def test_same_release_again_only_migrates(box):
    box.switch("1.0.0")
    box.switch("1.0.0")
    assert box.calls().count("migrate 1.0.0") == 2 and not any(c.startswith("dump") for c in box.calls())


def test_checksum_mismatch_changes_nothing(box):
    box.switch("1.0.0")
    done = box.switch("1.1.0", check=False, sha="0" * 64)
    assert done.returncode == 3 and "checksum mismatch" in done.stderr
    assert box.current() == "releases/1.0.0" and not (box.base / "releases" / "1.1.0").exists()


def test_interrupted_upgrade_resumes_and_keeps_its_first_dump(box):
    box.switch("1.0.0")
    (box.stubs / "fail-migrate").touch()
    failed = box.switch("1.1.0", check=False)
    assert failed.returncode != 0
    assert box.current() == "releases/1.0.0"  # still the old release
    assert (box.base / ".state" / "switch.pid").exists()  # the fact reports an unfinished switch
    first = box.previous()["dump"]
    (box.stubs / "db-state").write_text("half-migrated\n")
    (box.stubs / "fail-migrate").unlink()
    box.switch("1.1.0")
    assert box.current() == "releases/1.1.0"
    assert box.previous()["dump"] == first  # not replaced by a dump of the half-migrated database
    assert not (box.base / ".state" / "switch.pid").exists()


def test_leftover_partial_unpack_is_redone(box):
    box.switch("1.0.0")
    partial = box.base / "releases" / ".1.1.0.partial"
    partial.mkdir()
    (partial / "garbage").write_text("x")
    box.switch("1.1.0")
    assert not partial.exists() and not (box.base / "releases" / "1.1.0" / "garbage").exists()


def test_rollback_restores_previous_release_and_dump(box):
    box.switch("1.0.0")
    box.switch("1.1.0")
    (box.stubs / "db-state").write_text("schema-2 with new records\n")
    done = box.run("desa-opensid-rollback")
    assert box.current() == "releases/1.0.0"
    assert (box.stubs / "db-state").read_text() == "schema-1\n"
    fields = dict(p.split("=", 1) for p in done.stdout.strip().removeprefix("rolled back ").split())
    assert gzip.decompress(Path(fields["saved"]).read_bytes()).decode() == "-- dump of schema-2 with new records\n"
    assert "sql DROP DATABASE IF EXISTS `opensid`" in box.calls()
    again = box.run("desa-opensid-rollback", check=False)
    assert again.returncode == 4 and "nothing to roll back" in again.stderr


def test_rollback_interrupted_after_the_drop_resumes_and_keeps_its_first_dump(box):
    """The restore fails after the database was dropped (power cut, killed): the release has not
    switched, and running the rollback again restores the pre-upgrade dump and still names the first
    safety dump (the records written since the upgrade), not a dump of the emptied database."""
    box.switch("1.0.0")
    box.switch("1.1.0")
    (box.stubs / "db-state").write_text("schema-2 with new records\n")
    (box.stubs / "fail-restore").touch()
    first = box.run("desa-opensid-rollback", check=False)
    assert first.returncode != 0 and "Lost connection" in first.stderr
    assert box.current() == "releases/1.1.0"
    assert (box.stubs / "db-state").read_text() == "nothing (dropped)\n"
    (box.stubs / "fail-restore").unlink()
    done = box.run("desa-opensid-rollback")
    assert box.current() == "releases/1.0.0" and (box.stubs / "db-state").read_text() == "schema-1\n"
    fields = dict(p.split("=", 1) for p in done.stdout.strip().removeprefix("rolled back ").split())
    assert gzip.decompress(Path(fields["saved"]).read_bytes()).decode() == "-- dump of schema-2 with new records\n"
    rollback_dumps = [p for p in box.dumps.iterdir() if "before-rollback" in p.name]
    assert rollback_dumps == [Path(fields["saved"])]  # one per rollback, the first
    assert not (box.base / ".state" / "rollback-saved").exists()


def test_rollback_refuses_when_current_is_not_the_upgrade(box):
    box.switch("1.0.0")
    box.switch("1.1.0")
    os.remove(box.base / "current")
    os.symlink("releases/1.0.0", box.base / "current")
    done = box.run("desa-opensid-rollback", check=False)
    assert done.returncode == 4 and "not 1.1.0" in done.stderr


def test_old_releases_pruned_but_rollback_target_kept(box):
    for v in ("1.0.0", "1.1.0"):
        box.switch(v)
    for age, v in enumerate(("0.7.0", "0.8.0", "0.9.0")):
        d = box.base / "releases" / v
        d.mkdir()
        (box.base / ".state" / f"complete-{v}").touch()
        os.utime(d, (1000 + age, 1000 + age))  # 0.7.0 the oldest
    box.switch("1.1.0")
    kept = sorted(p.name for p in (box.base / "releases").iterdir())
    assert kept == ["0.8.0", "0.9.0", "1.0.0", "1.1.0"]  # current, rollback target, two newest others
    assert not (box.base / ".state" / "complete-0.7.0").exists()


def test_backup_hook_dump_fails_loudly_and_keeps_the_last_good_dump(box):
    """/etc/desa/backup.d/10-app-db.sh: a dump that fails half-way fails the hook (the backup must
    not carry a truncated dump as if it were good) and leaves the previous dump untouched."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    hook = box.tmp / "10-app-db.sh"
    hook.write_text(env.from_string((TEMPLATES / "backup-app-db.sh.j2").read_text())
                    .render(dumps=str(box.dumps), database="opensid"))
    hook.chmod(0o750)
    run_env = {**os.environ, "PATH": f"{box.stubs}:{os.environ['PATH']}", "STUBS": str(box.stubs)}
    latest = box.dumps / "opensid-latest.sql.gz"
    ok = subprocess.run([str(hook)], capture_output=True, text=True, env=run_env, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert gzip.decompress(latest.read_bytes()).decode() == "-- dump of schema-1\n"
    assert latest.stat().st_mode & 0o777 == 0o600
    (box.stubs / "db-state").write_text("schema-2\n")
    (box.stubs / "fail-dump").touch()
    failed = subprocess.run([str(hook)], capture_output=True, text=True, env=run_env, timeout=30)
    assert failed.returncode != 0 and "Lost connection" in failed.stderr
    assert gzip.decompress(latest.read_bytes()).decode() == "-- dump of schema-1\n"
    assert sorted(p.name for p in box.dumps.iterdir()) == ["opensid-latest.sql.gz"]
