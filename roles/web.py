"""nginx in front of the village app: TLS, OpenSID's .htaccess protections, logrotate.

    web.install()                          nginx, the protections snippet, logrotate for /var/log/desa
    web.certificate(intent)                regency CA certificate from the inventory, else self-signed
    web.site(intent, template, **vars)     the app's server block; nginx reloaded only on change

TLS: when `inventory/REGENCY/tls/DOMAIN.crt` exists (a certificate signed by the regency CA, public),
it is installed with its key from the secrets store (`secret:sites/SLUG/tls-key`); otherwise a
self-signed certificate is made on the server (the lab, or before the regency has issued one).
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd

from desa.app import tls
from desa.inventory import PROJECT_ROOT
from desa.intent import SiteIntent
from roles import apt_lists

TEMPLATES = PROJECT_ROOT / "templates" / "nginx"
TLS_DIR = "/etc/desa/tls"
SITE = "desa-app"
BODY_LIMIT = "25m"  # php.ini post_max_size
LOG_WEEKS = 12
APT_CACHE = 24 * 3600  # apt lists younger than this are not refreshed (a re-deploy changes nothing)


def cert_paths(intent: SiteIntent) -> tuple[str, str]:
    return f"{TLS_DIR}/{intent.app.domain}.crt", f"{TLS_DIR}/{intent.app.domain}.key"


def regency_certificate(intent: SiteIntent, inventory_root: Path) -> Path | None:
    path = inventory_root / intent.regency.slug / "tls" / f"{intent.app.domain}.crt"
    return path if path.is_file() else None


@deploy("nginx")
def install():
    apt_lists(name="apt lists", cache_time=APT_CACHE)
    apt.packages(name="nginx (and curl: release downloads, health checks)", packages=["nginx", "ssl-cert", "curl"],
                 no_recommends=True)
    snippet = files.put(name="OpenSID's .htaccess protections for nginx", src=str(TEMPLATES / "desa-deny.conf"),
                        dest="/etc/nginx/snippets/desa-deny.conf", mode="0644")
    files.link(name="nginx's default site disabled", path="/etc/nginx/sites-enabled/default", present=False)
    files.directory(name="log folder of the app", path="/var/log/desa", user="root", group="adm", mode="0750")
    files.template(name="logrotate for the app's logs", src=str(TEMPLATES / "logrotate.j2"),
                   dest="/etc/logrotate.d/desa-app", mode="0644", weeks=LOG_WEEKS)
    systemd.service(name="nginx running", service="nginx", running=True, enabled=True)
    return [snippet]


@deploy("TLS certificate of the app")
def certificate(intent: SiteIntent, inventory_root: Path):
    cert, key = cert_paths(intent)
    files.directory(name="TLS folder", path=TLS_DIR, user="root", group="root", mode="0700")
    issued = regency_certificate(intent, inventory_root)
    if issued is not None:
        from desa.secrets import resolve

        return [files.put(name=f"certificate of {intent.app.domain} (regency CA)", src=str(issued), dest=cert,
                          user="root", group="root", mode="0600"),
                files.put(name=f"key of {intent.app.domain}",
                          src=StringIO(resolve(f"secret:sites/{intent.slug}/tls-key")),
                          dest=key, user="root", group="root", mode="0600")]
    return [tls.self_signed(name=f"self-signed certificate of {intent.app.domain}", cert=cert, key=key,
                            domain=intent.app.domain, addresses=[str(intent.server.address)])]


def context(intent: SiteIntent, **extra) -> dict:
    cert, key = cert_paths(intent)
    return {"domain": intent.app.domain, "village": intent.name, "slug": intent.slug,
            "address": str(intent.server.address), "site_file": Path(intent.source).name or intent.slug,
            "tls_cert": cert, "tls_key": key, "body_limit": BODY_LIMIT, **extra}


@deploy("nginx site of the app")
def site(intent: SiteIntent, template: str, changed_before: list | None = None, **variables):
    """Render `templates/nginx/TEMPLATE` for the site; test and reload nginx when it (or a certificate
    or snippet passed in `changed_before`) changed."""
    conf = files.template(name=f"nginx site {intent.app.domain}", src=str(TEMPLATES / template),
                          dest=f"/etc/nginx/sites-available/{SITE}.conf", mode="0644",
                          **context(intent, **variables))
    link = files.link(name="nginx site enabled", path=f"/etc/nginx/sites-enabled/{SITE}.conf",
                      target=f"/etc/nginx/sites-available/{SITE}.conf")
    metas = [conf, link, *(changed_before or [])]
    server.shell(name="nginx configuration test", commands=["nginx -t -q"],
                 _if=lambda: any(m.did_change() for m in metas))
    systemd.service(name="nginx reloaded (configuration changed)", service="nginx", reloaded=True,
                    _if=lambda: any(m.did_change() for m in metas))
