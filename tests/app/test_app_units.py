"""Tests as data for the app stage: facts in → commands out, templates, fixture reproducibility."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import gzip
from pathlib import Path

import jinja2
import pytest
from ruamel.yaml import YAML

from desa.app import db, fixture as fx, release as rel, tls
from desa.app.deploy import targets
from desa.app.rollback import RollbackError, parse_output
from desa.inventory import PROJECT_ROOT, load

SITES = PROJECT_ROOT / "inventory" / "bekasi" / "sites"


class FakeHost:
    def __init__(self, facts: dict):
        self.facts, self.noops = facts, []

    def get_fact(self, fact, **kwargs):
        return self.facts[fact.__name__]

    def noop(self, text):
        self.noops.append(text)


class FakeFiles:
    """files.put/download stand-ins: 'upload' when `changed`, nothing otherwise."""

    def __init__(self, changed: bool):
        self.changed, self.calls = changed, []
        self.put = self._op("put")
        self.download = self._op("download")

    def _op(self, kind):
        files = self

        class Op:
            @staticmethod
            def _inner(**kwargs):
                files.calls.append((kind, kwargs))
                if files.changed:
                    yield f"{kind} {kwargs.get('dest')}"

        return Op


def run_op(op, module, monkeypatch, facts, files_changed=True, **kwargs):
    host = FakeHost(facts)
    files = FakeFiles(files_changed)
    monkeypatch.setattr(module, "host", host)
    if hasattr(module, "files"):
        monkeypatch.setattr(module, "files", files)
    return list(op._inner(**kwargs)), host, files


# --- fixture releases ----------------------------------------------------------------------------------

def test_fixture_is_reproducible_and_pinned(tmp_path):
    a = fx.build_bytes("1.0.0")
    assert a == fx.build_bytes("1.0.0")
    sha = hashlib.sha256(a).hexdigest()
    yaml = YAML(typ="safe")
    for slug in ("sumberjaya", "karangbahagia", "karangmukti"):
        release = yaml.load((SITES / f"{slug}.yaml").read_text())["app"]["release"]
        assert (release["version"], release["sha256"]) == ("1.0.0", sha), f"{slug}: pin the fixture (desa app fixture)"
        assert release["source"] == f"state/app-fixture/{fx.archive_name('1.0.0')}"
    built = fx.build(tmp_path)
    assert built["1.0.0"][1] == sha and built["1.0.0"][0].read_bytes() == a


def _members(version):
    with tarfile.open(fileobj=io.BytesIO(fx.build_bytes(version))) as tar:
        return {m.name: m for m in tar.getmembers()}, tar


def test_fixture_has_opensid_shape_and_fixed_metadata():
    with tarfile.open(fileobj=io.BytesIO(fx.build_bytes("1.1.0"))) as tar:
        members = tar.getmembers()
        top = "opensid-fixture-1.1.0"
        names = [m.name for m in members]
        assert names == sorted(names) and all(n == top or n.startswith(top + "/") for n in names)
        for needed in ("index.php", "migrate.php", "desa-contoh/config/database.php", "storage", "backup_inkremental",
                       "vendor/autoload.php", "composer.json", "migrations/002_dusun.sql"):
            assert f"{top}/{needed}" in names, needed
        assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, fx.MTIME)}
        assert tar.extractfile(f"{top}/app/VERSION").read() == b"1.1.0\n"
    assert gzip.decompress(fx.build_bytes("1.0.0"))  # plain gzip
    with tarfile.open(fileobj=io.BytesIO(fx.build_bytes("1.0.0"))) as tar:
        names = tar.getnames()
    assert "opensid-fixture-1.0.0/migrations/001_penduduk.sql" in names
    assert "opensid-fixture-1.0.0/migrations/002_dusun.sql" not in names


def test_unknown_fixture_version():
    with pytest.raises(ValueError, match="unknown fixture release"):
        fx.build_bytes("9.9.9")


# --- release switch: facts in → commands out -----------------------------------------------------------

@pytest.mark.parametrize("lines,expected", [
    (["current="], rel.ReleaseState(None, (), None, False)),
    (["current=1.0.0", "complete=1.0.0"], rel.ReleaseState("1.0.0", ("1.0.0",), None, False)),
    (["current=1.0.0", "complete=1.1.0", "complete=1.0.0", "previous=0.9.0", "switching=1"],
     rel.ReleaseState("1.0.0", ("1.0.0", "1.1.0"), "0.9.0", True)),
    (["current=1.0.0", "complete=bad name;rm"], rel.ReleaseState("1.0.0", (), None, False)),
])
def test_parse_release_state(lines, expected):
    assert rel.parse_state(lines) == expected


@pytest.mark.parametrize("state,version,switch", [
    (rel.ReleaseState(None, (), None, False), "1.0.0", True),  # fresh server
    (rel.ReleaseState("1.0.0", ("1.0.0",), None, False), "1.0.0", False),  # converged
    (rel.ReleaseState("1.0.0", ("1.0.0",), None, True), "1.0.0", True),  # interrupted switch
    (rel.ReleaseState("1.0.0", ("1.0.0", "1.1.0"), None, False), "1.1.0", True),  # upgrade (e.g. after rollback)
    (rel.ReleaseState("1.1.0", ("1.0.0",), None, False), "1.1.0", True),  # current without a complete marker
])
def test_needs_switch(state, version, switch):
    assert rel.needs_switch(state, version) is switch


def test_release_op_converged_yields_nothing(monkeypatch):
    cmds, host, files = run_op(rel.release, rel, monkeypatch,
                               {"OpensidRelease": rel.ReleaseState("1.0.0", ("1.0.0",), None, False)},
                               version="1.0.0", source="/nonexistent.tar.gz", sha256="a" * 64)
    assert cmds == [] and host.noops and files.calls == []


def test_release_op_upgrade_uploads_then_switches(monkeypatch, tmp_path):
    archive = tmp_path / "r.tar.gz"
    archive.write_bytes(b"x")
    cmds, _, files = run_op(rel.release, rel, monkeypatch,
                            {"OpensidRelease": rel.ReleaseState("1.0.0", ("1.0.0",), None, False)},
                            version="1.1.0", source=str(archive), sha256="b" * 64)
    assert cmds == ["put /var/cache/desa/app/opensid-1.1.0.tar.gz",
                    f"{rel.SWITCH} --base /srv/desa/opensid 1.1.0 /var/cache/desa/app/opensid-1.1.0.tar.gz {'b' * 64}"]
    assert files.calls[0][1]["mode"] == "0600"


def test_release_op_url_is_downloaded_with_checksum(monkeypatch):
    cmds, _, files = run_op(rel.release, rel, monkeypatch, {"OpensidRelease": rel.ReleaseState(None, (), None, False)},
                            files_changed=False, version="2411.0.0",
                            source="https://example.org/opensid-2411.tar.gz", sha256="c" * 64)
    assert files.calls == [("download", {"src": "https://example.org/opensid-2411.tar.gz",
                                         "dest": "/var/cache/desa/app/opensid-2411.0.0.tar.gz",
                                         "sha256sum": "c" * 64, "mode": "0600"})]
    assert cmds == [rel.switch_command("2411.0.0", "c" * 64)]  # archive already there: only the switch


def test_release_op_missing_archive_says_what_to_do(monkeypatch):
    with pytest.raises(FileNotFoundError, match="desa app fixture"):
        run_op(rel.release, rel, monkeypatch, {"OpensidRelease": rel.ReleaseState(None, (), None, False)},
               version="1.0.0", source="/nonexistent.tar.gz", sha256="a" * 64)


@pytest.mark.parametrize("version,sha", [("1.0.0; rm -rf /", "a" * 64), ("1.0.0", "A" * 64), ("1.0.0", "a" * 63)])
def test_switch_command_rejects_unsafe_input(version, sha):
    with pytest.raises(ValueError):
        rel.switch_command(version, sha)


# --- database ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lines,expected", [
    (["unavailable"], None),
    (["database\t1", "user\t0"], {"database": True, "user": False}),
    (["database\t1", "user\t1"], {"database": True, "user": True}),
    ([], None),
])
def test_parse_database(lines, expected):
    assert db.parse_database(lines) == expected


def test_grants_are_least_privilege_and_escaped():
    sql = db.grants_sql("opensid", "opensid", "pa'ss\\word")
    assert "IDENTIFIED BY 'pa\\'ss\\\\word'" in sql
    grant = [line for line in sql.splitlines() if line.startswith("GRANT")]
    assert grant == [f"GRANT {db.PRIVILEGES} ON `opensid`.* TO 'opensid'@'localhost';"]
    assert "*.*" not in sql and "GRANT OPTION" not in grant[0] and "SUPER" not in sql and "FILE" not in sql
    assert "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'opensid'@'localhost';" in sql


@pytest.mark.parametrize("bad", ["open-sid", "x" * 40, "Opensid", "a;drop"])
def test_database_names_checked(bad):
    with pytest.raises(ValueError):
        db.grants_sql(bad, "u", "p")


@pytest.mark.parametrize("present,file_changed,applies", [
    ({"database": True, "user": True}, False, False),  # converged: nothing
    ({"database": True, "user": True}, True, True),  # password rotated in the store
    ({"database": True, "user": False}, False, True),  # user dropped by hand
    (None, False, True),  # MariaDB just installed in this run
])
def test_app_database_op(monkeypatch, present, file_changed, applies):
    cmds, _, files = run_op(db.app_database, db, monkeypatch, {"AppDatabase": present}, files_changed=file_changed,
                            database="opensid", user="opensid", password="s3cret")
    assert ("mariadb < /etc/desa/app/opensid-db.sql" in cmds) is applies
    assert all("s3cret" not in str(c) for c in cmds)  # the password only travels in the 0600 file
    assert files.calls[0][1]["mode"] == "0600"


# --- TLS -----------------------------------------------------------------------------------------------

OPENSSL = ["exists=1", "fresh=1", "matches=1", "    DNS:sumberjaya.desa.id, IP Address:10.216.2.10"]


def test_parse_certificate():
    info = tls.parse_certificate(OPENSSL)
    assert info == {"exists": True, "fresh": True, "matches": True, "names": {"sumberjaya.desa.id", "10.216.2.10"}}
    assert tls.parse_certificate([]) == {"exists": False, "fresh": False, "matches": False, "names": set()}


@pytest.mark.parametrize("lines,makes", [
    (OPENSSL, False),
    ([line for line in OPENSSL if line != "fresh=1"], True),  # expires within 30 days
    ([line for line in OPENSSL if line != "matches=1"], True),  # key replaced
    (OPENSSL[:3] + ["    DNS:old.desa.id, IP Address:10.216.2.10"], True),  # domain changed
    ([], True),
])
def test_self_signed_op(monkeypatch, lines, makes):
    cmds, _, _ = run_op(tls.self_signed, tls, monkeypatch, {"Certificate": tls.parse_certificate(lines)},
                        cert="/etc/desa/tls/s.crt", key="/etc/desa/tls/s.key", domain="sumberjaya.desa.id",
                        addresses=["10.216.2.10"])
    assert bool(cmds) is makes
    if makes:
        assert cmds[0].startswith("umask 077 && openssl req -x509") and "subjectAltName=DNS:sumberjaya.desa.id,IP:10.216.2.10" in cmds[0]
        assert "chmod 0600" in cmds[0]


# --- templates -----------------------------------------------------------------------------------------

def _render(path: Path, **ctx) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(path.read_text()).render(**ctx)


@pytest.fixture(scope="module")
def sumberjaya():
    return load().site("sumberjaya")


def test_nginx_opensid_site_carries_htaccess_protections(sumberjaya):
    import sys

    sys.path.insert(0, str(PROJECT_ROOT))
    from roles import web

    conf = _render(PROJECT_ROOT / "templates" / "nginx" / "opensid.conf.j2",
                   **web.context(sumberjaya, base="/srv/desa/opensid", fpm_socket="/run/php/desa-app.sock"))
    assert "server_name sumberjaya.desa.id 10.216.2.10;" in conf
    assert "root /srv/desa/opensid/current;" in conf
    assert "ssl_certificate_key /etc/desa/tls/sumberjaya.desa.id.key;" in conf
    for rule in ("location ^~ /desa/config/ { deny all; }", "location ^~ /storage/ { deny all; }",
                 "location ^~ /backup_inkremental/ { deny all; }", "location ^~ /vendor/ { deny all; }"):
        assert rule in conf
    # the deny snippet at server level and again inside /desa/ (^~ stops regex matching there)
    desa = conf.split("location ^~ /desa/ {", 1)[1].split("\n    }", 1)[0]
    assert "include snippets/desa-deny.conf;" in conf.split("location ^~ /desa/config/")[0]
    assert "include snippets/desa-deny.conf;" in desa and re.search(r"php\[0-9\]\?\|.*phtml.*\{ deny all; \}", desa)
    # one PHP entry point: the front controller
    assert conf.count("fastcgi_pass") == 1 and "location = /index.php {" in conf
    assert "try_files $uri $uri/ /index.php$is_args$args;" in conf
    snippet = (PROJECT_ROOT / "templates" / "nginx" / "desa-deny.conf").read_text()
    for pattern in (r"/\.(?!well-known/)", r"composer\.(json|lock)", "app_key", "zip|tar|tgz|gz", "sql"):
        assert pattern in snippet


def test_database_php_escapes_password_and_reads_like_opensid():
    text = _render(PROJECT_ROOT / "templates" / "app" / "database.php.j2", db_user="opensid", db_name="opensid",
                   db_password="it's\\tricky", site_file="sumberjaya.yaml", slug="sumberjaya")
    assert "'password' => 'it\\'s\\\\tricky'," in text
    assert "$db['default'] = [" in text and "'socket'   => '/run/mysqld/mysqld.sock'" in text


def test_php_limits_meet_design():
    import sys

    sys.path.insert(0, str(PROJECT_ROOT))
    from roles import php

    ini = _render(PROJECT_ROOT / "templates" / "php" / "desa.ini.j2", **php.LIMITS)
    values = dict(re.findall(r"^(\w[\w.]*) = (\S+)$", ini, re.M))

    def mb(v):
        return int(v.rstrip("M"))

    assert int(values["max_execution_time"]) >= 300 and mb(values["post_max_size"]) >= 10
    assert mb(values["upload_max_filesize"]) >= 20 and mb(values["memory_limit"]) >= 512
    assert mb(values["post_max_size"]) >= mb(values["upload_max_filesize"])  # or uploads of 20M fail
    assert values["expose_php"] == "Off"
    for ext in ("mysql", "curl", "gd", "mbstring", "tidy", "zip"):
        assert f"php8.2-{ext}" in php.PACKAGES


def test_lab_standin_is_labelled():
    unit = _render(PROJECT_ROOT / "templates" / "app" / "lab-standin.service.j2", service="sidolpin.service",
                   village="Lambangsari", port=8081, www="/opt/desa-lab-standin/sidolpin")
    assert "Description=LAB STAND-IN for sidolpin.service" in unit and "--bind 127.0.0.1" in unit


# --- deploy plumbing -----------------------------------------------------------------------------------

def test_targets_are_the_servers_at_inventory_addresses(sumberjaya):
    hosts = targets([sumberjaya, load().site("lambangsari")], lab=False)
    assert set(hosts) == {"srv-sumberjaya", "srv-lambangsari"}  # no hub: apps live on the servers
    data = hosts["srv-sumberjaya"]
    assert (data["ssh_hostname"], data["ssh_user"], data["desa_site"], data["desa_lab"]) == (
        "10.216.2.10", sumberjaya.server.ssh_user, "sumberjaya", False)
    assert data["desa_inventory"] == str(PROJECT_ROOT / "inventory")


def test_deploy_apps_without_lab_reports_failure(tmp_path, sumberjaya):
    from desa.app import deploy_apps

    [result] = deploy_apps([sumberjaya], lab=True, lab_state=tmp_path / "no-lab")
    assert result.failed and "desa lab up" in result.error and result.stage == "app"


def test_parse_rollback_output():
    r = parse_output("s", "rolled back from=1.1.0 to=1.0.0 dump=/var/backups/desa/a.sql.gz saved=/var/backups/desa/b.sql.gz\n")
    assert (r.rolled_back_from, r.to, r.restored_dump, r.saved_dump) == ("1.1.0", "1.0.0", "/var/backups/desa/a.sql.gz",
                                                                         "/var/backups/desa/b.sql.gz")
    with pytest.raises(RollbackError):
        parse_output("s", "something else")


def test_rollback_of_opaque_app_refused():
    from desa.app.rollback import rollback

    with pytest.raises(RollbackError, match="only OpenSID-shaped"):
        rollback(load().site("lambangsari"))


def test_opaque_app_requires_the_vendor_unit(monkeypatch):
    import sys

    sys.path.insert(0, str(PROJECT_ROOT))
    from pyinfra.api.exceptions import OperationError

    from roles import opaque_app

    monkeypatch.setattr(opaque_app, "host", FakeHost({"UnitExists": False}))
    with pytest.raises(OperationError, match="sidolpin.service is not installed on srv-lambangsari → install the app"):
        list(opaque_app.require_unit._inner(service="sidolpin", hostname="srv-lambangsari"))
    host = FakeHost({"UnitExists": True})
    monkeypatch.setattr(opaque_app, "host", host)
    assert list(opaque_app.require_unit._inner(service="sidolpin.service", hostname="srv-lambangsari")) == []
    assert host.noops


def test_regency_ca_certificate_used_when_the_inventory_has_one(tmp_path, sumberjaya):
    import sys

    sys.path.insert(0, str(PROJECT_ROOT))
    from roles import web

    assert web.regency_certificate(sumberjaya, tmp_path) is None  # none issued: self-signed on the server
    issued = tmp_path / "bekasi" / "tls" / "sumberjaya.desa.id.crt"
    issued.parent.mkdir(parents=True)
    issued.write_text("-----BEGIN CERTIFICATE-----\n")
    assert web.regency_certificate(sumberjaya, tmp_path) == issued
    assert web.cert_paths(sumberjaya) == ("/etc/desa/tls/sumberjaya.desa.id.crt", "/etc/desa/tls/sumberjaya.desa.id.key")
