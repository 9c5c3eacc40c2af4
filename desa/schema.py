"""`desa schema`: JSON Schema of the inventory files, for editors (yaml-language-server) and CI.

A site file is checked after the regency's `defaults` are merged into it, so its schema requires
only what no default can supply (kode, slug, name, kecamatan, slot); every other field keeps its
type, pattern, bounds and description, and unknown keys stay errors. The regency schema describes
`defaults` with that same partial site schema, so editors complete the defaults too.

Use: `desa schema site --out inventory/site.schema.json`, then put
`# yaml-language-server: $schema=../../site.schema.json` at the top of a site file (`desa new` does).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from desa.models import Regency, Site

SITE_REQUIRED = ["kode", "slug", "name", "kecamatan", "slot"]
DIALECT = "https://json-schema.org/draft/2020-12/schema"

Kind = Literal["site", "regency", "all"]


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


def _partial_site() -> dict:
    schema = _without_required(Site.model_json_schema())
    schema["required"] = list(SITE_REQUIRED)
    return schema


def site_schema() -> dict:
    schema = _partial_site()
    return {"$schema": DIALECT, "$id": "desa-digital/site.schema.json",
            "title": "desa-digital site (desa)", **{k: v for k, v in schema.items() if k != "title"}}


def _prefixed(node: Any, prefix: str) -> Any:
    return json.loads(json.dumps(node).replace('"#/$defs/', f'"#/$defs/{prefix}'))


def regency_schema() -> dict:
    schema = Regency.model_json_schema()
    defs = schema.setdefault("$defs", {})
    site = _without_required(Site.model_json_schema())
    # Regency and Site share models (Person): the site's copies without `required` are kept apart
    # so that the regency's own staff list stays strictly checked.
    for name, definition in site.pop("$defs", {}).items():
        defs[f"SiteDefaults{name}"] = _prefixed(definition, "SiteDefaults")
    site = _prefixed(site, "SiteDefaults")
    site.pop("title", None)
    site["description"] = "Site keys every site of the regency inherits (a site may override any of them)"
    schema["properties"]["defaults"] = site
    return {"$schema": DIALECT, "$id": "desa-digital/regency.schema.json",
            "title": "desa-digital regency (kabupaten)", **{k: v for k, v in schema.items() if k != "title"}}


def schema(kind: Kind = "all") -> dict:
    if kind == "site":
        return site_schema()
    if kind == "regency":
        return regency_schema()
    site, regency = site_schema(), regency_schema()
    defs: dict = {}
    for prefix, sub in (("Site", site), ("Regency", regency)):
        body = {k: v for k, v in sub.items() if k not in ("$schema", "$id", "$defs")}
        sub_defs = sub.get("$defs", {})
        moved = _prefixed({"body": body, "defs": sub_defs}, f"{prefix}.")
        defs[prefix] = moved["body"]
        defs.update({f"{prefix}.{k}": v for k, v in moved["defs"].items()})
    return {
        "$schema": DIALECT,
        "$id": "desa-digital/inventory.schema.json",
        "title": "desa-digital inventory file (site or regency)",
        "anyOf": [{"$ref": "#/$defs/Site"}, {"$ref": "#/$defs/Regency"}],
        "$defs": defs,
    }


def text(kind: Kind = "all") -> str:
    return json.dumps(schema(kind), indent=2, ensure_ascii=False) + "\n"


