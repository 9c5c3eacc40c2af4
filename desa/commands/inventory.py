"""`desa validate`, `desa show`, `desa new`, `desa schema`: the inventory as people see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.markup import escape

from desa import inventory as inventory_mod
from desa.console import err, out
from desa.errors import InventoryError

InventoryOpt = Annotated[Optional[Path], typer.Option("--inventory", "-i", help="Inventory folder (default: $DESA_INVENTORY or ./inventory)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def plain_errors(fn):
    """Print a DesaError's message whole on stderr (typer's error panel crops long paths with '…')."""
    import functools

    from desa.errors import DesaError, InventoryError as _InventoryError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _InventoryError:
            raise
        except DesaError as e:
            err.print(f"[red]error:[/red] {escape(e.message)}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None

    return wrapper


def _refuse(e: InventoryError, as_json: bool, closing: str) -> NoReturn:
    """Print every problem (file:line: field: message, or JSON) and exit 1."""
    if as_json:
        out.print_json(json.dumps({"ok": False, "problems": [p.as_dict() for p in e.problems]}))
    else:
        for p in e.problems:
            err.print(f"[red]✗[/red] {escape(str(p))}", markup=True, highlight=False, soft_wrap=True)
        err.print(closing)
    raise typer.Exit(1) from None


def load(root: Path | None, as_json: bool = False) -> inventory_mod.Inventory:
    """Load the inventory or exit 1 with every problem, naming file:line and field."""
    try:
        return inventory_mod.load(root)
    except InventoryError as e:
        _refuse(e, as_json, f"{len(e.problems)} problem(s); nothing will be deployed from this inventory")


@plain_errors
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


@plain_errors
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


@plain_errors
def new(
    kode: Annotated[str, typer.Argument(help="Kode wilayah of the desa, e.g. 32.16.06.2005")],
    root: InventoryOpt = None,
    slot: Annotated[Optional[int], typer.Option("--slot", help="Use this slot instead of the lowest free one")] = None,
    keys: Annotated[bool, typer.Option("--keys/--no-keys", help="Generate the WireGuard keypairs into the secrets store")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Scaffold a site file from its kode wilayah, with an allocated address plan, and validate it."""
    from desa import scaffold
    from desa.errors import UsageError

    try:
        made = scaffold.new_site(kode, root, slot, generate_keys=keys)
    except InventoryError as e:
        _refuse(e, as_json, "the inventory must be valid before a site is added: fix the problem(s) above")
    except UsageError as e:
        if as_json:
            out.print_json(json.dumps({"ok": False, "error": e.message}))
            raise typer.Exit(2) from None
        raise
    data = made.intent.as_dict
    if as_json:
        out.print_json(json.dumps({
            "ok": True, "path": str(made.path), "slug": made.slug, "slot": made.slot,
            "keys_generated": made.keys_generated, "keys": made.keys_note, "plan": data["plan"],
            "router": {"identity": data["router"]["identity"], "address": data["router"]["address"]},
            "server": {"hostname": data["server"]["hostname"], "address": data["server"]["address"]},
            "todo": [p.as_dict() for p in made.todo],
        }))
        return
    out.print(f"✓ wrote {made.path}: {data['name']} ({data['kode']}), Kec. {data['kecamatan']}, slot {made.slot}",
              highlight=False)
    plan = data["plan"]
    out.print(f"  prefix {plan['prefix']}, tunnels router {plan['vpn_address']} / server {plan['server_vpn_address']}",
              highlight=False)
    for name, seg in plan["segments"].items():
        dhcp = "–".join(seg["dhcp"]) if seg["dhcp"] else "static"
        out.print(f"  {name:<10} vlan {seg['vlan']:<4} {seg['network']:<18} gw {seg['gateway']:<15} dhcp {dhcp}"
                  f"{'' if seg['routed'] else '  (NAT only)'}", highlight=False)
    out.print(f"  router {data['router']['identity']} at {data['router']['address']}, "
              f"server {data['server']['hostname']} at {data['server']['address']}", highlight=False)
    out.print(f"  WireGuard keys: {made.keys_note}", highlight=False)
    if made.todo:
        out.print(f"{len(made.todo)} field(s) to fill in before `desa validate {made.slug}` passes:", highlight=False)
        for p in made.todo:
            out.print(f"  {p}", highlight=False)


@plain_errors
def schema(
    kind: Annotated[str, typer.Argument(help="site, regency, or all (either file)")] = "all",
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout")] = None,
) -> None:
    """JSON Schema of the inventory files, for editors (`# yaml-language-server: $schema=…`)."""
    from desa import schema as schema_mod
    from desa.errors import UsageError

    if kind not in ("site", "regency", "all"):
        raise UsageError(f"unknown schema {kind!r}: site, regency or all")
    text = schema_mod.text(kind)  # type: ignore[arg-type]
    if out_file is None:
        typer.echo(text, nl=False)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    err.print(f"✓ wrote {out_file}", highlight=False)
