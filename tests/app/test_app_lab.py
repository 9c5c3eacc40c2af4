"""The village app for real, in a lab of its own (pool 10.222.0.0/16, hub 10.98.22.2): Sumberjaya
(OpenSID-shaped fixture) and Lambangsari (opaque Sidolpin, lab stand-in).

In order: fresh deploy → HTTPS from the office side with the village's name → second deploy changes
nothing → protections → records and uploads survive an upgrade to 1.1.0 → and a rollback → and an
upgrade killed mid-way then run again → the site checks (checks/test_app.py) pass on both sites.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desa.app import deploy_apps
from desa.app import fixture as fx
from desa.inventory import PROJECT_ROOT, load
from desa.lab import Lab
from desa.lab.testing import private_inventory

pytestmark = pytest.mark.lab

SITES = ["lambangsari", "sumberjaya"]
SITE = "sumberjaya"
DESA = [str(PROJECT_ROOT / ".venv" / "bin" / "desa")]


class World:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = private_inventory(tmp, sites=SITES, routed="10.222.0.0/16", hub_endpoint="10.98.22.2")
        self.lab = Lab(tmp / "lab")
        self.cert = tmp / "sumberjaya.crt"

    def intents(self):
        return load(self.root).select([], all_sites=True)

    def intent(self, slug=SITE):
        return load(self.root).site(slug)

    def deploy(self, slugs=None):
        intents = [i for i in self.intents() if slugs is None or i.slug in slugs]
        return {r.site: r for r in deploy_apps(intents, lab=True, lab_state=self.lab.state_dir)}

    def ssh(self, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", "-F", str(self.lab.ssh_config), host, command], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def want_release(self, version: str) -> None:
        """Point Sumberjaya's app.release at a fixture release (what an engineer edits in the YAML)."""
        path, sha = fx.build(versions=[version])[version]
        site = self.root / "bekasi" / "sites" / f"{SITE}.yaml"
        text = site.read_text()
        text = re.sub(r'version: "[^"]+"', f'version: "{version}"', text)
        text = re.sub(r"opensid-fixture-[0-9.]+\.tar\.gz", fx.archive_name(version), text)
        text = re.sub(r'sha256: "[0-9a-f]{64}"', f'sha256: "{sha}"', text)
        site.write_text(text)

    def curl(self, path: str, *args: str, slug: str = SITE, verify: bool = True) -> tuple[int, str]:
        i = self.intent(slug)
        trust = ["--cacert", str(self.cert)] if verify else ["-k"]
        done = subprocess.run(["curl", "-sS", "--max-time", "20", *trust, "--resolve",
                               f"{i.app.domain}:443:{i.server.address}", "-w", "\n%{http_code}", *args,
                               f"https://{i.app.domain}{path}"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"curl {path}: {done.stderr.strip()}"
        body, _, code = done.stdout.rpartition("\n")
        return int(code), body

    def health(self) -> dict:
        code, body = self.curl("/health")
        assert code == 200, body
        return json.loads(body)

    def page(self) -> str:
        code, body = self.curl("/")
        assert code == 200, body
        return body


def _ok(results, slugs=SITES):
    for slug in slugs:
        r = results[slug]
        assert not r.failed, f"{slug}: {r.error} — failed ops: {[o for h in r.hosts.values() for o in h.operations if o['failed']]}"


POOL_MARK = "10.98.22.1/"  # the controller's address on this module's hub bridge (pool 10.98.22.0/24)


def _wait_for_pool(limit: float = 300) -> None:
    """Another run of this module (another engineer's) holds the same address pool: labs on one pool
    would answer each other's SSH. Wait for it, bounded, instead of colliding."""
    deadline = time.monotonic() + limit
    while True:
        held = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, timeout=10).stdout
        if POOL_MARK not in held:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the address pool of {__name__} (10.98.22.0/24, 10.222.0.0/16) is still held by another "
                        f"lab after {limit:.0f} s → wait for the other run to end, or `desa lab destroy` it")
        time.sleep(5)


@pytest.fixture(scope="module")
def world(tmp_path_factory, lab_secrets):
    fx.build()
    _wait_for_pool()
    w = World(tmp_path_factory.mktemp("app"))
    try:
        w.lab.up(w.intents())
        yield w
    finally:
        w.lab.destroy()


def test_fresh_deploy_answers_https_with_village_name(world):
    results = world.deploy()
    _ok(results)
    assert all(r.changed > 0 for r in results.values())
    cert = world.ssh("srv-sumberjaya", "sudo cat /etc/desa/tls/sumberjaya.desa.id.crt")
    assert cert.returncode == 0, cert.stderr
    world.cert.write_text(cert.stdout)
    # From the controller, which sits on the office VLAN's bridge, verifying the certificate and name.
    code, body = world.curl("/")
    assert code == 200 and "<h1>Desa Sumberjaya</h1>" in body and "versi 1.0.0" in body
    code, body = world.curl("/", slug="lambangsari", verify=False)
    assert code == 200 and "Desa Lambangsari" in body and "stand-in" in body


def test_second_deploy_changes_nothing(world):
    results = world.deploy()
    _ok(results)
    changed = {s: [o["name"] for h in r.hosts.values() for o in h.operations if o["changed"]] for s, r in results.items()}
    assert changed == {"lambangsari": [], "sumberjaya": []}


@pytest.mark.parametrize("path", ["/desa/config/database.php", "/.htaccess", "/.env.example", "/composer.json",
                                  "/composer.lock", "/migrate.php", "/app/Database.php"])
def test_protected_paths_refused(world, path):
    code, body = world.curl(path)
    assert code == 403 and "password" not in body


def test_php_uploaded_through_the_app_is_not_executed(world, tmp_path):
    shell = tmp_path / "shell.php"
    shell.write_text("<?php echo 'EXEC' . 'UTED';")
    code, _ = world.curl("/unggah", "-F", f"berkas=@{shell}")
    assert code == 303
    assert world.ssh("srv-sumberjaya", "sudo test -f /srv/desa/opensid/shared/desa/upload/shell.php").returncode == 0
    code, body = world.curl("/desa/upload/shell.php")
    assert code == 403 and "EXECUTED" not in body
    world.ssh("srv-sumberjaya", "sudo rm -f /srv/desa/opensid/shared/desa/upload/shell.php")


def _records_and_uploads(world) -> tuple[list[str], list[str]]:
    page = world.page()
    people = re.findall(r"<li>([^<(]+?)(?: \([^)]*\))?</li>", page.split('id="unggahan"')[0])
    uploads = re.findall(r"<li>([^<]+)</li>", page.split('id="unggahan"')[1])
    return people, uploads


def test_upgrade_keeps_records_and_uploads(world, tmp_path):
    for name in ("Budi Santoso", "Siti Aminah"):
        assert world.curl("/penduduk", "-d", f"nama={name}")[0] == 303
    photo = tmp_path / "ktp-budi.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 fixture image")
    assert world.curl("/unggah", "-F", f"berkas=@{photo}")[0] == 303
    before = _records_and_uploads(world)
    assert before == (["Budi Santoso", "Siti Aminah"], ["ktp-budi.jpg"])

    world.want_release("1.1.0")
    _ok(world.deploy([SITE]), [SITE])
    h = world.health()
    assert (h["versi"], h["skema"], h["penduduk"]) == ("1.1.0", 2, 2)
    assert _records_and_uploads(world) == before
    dumps = world.ssh("srv-sumberjaya", "sudo ls /var/backups/desa").stdout.split()
    assert any(d.startswith("opensid-before-1.1.0-from-1.0.0-") for d in dumps), dumps


def test_rollback_keeps_records_and_uploads(world):
    before = _records_and_uploads(world)
    done = subprocess.run([*DESA, "app", "rollback", SITE, "-i", str(world.root), "--lab", "--state",
                           str(world.lab.state_dir), "-y", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["rolled_back_from"], result["to"]) == ("1.1.0", "1.0.0")
    h = world.health()
    assert (h["versi"], h["skema"]) == ("1.0.0", 1)
    assert _records_and_uploads(world) == before
    again = subprocess.run([*DESA, "app", "rollback", SITE, "-i", str(world.root), "--lab", "--state",
                            str(world.lab.state_dir), "-y"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "nothing to roll back" in again.stderr.replace("\n", " ")


KILLER = ("sudo sh -c 'for i in $(seq 1 12000); do "
          "if grep -qx to=1.1.0 /srv/desa/opensid/.state/previous 2>/dev/null; then "
          "p=$(cat /srv/desa/opensid/.state/switch.pid); g=$(ps -o pgid= -p $p | tr -d \" \"); "
          "/bin/kill -s KILL -- -$g && echo killed $p; exit 0; fi; sleep 0.005; done; echo never; exit 1'")


def test_upgrade_killed_midway_then_rerun_loses_nothing(world):
    """The inventory still wants 1.1.0: re-deploy, killed (SIGKILL to the switch's process group) just
    after the pre-upgrade dump, before migrating and switching; then deploy again."""
    before = _records_and_uploads(world)
    killer = subprocess.Popen(["ssh", "-F", str(world.lab.ssh_config), "srv-sumberjaya", KILLER],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        results = world.deploy([SITE])
        out, err = killer.communicate(timeout=90)
    finally:
        if killer.poll() is None:
            killer.kill()
            killer.wait(10)
    assert out.startswith("killed"), f"the switch was not caught mid-way: {out} {err}"
    assert results[SITE].failed, "a killed upgrade must be reported as failed"
    assert "release 1.1.0" in results[SITE].error, results[SITE].error
    # Interrupted: still the old release, serving, with every record.
    assert world.health()["versi"] == "1.0.0"
    assert _records_and_uploads(world) == before
    status = subprocess.run([*DESA, "app", "status", SITE, "-i", str(world.root), "--lab", "--state",
                             str(world.lab.state_dir), "--json"], capture_output=True, text=True, timeout=60)
    st = json.loads(status.stdout)
    assert st["interrupted_switch"] and st["current"] == "1.0.0"
    first_dump = world.ssh("srv-sumberjaya", "sudo sed -n s/^dump=//p /srv/desa/opensid/.state/previous").stdout.strip()

    _ok(world.deploy([SITE]), [SITE])
    h = world.health()
    assert (h["versi"], h["skema"]) == ("1.1.0", 2)
    assert _records_and_uploads(world) == before
    # The dump kept for a rollback is the one taken before the interrupted attempt touched anything.
    assert world.ssh("srv-sumberjaya", "sudo sed -n s/^dump=//p /srv/desa/opensid/.state/previous").stdout.strip() == first_dump
    results = world.deploy()
    _ok(results)
    assert sum(r.changed for r in results.values()) == 0


def test_backup_hooks_dump_database_and_archive_opaque_data(world):
    db = world.ssh("srv-sumberjaya", "sudo /etc/desa/backup.d/10-app-db.sh && sudo stat -c '%a %s' "
                   "/var/backups/desa/opensid-latest.sql.gz && sudo zcat /var/backups/desa/opensid-latest.sql.gz")
    assert db.returncode == 0, db.stderr
    mode, size = db.stdout.splitlines()[0].split()
    assert mode == "600" and int(size) > 0 and "Budi Santoso" in db.stdout
    data = world.ssh("srv-lambangsari", "sudo /etc/desa/backup.d/10-app-data.sh && "
                     "sudo tar -tzf /var/backups/desa/sidolpin-data.tar.gz")
    assert data.returncode == 0 and "srv/sidolpin/data/" in data.stdout, data.stderr


def test_plain_pyinfra_runs_the_same_deploy(world):
    """deploys/app.py under the pyinfra CLI against the lab's inventory (the opaque site: its deploy
    needs no secret, so the secrets stand-in of this process is not needed): converged, no change."""
    env = {**os.environ, "DESA_INVENTORY": str(world.root)}
    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "pyinfra"), "-y", "--sudo", "--limit", "srv-lambangsari",
                           str(world.lab.pyinfra_inventory), "deploys/app.py"], capture_output=True, text=True,
                          timeout=300, cwd=PROJECT_ROOT, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    output = done.stdout + done.stderr  # pyinfra prints its table on stderr when not on a terminal
    total = re.search(r"Grand total\s+(\d+)\s+-\s+-\s+(\d+)", output)  # ops, success, error, no change
    assert total and total.group(1) == total.group(2) and int(total.group(1)) > 10, output[-1500:]


def test_db_password_only_in_its_two_root_files(world, lab_secrets):
    """The app's DB password (from the secrets store) is in desa/config/database.php and the grants
    file, and nowhere else on the server: not in logs, the journal, dumps, backups or other configs.
    (The password reaches grep on stdin, never as an argument.)"""
    password = lab_secrets("secret:sites/sumberjaya/app-db")
    assert len(password) >= 16

    def ssh_stdin(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", "-F", str(world.lab.ssh_config), "srv-sumberjaya", command], input=password + "\n",
                              capture_output=True, text=True, timeout=120)

    files = ssh_stdin("sudo grep -rlF -f - /etc /srv /var/log /var/backups /var/cache/desa /tmp /root /home /run/log "
                      "2>/dev/null; true")
    assert sorted(files.stdout.split()) == ["/etc/desa/app/opensid-db.sql",
                                            "/srv/desa/opensid/shared/desa/config/database.php"], files.stdout
    journal = ssh_stdin("sudo journalctl -o cat --no-pager | grep -cF -f - || true")
    assert journal.stdout.strip() == "0", "the DB password is in the journal"


@pytest.mark.parametrize("slug", SITES)
def test_site_checks_pass(world, slug):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PROJECT_ROOT / "checks" / "test_app.py"),
                           "--desa-site", slug, "--desa-inventory", str(world.root), "--desa-lab", str(world.lab.state_dir)],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
