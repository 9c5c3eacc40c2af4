"""Load the inventory: YAML files → validated models → site intents.

Layout:  inventory/REGENCY/regency.yaml        the kabupaten, its pools, hub, staff, defaults
         inventory/REGENCY/sites/SLUG.yaml     one file per desa

Defaults flow regency → site: mappings merge key by key, a site's list or scalar replaces the
default. Every problem found, in any file, is collected and reported together, each naming
file:line and the field path; an inventory with problems yields no intents at all.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from desa import yamlfile
from desa.errors import InventoryError, Problem, UsageError
from desa.intent import SiteIntent, derive
from desa.models import Devices, Network, Regency, Server, Site, Uplink

_SECTION_MODELS = {"uplink": Uplink, "network": Network, "devices": Devices, "server": Server}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_root() -> Path:
    """`$DESA_INVENTORY`, else `inventory/` of the project."""
    env = os.environ.get("DESA_INVENTORY")
    return Path(env).resolve() if env else PROJECT_ROOT / "inventory"


def merge(defaults: Any, override: Any) -> Any:
    """Mappings merge recursively; anything else in the override replaces the default."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        out = dict(defaults)
        for key, value in override.items():
            out[key] = merge(defaults[key], value) if key in defaults else value
        return out
    return override


def _defines(data: Any, field_path: tuple) -> bool:
    """Does the raw site data itself define this field path (or a non-mapping prefix of it)?"""
    node = data
    for part in field_path:
        if isinstance(node, dict) and part in node:
            node = node[part]
            if not isinstance(node, dict):
                return True
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            return True
        else:
            return False
    return True


@dataclass
class Source:
    """A YAML file and, lazily, the line of each field in it."""

    path: Path
    data: Any
    _lines: dict | None = None

    def line(self, field_path: tuple) -> int | None:
        if self._lines is None:
            self._lines = yamlfile.positions(self.path)
        return yamlfile.line_of(self._lines, field_path)

    def problem(self, field_path: tuple, message: str) -> Problem:
        return Problem(self.path, self.line(field_path), yamlfile.dotted(field_path), message)


PLACEHOLDER = "TODO:"  # what `desa new` writes where only the engineer knows the value


def placeholders(data: Any, field: tuple = ()) -> list[tuple[tuple, str]]:
    """(field path, text) of every value still holding a `desa new` placeholder."""
    found: list[tuple[tuple, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            found.extend(placeholders(v, (*field, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found.extend(placeholders(v, (*field, i)))
    elif isinstance(data, str) and data.startswith(PLACEHOLDER):
        found.append((field, data))
    return found


def _is_secret_field(loc: tuple) -> bool:
    from desa.rules import SECRET_KEY_RE

    names = [p for p in loc if isinstance(p, str)]
    return bool(names) and bool(SECRET_KEY_RE.search(names[-1]))


def _validation_problems(err: ValidationError, locate, skip: frozenset = frozenset()) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if loc in skip:
            continue  # already reported as a placeholder to fill in
        msg = e["msg"]
        if loc and loc[-1] == "[key]":  # pydantic's marker for a mapping key it refused
            loc = loc[:-1]
            msg = f"{loc[-1]!r} is not an allowed key here: {msg}" if loc else msg
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling; `desa schema` lists every field)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "string_type" and _is_secret_field(loc):
            # Never echo what was written in a secret's place (a number, say): it may be the secret.
            msg = "plain-text secret: use a reference 'secret:NAME'"
        elif e["type"] == "string_type" and isinstance(e.get("input"), (int, float)) \
                and not isinstance(e.get("input"), bool):
            # `kode: 32.10` or `routeros: 7.20` is a number to YAML (and loses its trailing zero).
            msg = f"{msg}: YAML read a number ({e['input']!r}); put the value in quotes"
        problems.append(locate(loc, msg))
    return problems


@dataclass
class Inventory:
    root: Path
    regencies: dict[str, Regency] = field(default_factory=dict)
    sites: dict[str, SiteIntent] = field(default_factory=dict)  # by slug, sorted

    @property
    def project_root(self) -> Path:
        """Relative paths in the inventory (release archives, say) resolve against this."""
        return self.root.parent

    def site(self, ref: str) -> SiteIntent:
        """A site by slug (`lambangsari`) or kode (`32.16.06.2002`)."""
        if ref in self.sites:
            return self.sites[ref]
        for intent in self.sites.values():
            if intent.kode == ref:
                return intent
        known = ", ".join(self.sites) or "none"
        raise UsageError(f"no site {ref!r} in {self.root} (known: {known})")

    def select(self, refs: Iterable[str] = (), all_sites: bool = False) -> list[SiteIntent]:
        refs = list(refs)
        if all_sites and refs:
            raise UsageError("give site names or --all, not both")
        if all_sites:
            return list(self.sites.values())
        if not refs:
            raise UsageError("name at least one site (slug or kode), or --all")
        picked: dict[str, SiteIntent] = {}
        for ref in refs:
            intent = self.site(ref)
            picked[intent.slug] = intent
        return list(picked.values())


def _read_mapping(path: Path, what: str, problems: list[Problem]) -> Source | None:
    """The YAML file as a Source, or None (with the problem recorded) if it is not a mapping."""
    try:
        data = yamlfile.load(path)
    except yamlfile.YamlSyntaxError as err:
        problems.append(err.problem)
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "", f"must be a mapping of {what} fields"))
        return None
    return Source(path, data)


def _load_regency(directory: Path, problems: list[Problem]) -> tuple[Regency | None, Source | None]:
    path = directory / "regency.yaml"
    src = _read_mapping(path, "regency", problems)
    if src is None:
        return None, None
    data = src.data
    try:
        regency = Regency.model_validate(data)
    except ValidationError as err:
        problems.extend(_validation_problems(err, src.problem))
        return None, src
    if regency.slug != directory.name:
        problems.append(src.problem(("slug",), f"must match the folder name {directory.name!r}"))
    return regency, src


SHARED_SECTIONS = ("uplink", "network", "devices", "server")


def _shared_defaults(regency: Regency) -> dict[str, Any]:
    """Each top-level section of the regency's defaults, validated once: a site that does not
    override a section gets this same (frozen) model instead of a copy of its own. At national scale
    that is most of the memory and a third of the time. A section that is invalid on its own is left
    out, so the site's validation reports it exactly as before (located in regency.yaml)."""
    shared: dict[str, Any] = {}
    defaults = regency.defaults if isinstance(regency.defaults, dict) else {}
    for name in SHARED_SECTIONS:
        if name in defaults:
            try:
                shared[name] = _SECTION_MODELS[name].model_validate(defaults[name])
            except (ValidationError, TypeError, ValueError, RecursionError):
                continue
    return shared


def _load_site(path: Path, regency: Regency, regency_src: Source,
               problems: list[Problem], shared: dict[str, Any] | None = None) -> tuple[Site | None, Source | None]:
    src = _read_mapping(path, "site", problems)
    if src is None:
        return None, None
    data = src.data

    def locate(loc: tuple, msg: str) -> Problem:
        if loc and not _defines(data, loc) and isinstance(regency.defaults, dict) \
                and _defines(regency.defaults, loc):
            # The value came from the regency's defaults.
            return regency_src.problem(("defaults", *loc), f"{msg} (inherited by {path.name})")
        return src.problem(loc, msg)

    todo = placeholders(data)
    for loc, text in todo:
        problems.append(src.problem(loc, f"placeholder left by `desa new` → {text[len(PLACEHOLDER):].strip()}"))
    merged = merge(regency.defaults, data)
    for name, model in (shared or {}).items():
        if name not in data:
            merged[name] = model
    try:
        site = Site.model_validate(merged)
    except ValidationError as err:
        problems.extend(_validation_problems(err, locate, frozenset(loc for loc, _ in todo)))
        return None, src
    except (TypeError, ValueError, RecursionError) as err:  # values pydantic cannot even read
        problems.append(Problem(path, None, "", f"unreadable value: {err}"))
        return None, src
    if todo:
        return None, src
    if site.slug != path.stem:
        problems.append(src.problem(("slug",), f"must match the file name {path.stem!r}"))
    src.locate = locate  # type: ignore[attr-defined]
    return site, src


def load(root: Path | None = None) -> Inventory:
    """Load and validate the whole inventory under root; raise InventoryError listing every problem."""
    # Loading allocates millions of small objects and frees almost none: the cyclic collector would
    # rescan them again and again (half the CPU time of a national inventory) for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(root)
    finally:
        if enabled:
            gc.enable()


def _load(root: Path | None) -> Inventory:
    from desa import rules  # rules need the loaded models; imported here to keep the flow one-way

    root = (root or default_root()).resolve()
    if not root.is_dir():
        raise UsageError(f"inventory folder {root} does not exist")
    problems: list[Problem] = []
    inventory = Inventory(root)
    loaded: list[tuple[Site, Source, Regency]] = []
    hubs_seen: dict[tuple[str, str], str] = {}
    pools: list[tuple[Regency, Source]] = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (directory / "regency.yaml").exists():
            continue
        regency, regency_src = _load_regency(directory, problems)
        if regency is None:
            continue
        inventory.regencies[regency.slug] = regency
        pools.append((regency, regency_src))
        shared = _shared_defaults(regency)
        for field_name, value in (("kode", regency.kode), ("public_key", regency.hub.public_key),
                                  ("name", regency.hub.name)):
            key = (field_name, value)  # one regency per kode; one hub key and hub name per regency
            if key in hubs_seen:
                where = ("kode",) if field_name == "kode" else ("hub", field_name)
                problems.append(regency_src.problem(where, f"already used by {hubs_seen[key]}"))
            hubs_seen.setdefault(key, f"{directory.name}/regency.yaml")
        for path in sorted((directory / "sites").glob("*.yaml")):
            site, src = _load_site(path, regency, regency_src, problems, shared)
            if site is not None:
                loaded.append((site, src, regency))
    if not inventory.regencies and not problems:
        raise UsageError(f"no regency found under {root} (expected REGENCY/regency.yaml)")
    problems.extend(rules.regency_pools_disjoint(pools))
    plans: dict = {}
    problems.extend(rules.check(loaded, plans))
    if problems:
        raise InventoryError(problems)
    for site, src, regency in sorted(loaded, key=lambda x: x[0].slug):
        inventory.sites[site.slug] = derive(site, regency, source=str(src.path), plan=plans.get(id(site)))
    return inventory
