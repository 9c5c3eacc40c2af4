"""`desa new KODE`: scaffold a village's site file from its kode wilayah, with an allocated plan.

What the tool knows is written for the engineer: names and kecamatan from the kode wilayah list, the
lowest free slot of the regency (hence the whole address plan), the secret references. What only the
engineer knows — the operator contact, the WireGuard public keys — is left as a `TODO:` placeholder
that the loader refuses (naming file:line and field) until it is filled in, so nothing deploys from
a half-written site.

Slot 0 is never handed out automatically: its prefix is the routed pool's own network address
(10.216.0.0/24 of 10.216.0.0/16), which reads like the pool in tables and routes. `--slot 0` works.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from desa import inventory as inventory_mod
from desa import wilayah, yamlfile
from desa.errors import DesaError, InventoryError, Problem, UsageError
from desa.intent import SiteIntent, derive, site_prefix, vpn_addresses
from desa.models import KODE_DESA_RE, SLUG_RE, Regency, Site

FIRST_AUTO_SLOT = 1


@dataclass
class Scaffold:
    path: Path
    slug: str
    slot: int
    intent: SiteIntent  # the plan as it will be once the placeholders are filled in
    todo: list[Problem] = field(default_factory=list)  # placeholders left, by file:line and field
    keys_generated: bool = False
    keys_note: str = ""


def slugify(name: str) -> str:
    """'Tridaya Sakti' → 'tridaya-sakti'; accents dropped, anything else becomes a dash."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if not text or not text[0].isalpha():
        text = f"desa-{text}".rstrip("-")
    return text[:41].rstrip("-")


def _raw_sites(directory: Path) -> dict[Path, dict]:
    """The regency's site files as plain data, read tolerantly (a broken file must not hide its slot)."""
    sites = {}
    for path in sorted((directory / "sites").glob("*.yaml")):
        try:
            data = yamlfile.load(path)
        except yamlfile.YamlSyntaxError as err:
            raise InventoryError([err.problem]) from None
        sites[path] = data if isinstance(data, dict) else {}
    return sites


def _find_regency(root: Path, kode: str) -> tuple[Path, Regency]:
    regency_kode = wilayah.regency_of(kode)
    for directory in sorted(p for p in root.iterdir() if (p / "regency.yaml").is_file()):
        try:
            data = yamlfile.load(directory / "regency.yaml")
        except yamlfile.YamlSyntaxError as err:
            raise InventoryError([err.problem]) from None
        if not isinstance(data, dict) or str(data.get("kode")) != regency_kode:
            continue
        problems: list[Problem] = []
        regency, _src = inventory_mod._load_regency(directory, problems)
        if regency is None or problems:
            raise InventoryError(problems)
        return directory, regency
    regency_name = wilayah.name(regency_kode) or regency_kode
    raise UsageError(f"{kode} is in {regency_name} ({regency_kode}), which has no regency.yaml under {root}: "
                     f"add inventory/SLUG/regency.yaml for it first")


def _slot_fits(regency: Regency, slot: int) -> bool:
    try:
        site_prefix(regency, slot)
        vpn_addresses(regency, slot)
    except ValueError:
        return False
    return True


def allocate_slot(regency: Regency, used: set[int], wanted: int | None = None) -> int:
    if wanted is not None:
        if wanted < 0 or not _slot_fits(regency, wanted):
            raise UsageError(f"slot {wanted} does not fit the pools of {regency.name} "
                             f"(routed {regency.pools.routed} /{regency.pools.site_prefix}, vpn {regency.pools.vpn})")
        if wanted in used:
            raise UsageError(f"slot {wanted} is already used in {regency.name}")
        return wanted
    slot = FIRST_AUTO_SLOT
    while slot in used:
        slot += 1
    if not _slot_fits(regency, slot):
        raise UsageError(f"the pools of {regency.name} are full (routed {regency.pools.routed} "
                         f"/{regency.pools.site_prefix}, vpn {regency.pools.vpn}): widen them in regency.yaml")
    return slot


def _generate_keys(slug: str, regency: str, root: Path) -> tuple[tuple[str, str] | None, str]:
    """(router, server) WireGuard public keys, their private keys in the secrets store — or None and why.

    A private key already stored under the site's name is kept (its site file may have been lost while
    the router still holds it); otherwise a new pair is generated and only the private key stored."""
    try:
        from desa import secrets
    except ImportError:  # pragma: no cover - the module ships with the tool
        return None, "no secrets store in this installation"
    saved = os.environ.get("DESA_INVENTORY")
    os.environ["DESA_INVENTORY"] = str(root)  # the store of *this* inventory (age: REGENCY/secrets.age)
    try:
        publics = []
        for name in ("wireguard", "server-wireguard"):
            ref = f"secret:sites/{slug}/{name}"
            if secrets.backend() != "lab" and secrets.name_of(ref) in secrets.names(regency):
                publics.append(secrets.public_from_private(secrets.resolve(ref)))
                continue
            private = secrets.generate_wireguard_key()
            secrets.store(ref, private, regency=regency)
            publics.append(secrets.public_from_private(private))
        return (publics[0], publics[1]), f"generated; private keys stored as sites/{slug}/wireguard and " \
                                         f"sites/{slug}/server-wireguard ({secrets.backend()} store)"
    except DesaError as e:
        return None, f"not generated ({e.message.splitlines()[0]})"
    finally:
        if saved is None:
            os.environ.pop("DESA_INVENTORY", None)
        else:
            os.environ["DESA_INVENTORY"] = saved


def render(kode: str, slug: str, name: str, kecamatan: str, slot: int, regency: Regency,
           keys: tuple[str, str] | None) -> str:
    q = json.dumps  # a JSON string is a valid double-quoted YAML scalar, whatever the name holds
    prefix = site_prefix(regency, slot)
    if keys:
        router_key, server_key = q(keys[0]), q(keys[1])
        key_note = "# Keys generated by `desa new`; the private keys are in the secrets store."
    else:
        router_key = q("TODO: the router's WireGuard public key (its private key goes to "
                       f"`desa secrets set sites/{slug}/wireguard`)")
        server_key = q("TODO: the server's WireGuard public key (its private key goes to "
                       f"`desa secrets set sites/{slug}/server-wireguard`)")
        key_note = "# Generate each pair with `wg genkey | tee private | wg pubkey`; store the private key, never here."
    return f"""\
# yaml-language-server: $schema=../../site.schema.json
# Desa {name}, Kec. {kecamatan} — scaffolded by `desa new {kode}`.
# Every `TODO:` must be replaced before `desa validate` passes. Keys not written here come from
# ../regency.yaml `defaults` (uplink, VLANs, hotspot, firewall, router model); override any of them here.
kode: {q(kode)}
slug: {slug}
name: {q(name)}
kecamatan: {q(kecamatan)}
slot: {slot}                      # routed prefix {prefix} (allocated; never reuse a slot)
# coordinates: {{lat: -6.25, lon: 107.06}}

operator:
  name: {q("TODO: the village operator's name")}
  role: {q("TODO: their role in the village, e.g. Kaur Perencanaan (operator Desa Digital)")}
  # phone: "+62 812 …"

vpn:
  {key_note}
  public_key: {router_key}
  private_key: secret:sites/{slug}/wireguard
  server_public_key: {server_key}
  server_private_key: secret:sites/{slug}/server-wireguard

devices:
  router:
    # Store it first: `desa secrets set routers/{slug}/admin` (value on stdin).
    password: secret:routers/{slug}/admin

# uplink:                         # if it differs from the regency default
#   kind: lte                     # fibre | lte | satellite
#   bandwidth: {{down_mbps: 20, up_mbps: 5}}
# app:
#   kind: opensid
#   domain: {slug}.desa.id
#   admin: {{name: …, role: Operator SID, email: admin@{slug}.desa.id}}
#   release: {{version: "…", source: …, sha256: …}}
"""


def _stand_in(data: dict) -> dict:
    """The scaffold's data with each placeholder replaced by a valid value, to validate and plan with."""
    stand_in = json.loads(json.dumps(data))
    stand_in["operator"] = {"name": "placeholder", "role": "placeholder"}
    vpn = stand_in.setdefault("vpn", {})
    for key in ("public_key", "server_public_key"):
        if str(vpn.get(key, "")).startswith(inventory_mod.PLACEHOLDER):
            vpn[key] = base64.b64encode(os.urandom(32)).decode()
    return stand_in


def _relocate(problems: list[Problem], tmp: Path, root: Path) -> list[Problem]:
    out = []
    for p in problems:
        f = Path(p.file)
        f = root / f.relative_to(tmp) if f.is_relative_to(tmp) else f
        out.append(Problem(f, p.line, p.field, p.message))
    return out


def _is_placeholder(problem: Problem) -> bool:
    return "placeholder left by `desa new`" in problem.message


def new_site(kode: str, root: Path | None = None, slot: int | None = None,
             generate_keys: bool = True) -> Scaffold:
    """Write inventory/REGENCY/sites/SLUG.yaml for this desa; raise UsageError/InventoryError when refused.

    The site is validated with the whole inventory (every rule, stand-ins in place of its placeholders)
    before the file is written; other scaffolds' placeholders do not stop it, any other problem does.
    """
    root = (root or inventory_mod.default_root()).resolve()
    if not root.is_dir():
        raise UsageError(f"inventory folder {root} does not exist")
    kode = kode.strip()
    if not re.match(KODE_DESA_RE, kode):
        raise UsageError(f"{kode!r} is not a village kode wilayah (PP.KK.CC.DDDD, e.g. 32.16.06.2005)")
    name = wilayah.name(kode)
    if name is None:
        raise UsageError(f"{kode} is not in the kode wilayah list (desa/data/wilayah.csv)")
    if not wilayah.is_desa(kode):
        raise UsageError(f"{kode} ({name}) is a kelurahan, an urban ward run by the city, not a desa: "
                         f"Desa Digital sites are desa (codes PP.KK.CC.2xxx)")
    kecamatan = wilayah.name(wilayah.kecamatan_of(kode)) or ""
    directory, regency = _find_regency(root, kode)

    raw = _raw_sites(directory)
    for path, data in raw.items():
        if str(data.get("kode")) == kode:
            raise UsageError(f"{kode} ({name}) already has a site file: {path}")
    used_slugs = {str(d.get("slug", p.stem)) for p, d in raw.items()} | {p.stem for p in raw}
    slug = slugify(name)
    if slug in used_slugs:  # another desa of the same name in this regency: add its kecamatan
        slug = f"{slug}-{slugify(kecamatan)}"[:41].rstrip("-")
    if slug in used_slugs or not re.match(SLUG_RE, slug):
        raise UsageError(f"cannot make a free slug for {name!r} (tried {slug!r})")
    used_slots = {d["slot"] for d in raw.values() if isinstance(d.get("slot"), int)}
    chosen = allocate_slot(regency, used_slots, slot)
    path = directory / "sites" / f"{slug}.yaml"

    text = render(kode, slug, name, kecamatan, chosen, regency, None)

    # Validate on a copy of the inventory, the placeholders replaced by stand-ins.
    with tempfile.TemporaryDirectory(prefix="desa-new-") as tmpdir:
        tmp = Path(tmpdir) / "inventory"
        shutil.copytree(root, tmp, ignore=shutil.ignore_patterns(".*", "*.age"))
        tmp_path = tmp / path.relative_to(root)
        tmp_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path.write_text(text, encoding="utf-8")
        yamlfile.dump(_stand_in(yamlfile.load(tmp_path)), tmp_path)
        try:
            intent = inventory_mod.load(tmp).sites[slug]
        except InventoryError as err:
            blocking = [p for p in err.problems if not _is_placeholder(p) or Path(p.file) == tmp_path]
            if blocking:
                raise InventoryError(_relocate(blocking, tmp, root)) from None
            intent = _load_one(tmp, tmp_path, regency)

    keys, keys_note = _generate_keys(slug, directory.name, root) if generate_keys else (None, "not asked for")
    text = render(kode, slug, name, kecamatan, chosen, regency, keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    todo: list[Problem] = []
    try:
        inventory_mod.load(root)
    except InventoryError as err:
        todo = [p for p in err.problems if Path(p.file) == path]
    return Scaffold(path=path, slug=slug, slot=chosen, intent=derive(intent.site, regency, source=str(path)),
                    todo=todo, keys_generated=keys is not None, keys_note=keys_note)


def _load_one(tmp: Path, tmp_path: Path, regency: Regency) -> SiteIntent:
    """The new site alone, when other scaffolds' placeholders keep the whole inventory from loading."""
    site = Site.model_validate(inventory_mod.merge(regency.defaults, yamlfile.load(tmp_path)))
    return derive(site, regency, source=str(tmp_path))
