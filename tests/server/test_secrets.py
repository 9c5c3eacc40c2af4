"""desa.secrets: lab store generated on first use (0600, stable), WireGuard keys, masking, age store."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys

import pyrage
import pytest

from desa import secrets


@pytest.fixture
def lab_store(tmp_path, monkeypatch):
    monkeypatch.setenv("DESA_SECRETS", "lab")
    monkeypatch.setenv("DESA_LAB_SECRETS", str(tmp_path / "lab-secrets"))
    return tmp_path / "lab-secrets"


@pytest.fixture
def age_store(tmp_path, monkeypatch):
    inv = tmp_path / "inventory"
    (inv / "bekasi").mkdir(parents=True)
    (inv / "bekasi" / "regency.yaml").write_text("name: x\n")
    ident = pyrage.x25519.Identity.generate()
    key = tmp_path / "age.key"
    key.write_text(f"# test\n{ident}\n")
    (inv / "bekasi" / "recipients.txt").write_text(f"{ident.to_public()}  # ci\n")
    monkeypatch.delenv("DESA_SECRETS", raising=False)
    monkeypatch.setenv("DESA_INVENTORY", str(inv))
    monkeypatch.setenv("DESA_AGE_IDENTITY", str(key))
    return inv, ident


def test_lab_values_generated_once_private_and_random(lab_store):
    a = secrets.resolve("secret:routers/admin")
    assert a == secrets.resolve("secret:routers/admin")
    assert len(a) >= 24
    path = lab_store / "routers" / "admin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab_store.stat().st_mode) == 0o700
    assert secrets.resolve("secret:routers/other") != a
    assert "routers/admin" in secrets.names()


def test_lab_wireguard_keys_and_public_key(lab_store):
    priv = secrets.resolve("secret:sites/x/server-wireguard")
    raw = base64.b64decode(priv)
    assert len(raw) == 32 and raw[0] & 7 == 0 and raw[31] & 0x80 == 0 and raw[31] & 0x40
    pub = secrets.wireguard_public_key("secret:sites/x/server-wireguard", "declared-ignored-in-lab")
    assert pub != priv and len(base64.b64decode(pub)) == 32
    assert pub == secrets.public_from_private(priv)


def test_public_key_matches_wg_pubkey(lab_store):
    wg = subprocess.run(["sh", "-c", "command -v wg"], capture_output=True, text=True).stdout.strip()
    if not wg:
        pytest.skip("wg (wireguard-tools) not installed here")
    priv = secrets.resolve("secret:hub/wireguard")
    out = subprocess.run([wg, "pubkey"], input=priv, capture_output=True, text=True, check=True).stdout.strip()
    assert secrets.public_from_private(priv) == out


def test_mask_replaces_resolved_values(lab_store):
    v = secrets.resolve("secret:sites/a/app-db")
    text = f"mysql -p{v} failed; again {v}"
    masked = secrets.mask(text)
    assert v not in masked and masked.count(secrets.MASK) == 2
    assert secrets.mask("nothing secret") == "nothing secret"


@pytest.mark.parametrize("bad", ["routers/admin/../../etc", "secret:/etc/passwd", "secret:Upper", "plain value"])
def test_bad_references_refused(lab_store, bad):
    with pytest.raises(secrets.SecretsError):
        secrets.resolve(bad)


def test_age_store_roundtrip_and_encrypted_at_rest(age_store):
    inv, ident = age_store
    secrets.store("secret:routers/admin", "s3cret-value-xyz")
    blob = (inv / "bekasi" / "secrets.age").read_bytes()
    assert b"s3cret-value-xyz" not in blob
    assert json.loads(pyrage.decrypt(blob, [ident])) == {"routers/admin": "s3cret-value-xyz"}
    assert secrets.resolve("secret:routers/admin") == "s3cret-value-xyz"
    assert secrets.names() == ["routers/admin"]
    with pytest.raises(secrets.SecretsError, match="not stored"):
        secrets.resolve("secret:routers/missing")


def test_age_wireguard_declared_key_checked(age_store):
    priv = secrets.generate_wireguard_key()
    secrets.store("secret:hub/wireguard", priv)
    pub = secrets.public_from_private(priv)
    assert secrets.wireguard_public_key("secret:hub/wireguard", pub) == pub
    with pytest.raises(secrets.SecretsError, match="does not match"):
        secrets.wireguard_public_key("secret:hub/wireguard", secrets.public_from_private(secrets.generate_wireguard_key()))


def test_age_wrong_identity_refused(age_store, tmp_path, monkeypatch):
    secrets.store("secret:a", "value-one")
    other = tmp_path / "other.key"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    monkeypatch.setenv("DESA_AGE_IDENTITY", str(other))
    secrets._AGE_CACHE.clear()
    with pytest.raises(secrets.SecretsError, match="cannot decrypt"):
        secrets.resolve("secret:a")
    monkeypatch.setenv("DESA_AGE_IDENTITY", str(tmp_path / "none.key"))
    with pytest.raises(secrets.SecretsError, match="no age identity"):
        secrets.resolve("secret:a")


def test_cli_set_reads_stdin_never_argv(lab_store):
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "desa.cli", "secrets", "set", "sites/a/x"], input="from-stdin-value\n",
                       capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0 and "No module named desa.cli.__main__" in r.stderr:
        pytest.skip("desa.cli is not runnable with -m")
    assert r.returncode == 0, r.stderr
    assert (lab_store / "sites" / "a" / "x").read_text() == "from-stdin-value"
    r = subprocess.run([sys.executable, "-m", "desa.cli", "secrets", "list"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert "sites/a/x" in r.stdout and "from-stdin-value" not in r.stdout
