"""`desa check`: verify sites against their intent; exits 4 when any check fails."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from desa import checking, journal, report
from desa.commands.deploy import AllOpt, SitesArg
from desa.commands.inventory import InventoryOpt, JsonOpt, load
from desa.console import err, out

EXIT_CHECK_FAILED = 4


def check(
    sites: SitesArg = None,
    all_sites: AllOpt = False,
    lab: Annotated[bool, typer.Option("--lab", help="Check the lab standing in for the sites")] = False,
    lab_dir: Annotated[Optional[Path], typer.Option("--lab-dir", help="Lab state folder (default state/lab)")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Report folder (default state/reports)")] = None,
    root: InventoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the checks of each site (testinfra over SSH, device facts over the router's SSH)."""
    inv = load(root, as_json)
    intents = inv.select(sites or [], all_sites=all_sites)
    if lab or lab_dir:
        os.environ.setdefault("DESA_SECRETS", "lab")
        lab_dir = (lab_dir or journal.state_dir() / "lab").resolve()
    out_dir = (out_dir or journal.state_dir() / "reports").resolve()
    with err.status(f"checking {', '.join(i.slug for i in intents)}"):
        reports = checking.run_sites([i.slug for i in intents], out_dir, inventory=inv.root, lab_dir=lab_dir)
    paths = report.write(inv, reports, out_dir)
    if as_json:
        out.print_json(json.dumps(report.as_json(reports)))
    else:
        table = Table("site", "status", "passed", "failed", "unverified", "what is wrong → what to do",
                      title="desa check")
        for r in reports:
            problems = [r.error] if r.error else [f"{o.check}: {o.message}" for o in r.failures]
            table.add_row(r.site, "[green]OK[/green]" if r.ok else "[red]FAIL[/red]", str(r.count("passed")),
                          str(r.count("failed")), str(r.count("unverified")), "\n".join(problems))
        out.print(table)
        out.print(f"report: {paths['html']}  (JUnit: {paths['junit']}, JSON: {paths['json']})")
    if not all(r.ok for r in reports):
        raise typer.Exit(EXIT_CHECK_FAILED)
