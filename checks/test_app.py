"""Checks of a site's village app (roles/web.py, php.py, database.py, app.py, opaque_app.py).

OpenSID-shaped apps: services up; HTTPS answers on the server's office address with the village's
name; the certificate is valid for the domain and not near expiry; OpenSID's .htaccess protections
hold (config, dotfiles, composer files, app_key, archives, PHP in upload folders refused); villager
data folders are outside the release. Opaque apps: service, port, health over HTTP and HTTPS.
Every assertion message: "what is wrong → what to do".
"""

from __future__ import annotations

import shlex

import pytest

BASE = "/srv/desa/opensid"
TLS_DIR = "/etc/desa/tls"
RENEW_DAYS = 30
PROBE = "desa-check-probe"  # files the checks create for a moment to prove a rule, then remove


@pytest.fixture(scope="module")
def app(intent):
    if intent.app is None:
        pytest.skip(f"{intent.slug} has no app in the inventory")
    return intent.app


@pytest.fixture(scope="module")
def root(server):
    """The server, every command through sudo."""
    with server.sudo():
        yield server


def _redeploy(intent) -> str:
    return f"run `desa deploy {intent.slug} --only app`"


def _https(host, intent, path: str, *, verify: bool = True, in_lab: bool = False) -> tuple[int, str]:
    """(status, body) of https://DOMAIN/PATH, asked on the server's own office address."""
    domain, address = intent.app.domain, str(intent.server.address)
    trust = f"--cacert {TLS_DIR}/{domain}.crt" if in_lab else ""
    cmd = (f"curl -sS --max-time 15 {'' if verify else '-k'} {trust} --resolve {domain}:443:{address} "
           f"-o /dev/stdout -w '\\n%{{http_code}}' {shlex.quote(f'https://{domain}{path}')}")
    res = host.run(cmd)
    assert res.rc == 0, (f"https://{domain}{path} does not answer on {address} ({res.stderr.strip()[:160]}) "
                         f"→ check nginx on {intent.server.hostname}, then {_redeploy(intent)}")
    body, _, code = res.stdout.rpartition("\n")
    return int(code), body


def _opensid(app):
    if app.kind != "opensid":
        pytest.skip(f"the app is {app.kind}: this check is for OpenSID-shaped apps")


def _opaque(app):
    if app.kind != "opaque":
        pytest.skip(f"the app is {app.kind}: this check is for opaque apps")


# --- services ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["nginx", "php8.2-fpm", "mariadb"])
def test_services_running(root, intent, app, service):
    if service != "nginx":
        _opensid(app)
    svc = root.service(service)
    assert svc.is_running, f"{service} is not running on {intent.server.hostname} → `systemctl start {service}`, then {_redeploy(intent)}"
    assert svc.is_enabled, f"{service} is not enabled at boot on {intent.server.hostname} → {_redeploy(intent)}"


# --- HTTPS and TLS ----------------------------------------------------------------------------------

def test_https_shows_village_name(root, intent, app, in_lab):
    code, body = _https(root, intent, "/" if app.kind == "opensid" else app.health_path, in_lab=in_lab)
    assert code == 200, f"https://{app.domain}/ answers {code} → look at /var/log/nginx/{intent.slug}-app.error.log, then {_redeploy(intent)}"
    if app.kind == "opensid":
        assert f"Desa {intent.name}" in body, (
            f"the page of {app.domain} does not show 'Desa {intent.name}' → desa/config/config.php is stale: {_redeploy(intent)}")


def test_http_redirects_to_https(root, intent, app):
    res = root.run(f"curl -sS --max-time 10 -o /dev/null -w '%{{http_code}} %{{redirect_url}}' "
                   f"--resolve {app.domain}:80:{intent.server.address} http://{app.domain}/")
    code, _, target = res.stdout.partition(" ")
    assert code == "301" and target.startswith(f"https://{app.domain}/"), (
        f"http://{app.domain}/ does not redirect to HTTPS ({res.stdout.strip()}) → {_redeploy(intent)}")


def test_certificate_valid_and_not_near_expiry(root, intent, app, in_lab):
    served = root.run(f"echo | openssl s_client -connect {intent.server.address}:443 -servername {app.domain} "
                      f"2>/dev/null | openssl x509 -noout -checkend {RENEW_DAYS * 86400} -ext subjectAltName")
    assert "Certificate will not expire" in served.stdout, (
        f"the certificate of {app.domain} expires within {RENEW_DAYS} days (or none is served) → {_redeploy(intent)} "
        f"(self-signed ones are renewed; a regency CA certificate must be re-issued)")
    assert f"DNS:{app.domain}" in served.stdout, (
        f"the certificate served is not for {app.domain} → {_redeploy(intent)}")
    for f in (f"{TLS_DIR}/{app.domain}.crt", f"{TLS_DIR}/{app.domain}.key"):
        assert root.file(f).mode == 0o600 and root.file(f).user == "root", (
            f"{f} is not root-only (0600) → `chmod 0600 {f}` and {_redeploy(intent)}")
    if not in_lab:
        code, _ = _https(root, intent, "/", in_lab=False)  # system trust: the regency CA must be installed
        assert code < 500, f"https://{app.domain}/ is not trusted by the system store → install the regency CA certificate"


# --- OpenSID's .htaccess protections ------------------------------------------------------------------

def _refused(root, intent, path: str, secret: str | None = None) -> None:
    code, body = _https(root, intent, path, verify=False)
    assert code in (403, 404), (
        f"https://{intent.app.domain}{path} is served ({code}) → nginx lost OpenSID's protections: {_redeploy(intent)}")
    if secret:
        assert secret not in body, f"https://{intent.app.domain}{path} leaks its content → {_redeploy(intent)}"


@pytest.mark.parametrize("path,secret", [
    ("/desa/config/database.php", "password"),
    ("/desa/config/config.php", "nama_desa"),
    ("/composer.json", None),
    ("/composer.lock", None),
    ("/.htaccess", "Rewrite"),
])
def test_protected_release_files_refused(root, intent, app, path, secret):
    _opensid(app)
    assert root.file(f"{BASE}/current{path}").exists, (
        f"{BASE}/current{path} is missing, so its rule cannot be proven → {_redeploy(intent)}")
    code, body = _https(root, intent, path, verify=False)
    assert code == 403 and (secret is None or secret not in body), (
        f"https://{app.domain}{path} is not refused ({code}) → nginx lost OpenSID's protections: {_redeploy(intent)}")


@pytest.mark.parametrize("relpath,content,marker", [
    ("desa/upload/PROBE.php", "<?php echo 'EXEC'.'UTED';", "EXECUTED"),
    ("desa/upload/PROBE.phtml", "<?php echo 'EXEC'.'UTED';", "EXECUTED"),
    ("desa/upload/.PROBE", "dotfile-content", "dotfile-content"),
    ("desa/upload/PROBE.zip", "archive-content", "archive-content"),
    ("desa/upload/PROBE.sql", "dump-content", "dump-content"),
    ("desa/PROBE/app_key", "key-content", "key-content"),
    ("storage/PROBE.txt", "storage-content", "storage-content"),
    ("backup_inkremental/PROBE.tar.gz", "backup-content", "backup-content"),
])
def test_probes_refused(root, intent, app, relpath, content, marker):
    """A file of each forbidden kind is placed in the villager folders for a moment and must be refused."""
    _opensid(app)
    rel = relpath.replace("PROBE", PROBE)
    path = f"{BASE}/shared/{rel}"
    folder = path.rsplit("/", 1)[0]
    made_folder = not root.file(folder).exists
    root.check_output(f"mkdir -p {shlex.quote(folder)} && printf %s {shlex.quote(content)} > {shlex.quote(path)} "
                  f"&& chown -R www-data:www-data {shlex.quote(folder)}")
    try:
        code, body = _https(root, intent, "/" + rel, verify=False)
    finally:
        root.run(f"rm -f {shlex.quote(path)}" + (f" && rmdir {shlex.quote(folder)}" if made_folder else ""))
    assert code in (403, 404) and marker not in body, (
        f"https://{app.domain}/{rel} is served ({code}) → nginx lost OpenSID's protections: {_redeploy(intent)}")


def test_upload_folder_serves_plain_files(root, intent, app):
    """The protections must not break villager uploads: a plain image in desa/upload/ is served."""
    _opensid(app)
    rel = f"desa/upload/{PROBE}.txt"
    path = f"{BASE}/shared/{rel}"
    root.check_output(f"printf plain-upload > {path} && chown www-data:www-data {path}")
    try:
        code, body = _https(root, intent, "/" + rel, verify=False)
    finally:
        root.run(f"rm -f {path}")
    assert code == 200 and body == "plain-upload", (
        f"uploaded files under /desa/upload/ are not served ({code}) → {_redeploy(intent)}")


# --- releases and villager data -----------------------------------------------------------------------

def test_release_current_and_data_outside(root, intent, app):
    _opensid(app)
    current = root.file(f"{BASE}/current")
    assert current.is_symlink, f"{BASE}/current is missing → {_redeploy(intent)}"
    want = app.release.version
    assert current.linked_to == f"{BASE}/releases/{want}", (
        f"current release is {current.linked_to.rsplit('/', 1)[-1]}, the inventory wants {want} → {_redeploy(intent)} "
        f"(or set app.release back after `desa app rollback {intent.slug}`)")
    for d in ("desa", "storage", "backup_inkremental"):
        link = root.file(f"{BASE}/releases/{want}/{d}")
        assert link.is_symlink and link.linked_to == f"{BASE}/shared/{d}", (
            f"{d}/ of release {want} is not the shared villager folder → villager data would be lost on upgrade: {_redeploy(intent)}")
    cfg = root.file(f"{BASE}/shared/desa/config/database.php")
    assert cfg.mode == 0o640 and cfg.user == "root" and cfg.group == "www-data", (
        f"desa/config/database.php is not root:www-data 0640 → {_redeploy(intent)}")
    assert not root.file(f"{BASE}/.state/switch.pid").exists, (
        f"a release switch was interrupted on {intent.server.hostname} → {_redeploy(intent)} (it resumes safely)")


def test_database_dump_hook(root, intent, app):
    _opensid(app)
    hook = root.file("/etc/desa/backup.d/10-app-db.sh")
    assert hook.exists and hook.mode == 0o750, f"the backup hook that dumps the app database is missing → {_redeploy(intent)}"


def test_database_user_least_privilege(root, intent, app):
    _opensid(app)
    grants = root.check_output("mariadb -NBe \"SHOW GRANTS FOR 'opensid'@'localhost'\"")
    assert "ON *.*" not in grants.replace("USAGE ON *.*", ""), (
        f"the app's database user has global privileges → {_redeploy(intent)} (it revokes them)")
    assert "GRANT OPTION" not in grants, f"the app's database user may grant privileges → {_redeploy(intent)}"


# --- opaque apps ------------------------------------------------------------------------------------

def test_opaque_service_port_health(root, intent, app, in_lab):
    _opaque(app)
    unit = app.service if "." in app.service else f"{app.service}.service"
    svc = root.service(unit)
    assert svc.is_running, f"{unit} is not running on {intent.server.hostname} → `systemctl start {unit}` (vendor app)"
    assert svc.is_enabled, f"{unit} does not start at boot → {_redeploy(intent)}"
    assert root.socket(f"tcp://127.0.0.1:{app.port}").is_listening or root.socket(f"tcp://0.0.0.0:{app.port}").is_listening, (
        f"nothing listens on port {app.port} ({unit}) → check the app's own configuration and logs (journalctl -u {unit})")
    res = root.run(f"curl -sS --max-time 10 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{app.port}{app.health_path}")
    assert res.stdout.strip().startswith(("2", "3")), (
        f"{unit} health {app.health_path} answers {res.stdout.strip() or res.stderr.strip()[:80]} → journalctl -u {unit}")
    if in_lab:
        desc = root.check_output(f"systemctl show -p Description --value {unit}")
        assert "LAB STAND-IN" in desc, f"{unit} in the lab is not the documented stand-in → {_redeploy(intent)} --lab"


def test_opaque_data_backup_hook(root, intent, app):
    _opaque(app)
    hook = root.file("/etc/desa/backup.d/10-app-data.sh")
    assert hook.exists and all(p in hook.content_string for p in app.data_paths), (
        f"the backup hook does not archive {', '.join(app.data_paths)} → {_redeploy(intent)}")
