"""`desa plan` and `desa deploy`: what would change, and making it so."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from desa import journal, rollout
from desa.commands.inventory import InventoryOpt, JsonOpt, load
from desa.console import err, out
from desa.errors import UsageError


class Stage(str, Enum):
    network = "network"
    server = "server"
    app = "app"


SitesArg = Annotated[Optional[list[str]], typer.Argument(help="Site slugs or kodes")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every site of the inventory")]
OnlyOpt = Annotated[Optional[list[Stage]], typer.Option("--only", help="Only this stage (repeatable)")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Deploy to the lab standing in for the sites (`desa lab up`)")]

EXIT_DEPLOY_FAILED = 3


def plan(
    sites: SitesArg = None,
    all_sites: AllOpt = False,
    only: OnlyOpt = None,
    root: InventoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The exact commands each device would receive; nothing is changed."""
    stages = [s.value for s in only] if only else ["network"]
    if stages != ["network"]:
        raise UsageError("plan covers network devices for now (`--only network`); "
                         "server and app plans: not yet — run `pyinfra --dry` with `desa deploy --lab` inventories")
    from desa.network.deploy import plan_site

    intents = load(root, as_json).select(sites or [], all_sites=all_sites)
    devices: dict[str, dict] = {}
    for intent in intents:
        for device, commands in plan_site(intent).items():
            devices[device] = {"site": intent.slug, "commands": list(commands)}
    if as_json:
        out.print_json(json.dumps({"devices": devices}))
        return
    for device, data in devices.items():
        n = len(data["commands"])
        out.print(f"[bold]{device}[/bold] ({data['site']}): " + (f"{n} command(s)" if n else "nothing to do"))
        for command in data["commands"]:
            out.print(f"  {command}", markup=False)


def _summary(run: journal.Run) -> Table:
    stages = ["network", "hub", "server", "app"]
    present = [s for s in stages if any(r.stage == s for r in run.results)]
    table = Table("site", *present, title=f"deploy {run.id} by {run.by}")
    hub_of = {}
    for r in run.results:
        if r.stage == "hub":
            hub_of[r.site] = r
    for site in run.sites:
        cells = []
        for stage in present:
            if stage == "hub":
                rs = [r for r in run.results if r.stage == "hub"]
            else:
                rs = [r for r in run.results if r.stage == stage and r.site == site]
            if not rs:
                cells.append("–")
                continue
            r = rs[0]
            if r.skipped:
                cells.append(f"[yellow]skipped[/yellow]")
            elif r.failed:
                cells.append(f"[red]✗ failed[/red]")
            else:
                cells.append(f"[green]✓[/green] {r.changed} changed" if r.changed else "[green]✓[/green] no change")
        table.add_row(site, *cells)
    return table


def deploy(
    sites: SitesArg = None,
    all_sites: AllOpt = False,
    only: OnlyOpt = None,
    lab: LabOpt = False,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Do not ask for confirmation")] = False,
    root: InventoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy sites: network → hub → server → app. Safe to repeat; exits 3 if anything failed."""
    inv = load(root, as_json)
    intents = inv.select(sites or [], all_sites=all_sites)
    stages = [s.value for s in only] if only else list(rollout.STAGES)
    where = "the lab" if lab else "the real sites"
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("deploy needs confirmation: pass -y (no terminal to ask on)")
        typer.confirm(f"Deploy {', '.join(stages)} to {len(intents)} site(s) on {where}?", abort=True)
    if lab:
        os.environ.setdefault("DESA_SECRETS", "lab")
    run = journal.Run(sites=[i.slug for i in intents], only=stages, lab=lab)
    started = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=as_json) as progress:
        task = None

        def on_stage(stage: str, slugs: list[str]) -> None:
            nonlocal task
            if task is not None:
                progress.update(task, completed=1, total=1)
            task = progress.add_task(f"deploy {stage}: {', '.join(slugs)}", total=None)

        rollout.deploy(intents, run, rollout.Target(lab=lab), on_stage=on_stage)
        if task is not None:
            progress.update(task, completed=1, total=1)
    path = journal.record(run)
    elapsed = time.monotonic() - started
    if as_json:
        hosts: dict[str, dict] = {}
        for r in run.results:
            for name, h in r.hosts.items():
                entry = hosts.setdefault(name, {"site": r.site, "changed": 0, "failed": False, "stages": {}})
                entry["changed"] += h.changed
                entry["failed"] = entry["failed"] or h.failed
                entry["stages"][r.stage] = {"changed": h.changed, "failed": h.failed, "error": h.error}
        out.print_json(json.dumps({"run": run.id, "changed": run.changed,
                                   "failed": sum(1 for h in hosts.values() if h["failed"]) + sum(
                                       1 for r in run.results if r.skipped),
                                   "hosts": hosts, "journal": str(path)}))
    else:
        err.print(_summary(run))
        for r in run.results:
            if r.failed:
                err.print(f"[red]✗ {r.stage} {r.site}[/red]: {r.error}", markup=True)
        err.print(f"{run.changed} change(s), {run.failed} failure(s) in {elapsed:.1f} s; journal: {path}")
    if run.failed or any(r.skipped for r in run.results):
        raise typer.Exit(EXIT_DEPLOY_FAILED)
