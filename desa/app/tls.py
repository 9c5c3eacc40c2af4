"""The site's TLS certificate: a regency CA certificate when the inventory has one, else self-signed.

Self-signed certificates are made on the server (the key never leaves it), valid for the app's domain
and the server's address, renewed when less than 30 days remain or when the names changed. Files are
root-owned, mode 0600 (nginx's master process reads them as root).
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

RENEW_BEFORE = 30 * 86400
DAYS = 825


class Certificate(FactBase):
    """{"exists", "fresh", "matches", "names"} of a certificate and its key."""

    @staticmethod
    def default() -> dict:
        return parse_certificate([])

    def command(self, cert: str, key: str) -> str:
        c, k = shlex.quote(cert), shlex.quote(key)
        return (f"if [ -r {c} ] && [ -r {k} ]; then echo exists=1; "
                f"openssl x509 -in {c} -noout -checkend {RENEW_BEFORE} >/dev/null 2>&1 && echo fresh=1; "
                f"[ \"$(openssl x509 -in {c} -noout -pubkey 2>/dev/null | sha256sum)\" = "
                f"\"$(openssl pkey -in {k} -pubout 2>/dev/null | sha256sum)\" ] && echo matches=1; "
                f"openssl x509 -in {c} -noout -ext subjectAltName 2>/dev/null | tail -n +2; fi; true")

    def process(self, output: list[str]) -> dict:
        return parse_certificate(output)


def parse_certificate(lines: list[str]) -> dict:
    info = {"exists": False, "fresh": False, "matches": False, "names": set()}
    for line in lines:
        line = line.strip()
        if line in ("exists=1", "fresh=1", "matches=1"):
            info[line.split("=")[0]] = True
        elif line:
            for part in line.split(","):
                kind, _, value = part.strip().partition(":")
                if kind == "DNS":
                    info["names"].add(value)
                elif kind == "IP Address":
                    info["names"].add(value)
    return info


def wanted_names(domain: str, addresses: list[str]) -> set[str]:
    return {domain, *addresses}


def self_signed_command(cert: str, key: str, domain: str, addresses: list[str]) -> str:
    san = ",".join([f"DNS:{domain}", *[f"IP:{a}" for a in addresses]])
    return (f"umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            f"-keyout {shlex.quote(key)}.new -out {shlex.quote(cert)}.new -days {DAYS} "
            f"-subj {shlex.quote('/O=Desa Digital/CN=' + domain)} -addext {shlex.quote('subjectAltName=' + san)} "
            f"2>/dev/null && chmod 0600 {shlex.quote(key)}.new {shlex.quote(cert)}.new "
            f"&& mv {shlex.quote(key)}.new {shlex.quote(key)} && mv {shlex.quote(cert)}.new {shlex.quote(cert)}")


@operation()
def self_signed(cert: str, key: str, domain: str, addresses: list[str]):
    """A self-signed certificate for `domain` and `addresses` (made when missing, stale or renamed)."""
    info = host.get_fact(Certificate, cert=cert, key=key)
    if info["exists"] and info["fresh"] and info["matches"] and info["names"] == wanted_names(domain, addresses):
        host.noop(f"certificate {cert} is valid for {domain}")
        return
    yield self_signed_command(cert, key, domain, addresses)
