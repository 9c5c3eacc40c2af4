"""`desa render SITE|--all [--out DIR]`: write each router's RouterOS configuration (`.rsc`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from desa.commands.inventory import InventoryOpt, load
from desa.console import out


def render(
    sites: Annotated[Optional[list[str]], typer.Argument(help="Site slugs or kodes")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site of the inventory")] = False,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the rendered configs")] = Path("state/render"),
    root: InventoryOpt = None,
) -> None:
    """Render each site's router configuration (RouterOS 7 script). Secrets appear as <secret:REF>."""
    from desa.network.render import write_site

    for intent in load(root).select(sites or [], all_sites=all_sites):
        path = write_site(intent, out_dir / intent.slug)
        out.print(f"{intent.slug}: {path}")
