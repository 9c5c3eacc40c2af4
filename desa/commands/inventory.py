"""`desa validate`, `desa show`, `desa new`, `desa schema`: the inventory as people see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from desa import inventory as inventory_mod
from desa.console import err, out
from desa.errors import InventoryError

InventoryOpt = Annotated[Optional[Path], typer.Option("--inventory", "-i", help="Inventory folder (default: $DESA_INVENTORY or ./inventory)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def load(root: Path | None, as_json: bool = False) -> inventory_mod.Inventory:
    """Load the inventory or exit 1 with every problem, naming file:line and field."""
    try:
        return inventory_mod.load(root)
    except InventoryError as e:
        if as_json:
            out.print_json(json.dumps({"ok": False, "problems": [p.as_dict() for p in e.problems]}))
        else:
            for p in e.problems:
                err.print(f"[red]✗[/red] {p}", markup=True, highlight=False)
            err.print(f"{len(e.problems)} problem(s); nothing will be deployed from this inventory")
        raise typer.Exit(1) from None


def validate(
    sites: Annotated[Optional[list[str]], typer.Argument(help="Site slugs or kodes")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site")] = False,
    root: InventoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate the inventory (the whole of it is always read: rules span sites)."""
    inv = load(root, as_json)
    picked = inv.select(sites or [], all_sites=all_sites or not sites)
    if as_json:
        out.print_json(json.dumps({"ok": True, "sites": [s.slug for s in picked]}))
    else:
        out.print(f"✓ {len(picked)} site(s) valid")


def show(
    site: Annotated[str, typer.Argument(help="Site slug or kode")],
    root: InventoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The resolved intent of a site: defaults applied, address plan allocated."""
    intent = load(root, as_json).site(site)
    data = intent.as_dict
    if as_json:
        out.print_json(json.dumps(data))
        return
    from rich.table import Table

    out.print(f"[bold]{data['name']}[/bold] ({data['kode']}), Kec. {data['kecamatan']}, {data['regency']['name']}")
    out.print(f"prefix {data['plan']['prefix']} (slot {data['slot']}), tunnel router {data['plan']['vpn_address']}, "
              f"server {data['plan']['server_vpn_address']} → hub {data['hub']['name']} {data['hub']['endpoint']}")
    table = Table("segment", "vlan", "network", "gateway", "dhcp", "routed")
    for name, seg in data["plan"]["segments"].items():
        table.add_row(name, str(seg["vlan"]), seg["network"], seg["gateway"],
                      "–".join(seg["dhcp"]) if seg["dhcp"] else "static", "yes" if seg["routed"] else "NAT only")
    out.print(table)
    out.print(f"router {data['router']['identity']} ({data['router']['model']}, RouterOS {data['router']['routeros']}) "
              f"at {data['router']['address']}:{data['router']['port']}")
    out.print(f"server {data['server']['hostname']} at {data['server']['address']} "
              f"(ssh {data['server']['ssh_user']}; people: {', '.join(p['name'] for p in data['server']['people'])})")
    if data["app"]:
        out.print(f"app {data['app']['kind']} at https://{data['app']['domain']}/")
