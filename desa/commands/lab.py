"""`desa lab up|status|down|destroy`: the lab standing in for the sites (needs root)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from desa import inventory as inventory_mod
from desa.console import err, out

app = typer.Typer(help="The lab: real Debian hosts and simulated routers standing in for the sites (root).",
                  no_args_is_help=True)

InventoryOpt = Annotated[Optional[Path], typer.Option("--inventory", "-i", help="Inventory folder (default: $DESA_INVENTORY or ./inventory)")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="Lab state folder (default: $DESA_LAB_STATE or state/lab)")]


def _lab(state: Path | None):
    from desa.lab import Lab

    return Lab(state)


@app.command()
def up(
    sites: Annotated[Optional[list[str]], typer.Argument(help="Site slugs or kodes")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site of the inventory")] = False,
    link: Annotated[bool, typer.Option("--link", help="Also emulate each site's uplink (latency, bandwidth…)")] = False,
    root: InventoryOpt = None,
    state: StateOpt = None,
) -> None:
    """Bring up (or repair) the hub, a server and a router slot per site; a no-op when all is up."""
    intents = inventory_mod.load(root).select(sites or [], all_sites)
    lab = _lab(state)
    start = time.monotonic()
    lab.up(intents, progress=lambda msg: err.print(f"[dim]lab:[/dim] {msg}"), link=link)
    err.print(f"lab up in {time.monotonic() - start:.1f} s — ssh -F {lab.ssh_config} HOST; "
              f"pyinfra {lab.pyinfra_inventory} deploys/…")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    state: StateOpt = None,
) -> None:
    """The state of every lab host and router slot: running, degraded or stopped."""
    st = _lab(state).status()
    if as_json:
        print(json.dumps({"hosts": {n: {"state": h["state"], "address": h["address"]}
                                    for n, h in st["hosts"].items()}}, indent=1))
        return
    if not st["hosts"]:
        out.print("the lab is empty → desa lab up SITE… (or --all)")
        return
    colour = {"running": "green", "degraded": "yellow", "stopped": "red"}
    for name, h in st["hosts"].items():
        out.print(f"{name:24} {h['kind']:7} {h['address']:15} [{colour[h['state']]}]{h['state']}[/]")


@app.command("link")
def link_cmd(
    sites: Annotated[Optional[list[str]], typer.Argument(help="Site slugs or kodes")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site in the lab")] = False,
    off: Annotated[bool, typer.Option("--off", help="Stop emulating: the plain lab link again")] = False,
    root: InventoryOpt = None,
    state: StateOpt = None,
) -> None:
    """Emulate the sites' uplinks from the inventory (RTT, jitter, stalls, drops, bandwidth) on the
    management path, so deploys can be tried over a realistic village link."""
    intents = inventory_mod.load(root).select(sites or [], all_sites)
    now = _lab(state).link(intents, on=not off)
    for slug, cfg in sorted(now.items()):
        p = cfg["profile"]
        out.print(f"{slug:16} rtt {p['latency_ms']:.0f}±{p['jitter_ms']:.0f} ms, {cfg['down_mbps']}/{cfg['up_mbps']} Mbit/s, "
                  f"drop {p['drop']:.0%} of connections, stall {p['stall_s']:.0f} s every {p['stall_every_s']:.0f} s")
    if not now:
        out.print("no site's link is emulated")


@app.command()
def down(state: StateOpt = None) -> None:
    """Stop every process and remove every namespace, mount and link the lab made (keeps host disks)."""
    _lab(state).down()
    err.print("lab down")


@app.command()
def destroy(state: StateOpt = None) -> None:
    """`down`, then delete the hosts' overlays and the lab's state (the cached base image stays)."""
    _lab(state).destroy()
    err.print("lab destroyed")
