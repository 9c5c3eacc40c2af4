"""`desa app fixture|rollback|status`: the village information system on the sites' servers."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer

from desa import inventory as inventory_mod
from desa.console import err, out

app = typer.Typer(help="The village information system (OpenSID-shaped or opaque apps).", no_args_is_help=True)

InventoryOpt = Annotated[Optional[Path], typer.Option("--inventory", "-i", help="Inventory folder (default: $DESA_INVENTORY or ./inventory)")]
LabOpt = Annotated[bool, typer.Option("--lab", help="The site's server in the lab (`desa lab up`)")]
StateOpt = Annotated[Optional[Path], typer.Option("--state", help="Lab state folder (default: $DESA_LAB_STATE or state/lab)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


@app.command()
def fixture(
    output: Annotated[Optional[Path], typer.Option(help="Folder for the archives (default state/app-fixture)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the OpenSID-shaped fixture releases (1.0.0, 1.1.0) reproducibly; print their sha256."""
    from desa.app import fixture as fx

    built = fx.build(output or fx.OUTPUT)
    if as_json:
        print(json.dumps({v: {"path": str(p), "sha256": s} for v, (p, s) in built.items()}, indent=1))
        return
    for version, (path, sha) in built.items():
        out.print(f"{version}  {sha}  {path}")


def _site(site: str, root: Path | None, lab: bool):
    if lab:
        os.environ.setdefault("DESA_SECRETS", "lab")
    return inventory_mod.load(root).site(site)


@app.command()
def rollback(
    site: Annotated[str, typer.Argument(help="Site slug or kode")],
    root: InventoryOpt = None,
    lab: LabOpt = False,
    state: StateOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Return the site's app to the release before the last upgrade and the database dump taken then."""
    from desa.app.rollback import RollbackError
    from desa.app.rollback import rollback as do_rollback

    intent = _site(site, root, lab)
    if not yes and not typer.confirm(f"roll back the app of {intent.name} ({intent.server.hostname}), "
                                     f"restoring its database to the dump taken before the last upgrade?"):
        raise typer.Exit(1)
    try:
        result = do_rollback(intent, lab=lab, lab_state=state)
    except RollbackError as e:
        err.print(f"[red]rollback failed:[/red] {e}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(asdict(result), indent=1))
        return
    out.print(f"{intent.slug}: rolled back {result.rolled_back_from} → {result.to}; database restored from "
              f"{result.restored_dump} (the database as it was is kept in {result.saved_dump}). "
              f"Set app.release to {result.to} in the inventory, or the next deploy upgrades again.")


@app.command()
def status(
    site: Annotated[str, typer.Argument(help="Site slug or kode")],
    root: InventoryOpt = None,
    lab: LabOpt = False,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The app's releases on the site's server: current, installed, rollback target."""
    from desa.app.rollback import RollbackError
    from desa.app.rollback import status as release_status

    intent = _site(site, root, lab)
    try:
        st = release_status(intent, lab=lab, lab_state=state)
    except RollbackError as e:
        err.print(f"[red]status failed:[/red] {e}")
        raise typer.Exit(1) from None
    wanted = intent.app.release.version
    data = {"site": intent.slug, "wanted": wanted, "current": st.current, "installed": list(st.complete),
            "rollback_to": st.previous, "interrupted_switch": st.switching}
    if as_json:
        print(json.dumps(data, indent=1))
        return
    out.print(f"{intent.slug}: current {st.current or 'none'} (inventory wants {wanted}); installed "
              f"{', '.join(st.complete) or 'none'}; rollback to {st.previous or 'nothing'}"
              + ("; a release switch was interrupted → desa deploy again" if st.switching else ""))
