"""Helpers for tests that need a lab of their own.

`private_inventory` writes a copy of the Bekasi inventory with its own address pools, so several
labs (each test module, each engineer) run side by side without address clashes. Pair it with a
`Lab(state_dir)` of its own: each lab derives its own link names from its state dir.

    root = private_inventory(tmp_path, sites=["lambangsari", "sumberjaya"],
                             routed="10.220.0.0/16", hub_endpoint="10.98.20.2")
    intents = desa.inventory.load(root).select(all_sites=True)
    lab = Lab(tmp_path / "lab")
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from desa.inventory import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "inventory"


def private_inventory(tmp_path: Path, sites: list[str] | None = None, *, routed: str = "10.220.0.0/16",
                      hub_endpoint: str = "10.98.20.2", hub_network: str | None = None,
                      regency: str = "bekasi", uplinks: dict[str, dict] | None = None,
                      source: Path = SOURCE) -> Path:
    """Copy `source`'s regency with only `sites` (all when None), pools moved to `routed` and the
    hub to `hub_endpoint` (its data-centre network `hub_network`, default the endpoint's /24).
    `uplinks` overrides a site's uplink ({"lambangsari": {"kind": "satellite", "latency_ms": 600,…}}).
    Returns the new inventory root (its project root, for relative release paths, is `tmp_path`)."""
    root = Path(tmp_path) / "inventory"
    src = source / regency
    dst = root / regency
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    if sites is not None:
        unknown = set(sites) - {p.stem for p in (src / "sites").glob("*.yaml")}
        if unknown:
            raise ValueError(f"no such sites in {src}: {sorted(unknown)}")
        for p in (dst / "sites").glob("*.yaml"):
            if p.stem not in sites:
                p.unlink()
    yaml = YAML()
    yaml.preserve_quotes = True
    reg_file = dst / "regency.yaml"
    data = yaml.load(reg_file.read_text())
    data["pools"]["routed"] = str(ipaddress.IPv4Network(routed))
    ep = ipaddress.IPv4Address(hub_endpoint)
    dc = ipaddress.IPv4Network(hub_network) if hub_network else ipaddress.IPv4Network(f"{ep}/24", strict=False)
    data["hub"]["endpoint"] = str(ep)
    data["hub"]["networks"] = [str(dc)]
    with reg_file.open("w") as f:
        yaml.dump(data, f)
    for slug, uplink in (uplinks or {}).items():
        site_file = dst / "sites" / f"{slug}.yaml"
        site = yaml.load(site_file.read_text())
        merged = dict(site.get("uplink") or {})
        merged.update(uplink)
        site["uplink"] = merged
        with site_file.open("w") as f:
            yaml.dump(site, f)
    # Release archives are relative to the project root: point the copy's at the real ones.
    state = Path(tmp_path) / "state"
    state.mkdir(exist_ok=True)
    link = state / "app-fixture"
    if not link.exists() and not link.is_symlink():
        os.symlink(PROJECT_ROOT / "state" / "app-fixture", link)
    return root
