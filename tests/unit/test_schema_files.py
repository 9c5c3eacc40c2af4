"""The JSON Schemas shipped beside the inventory (what editors load) match the models."""

from __future__ import annotations

import pytest

from desa import schema

from .conftest import PROJECT


@pytest.mark.parametrize("kind", ["site", "regency"])
def test_shipped_schema_is_current(kind: str):
    path = PROJECT / "inventory" / f"{kind}.schema.json"
    assert path.read_text(encoding="utf-8") == schema.text(kind), \
        f"{path.name} is stale → run `desa schema {kind} --out inventory/{kind}.schema.json`"


def test_site_schema_requires_only_what_no_default_supplies():
    site = schema.site_schema()
    assert site["required"] == ["kode", "slug", "name", "kecamatan", "slot"]
    assert site["additionalProperties"] is False
    assert "required" not in site["$defs"]["Router"]  # the password may come from the regency defaults
    regency = schema.regency_schema()
    assert "required" in regency["$defs"]["Person"]  # the regency's own staff stay strictly checked
    assert regency["properties"]["defaults"]["properties"]["devices"]["$ref"] == "#/$defs/SiteDefaultsDevices"
