"""The secrets store: inventory files hold references (`secret:NAME`), this module the values.

    resolve("secret:routers/admin") -> str
    wireguard_public_key("secret:hub/wireguard", declared) -> str
    mask(text) -> text with every value resolved so far replaced by ********
    store("secret:NAME", value)            # write (lab file, or re-encrypt the age store)
    names() -> list of stored names

Backend chosen by `$DESA_SECRETS`:
- `lab` (CI and the lab): a store generated on first use under `state/lab-secrets/` (or
  `$DESA_LAB_SECRETS`), one file per name, folders 0700 and files 0600, never in the repo. A name whose
  last part contains `wireguard` gets a WireGuard private key, one containing `ssh-key` an ed25519
  OpenSSH private key, any other name random URL-safe text.
- anything else (default `age`): the age-encrypted store `inventory/REGENCY/secrets.age` (a JSON object
  {name: value}) decrypted with the identity in `$DESA_AGE_IDENTITY` (a file) or
  `~/.config/desa/age.key`; it is encrypted to every public key in `inventory/REGENCY/recipients.txt`
  (one engineer or CI key per line, `#` comments). A name is looked up in every regency's store; a name
  stored with different values in two regencies is refused as ambiguous.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as _random
import threading
from pathlib import Path

from desa.errors import DesaError

REF_RE = re.compile(r"^secret:([a-z0-9][a-z0-9_./-]*)$")
MASK = "********"
_SEEN: set[str] = set()
_LOCK = threading.Lock()
_AGE_CACHE: dict[Path, tuple[float, dict[str, str]]] = {}


class SecretsError(DesaError):
    """A secret cannot be resolved or stored."""


# --- references and masking ---------------------------------------------------------------------

def name_of(ref: str) -> str:
    """`secret:routers/admin` → `routers/admin` (a bare name is accepted too)."""
    m = REF_RE.match(ref) or REF_RE.match("secret:" + ref)
    if not m or ".." in m.group(1).split("/") or m.group(1).startswith("/"):
        raise SecretsError(f"{ref!r} is not a secret reference → write it as secret:NAME "
                           "(lowercase letters, digits, _ . / -)")
    return m.group(1)


def _remember(value: str) -> str:
    if value:
        with _LOCK:
            _SEEN.add(value)
            if len(value) > 8 and value.strip() != value:
                _SEEN.add(value.strip())
    return value


def mask(text: str) -> str:
    """`text` with every secret value resolved in this process replaced by ********."""
    if not text:
        return text
    with _LOCK:
        values = sorted(_SEEN, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def backend() -> str:
    return "lab" if os.environ.get("DESA_SECRETS", "").strip().lower() == "lab" else "age"


def resolve(ref: str) -> str:
    """The value of a `secret:NAME` reference (remembered for `mask`)."""
    name = name_of(ref)
    value = _lab_get(name) if backend() == "lab" else _age_get(name)
    return _remember(value)


def store(ref: str, value: str, *, regency: str | None = None) -> None:
    """Store a value under `secret:NAME` (lab: a 0600 file; age: re-encrypt the regency's store)."""
    name = name_of(ref)
    if not value:
        raise SecretsError(f"empty value for {name} → give a non-empty value")
    _remember(value)
    if backend() == "lab":
        _write_private(_lab_dir() / name, value)
    else:
        _age_set(name, value, regency)


def names(regency: str | None = None) -> list[str]:
    """Names held by the store (never values)."""
    if backend() == "lab":
        root = _lab_dir()
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    out: set[str] = set()
    for reg, path in _age_files(regency):
        out.update(_age_read(path))
    return sorted(out)


# --- WireGuard -----------------------------------------------------------------------------------

def generate_wireguard_key() -> str:
    """A new WireGuard private key (base64 of a clamped X25519 scalar, as `wg genkey`)."""
    raw = bytearray(_random.token_bytes(32))
    raw[0] &= 248
    raw[31] = (raw[31] & 127) | 64
    return base64.b64encode(bytes(raw)).decode()


def public_from_private(private_b64: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    try:
        raw = base64.b64decode(private_b64.strip(), validate=True)
        key = X25519PrivateKey.from_private_bytes(raw)
    except Exception as e:  # noqa: BLE001 - any decoding error means the same to the user
        raise SecretsError("the stored value is not a WireGuard private key (32 bytes base64) → "
                           "store one made by `wg genkey`") from e
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(pub).decode()


def wireguard_public_key(private_ref: str, declared: str) -> str:
    """The public key that goes with the private key stored at `private_ref`.

    Lab: the public key of the lab's generated private key (the declared one is ignored).
    Otherwise: the declared public key, after checking it matches the stored private key."""
    actual = public_from_private(resolve(private_ref))
    if backend() == "lab":
        return actual
    if (declared or "").strip() != actual:
        raise SecretsError(f"the public key declared for {name_of(private_ref)} does not match its stored "
                           f"private key → set public_key to {actual} or store the right private key")
    return actual


# --- SSH keys (backups to the hub) ---------------------------------------------------------------

def generate_ssh_key() -> str:
    """A new ed25519 private key in OpenSSH format."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()


def ssh_public_key(private_ref: str, comment: str = "") -> str:
    """The OpenSSH public key line of the private key stored at `private_ref`."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_ssh_private_key(resolve(private_ref).encode(), password=None)
    except Exception as e:  # noqa: BLE001
        raise SecretsError(f"{name_of(private_ref)} is not an unencrypted OpenSSH private key → store one made by "
                           "`ssh-keygen -t ed25519 -N ''`") from e
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{pub} {comment}".strip()


# --- lab backend ---------------------------------------------------------------------------------

def _lab_dir() -> Path:
    env = os.environ.get("DESA_LAB_SECRETS")
    if env:
        return Path(env)
    from desa.inventory import PROJECT_ROOT

    return PROJECT_ROOT / "state" / "lab-secrets"


def _generate(name: str) -> str:
    if "wireguard" in name.rsplit("/", 1)[-1]:
        return generate_wireguard_key()
    if "ssh-key" in name.rsplit("/", 1)[-1]:
        return generate_ssh_key()
    return _random.token_urlsafe(24)


def _staged(path: Path, value: str) -> Path:
    """The value in a 0600 file beside `path` (folders of the lab store 0700), ready to move in place."""
    root = _lab_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return tmp


def _write_private(path: Path, value: str) -> None:
    """Replace the lab store's file at `path` atomically."""
    os.replace(_staged(path, value), path)


def _lab_get(name: str) -> str:
    path = _lab_dir() / name
    with _LOCK:
        if not path.exists():
            try:  # first writer wins: concurrent processes must agree on one value
                _write_exclusive(path, _generate(name))
            except FileExistsError:
                pass
    return path.read_text()


def _write_exclusive(path: Path, value: str) -> None:
    """Create the lab store's file at `path` unless another writer got there first."""
    tmp = _staged(path, value)
    try:
        os.link(tmp, path)  # atomic, fails when another process got there first
    finally:
        os.unlink(tmp)


# --- age backend ---------------------------------------------------------------------------------

def _inventory_root() -> Path:
    from desa.inventory import default_root

    return default_root()


def _age_files(regency: str | None = None) -> list[tuple[str, Path]]:
    root = _inventory_root()
    regs = [root / regency] if regency else sorted(p for p in root.iterdir() if (p / "regency.yaml").exists())
    return [(r.name, r / "secrets.age") for r in regs if (r / "secrets.age").exists()]


def identity_path() -> Path:
    env = os.environ.get("DESA_AGE_IDENTITY")
    return Path(env).expanduser() if env else Path.home() / ".config" / "desa" / "age.key"


def _identities():
    import pyrage

    path = identity_path()
    if not path.exists():
        raise SecretsError(f"no age identity at {path} → set $DESA_AGE_IDENTITY to your key file, or "
                           "use DESA_SECRETS=lab for the lab")
    ids = [pyrage.x25519.Identity.from_str(line.strip()) for line in path.read_text().splitlines()
           if line.strip().startswith("AGE-SECRET-KEY-")]
    if not ids:
        raise SecretsError(f"{path} holds no AGE-SECRET-KEY line → generate one with `age-keygen`")
    return ids


def _age_read(path: Path) -> dict[str, str]:
    import pyrage

    mtime = path.stat().st_mtime
    cached = _AGE_CACHE.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = json.loads(pyrage.decrypt(path.read_bytes(), _identities()))
    except pyrage.DecryptError as e:
        raise SecretsError(f"cannot decrypt {path} with {identity_path()} → ask a recipient to add your "
                           "public key (`desa secrets recipients --add`) and re-encrypt") from e
    if not isinstance(data, dict):
        raise SecretsError(f"{path} does not hold a JSON object → restore it from git")
    _AGE_CACHE[path] = (mtime, data)
    for v in data.values():
        _remember(str(v))
    return data


def _age_get(name: str) -> str:
    found: dict[str, str] = {}
    files = _age_files()
    for reg, path in files:
        data = _age_read(path)
        if name in data:
            found[reg] = str(data[name])
    if not found:
        where = ", ".join(str(p) for _, p in files) or f"no secrets.age under {_inventory_root()}"
        raise SecretsError(f"secret {name} is not stored ({where}) → `desa secrets set {name}`")
    if len(set(found.values())) > 1:
        raise SecretsError(f"secret {name} differs between regencies {sorted(found)} → give each its own name")
    return next(iter(found.values()))


def recipients_path(regency: str) -> Path:
    return _inventory_root() / regency / "recipients.txt"


def recipients(regency: str) -> list[str]:
    path = recipients_path(regency)
    if not path.exists():
        return []
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def _single_regency(regency: str | None) -> str:
    if regency:
        return regency
    root = _inventory_root()
    regs = sorted(p.name for p in root.iterdir() if (p / "regency.yaml").exists())
    if len(regs) != 1:
        raise SecretsError(f"several regencies ({', '.join(regs)}) → name one with --regency")
    return regs[0]


def _age_set(name: str, value: str, regency: str | None) -> None:
    import pyrage

    reg = _single_regency(regency)
    path = _inventory_root() / reg / "secrets.age"
    data = dict(_age_read(path)) if path.exists() else {}
    data[name] = value
    _age_write(reg, data)


def _age_write(regency: str, data: dict[str, str]) -> None:
    import pyrage

    keys = recipients(regency)
    if not keys:
        raise SecretsError(f"{recipients_path(regency)} lists no age public keys → "
                           "`desa secrets recipients --add age1…`")
    recips = [pyrage.x25519.Recipient.from_str(k) for k in keys]
    path = _inventory_root() / regency / "secrets.age"
    blob = pyrage.encrypt(json.dumps(data, sort_keys=True).encode(), recips)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    _AGE_CACHE.pop(path, None)


def reencrypt(regency: str) -> None:
    """Encrypt the regency's store again to its current recipients (after adding or removing one)."""
    path = _inventory_root() / regency / "secrets.age"
    _age_write(regency, dict(_age_read(path)) if path.exists() else {})
