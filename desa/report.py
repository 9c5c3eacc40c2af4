"""Reports of the checks: JSON for machines, a static HTML status page for the regency office."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from desa import journal
from desa.checking import SiteReport
from desa.inventory import PROJECT_ROOT, Inventory

TEMPLATES = PROJECT_ROOT / "templates" / "report"


def as_json(reports: list[SiteReport]) -> dict:
    return {"sites": {r.site: r.as_dict() for r in reports}}


def _drift(report: SiteReport) -> str:
    network = [o for o in report.outcomes if o.check == "network" and "drift" in o.name]
    if not network:
        return "not checked"
    o = network[0]
    return "none" if o.status == "passed" else (o.message or o.status)


def html(inventory: Inventory, reports: list[SiteReport]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"]))
    sites = []
    for r in reports:
        intent = inventory.site(r.site)
        last = journal.last_deploy(r.site)
        sites.append({
            "slug": intent.slug, "name": intent.name, "kode": intent.kode,
            "kecamatan": intent.site.kecamatan, "ok": r.ok, "error": r.error,
            "passed": r.count("passed"), "failed": r.count("failed"), "unverified": r.count("unverified"),
            "problems": [o for o in r.outcomes if o.status != "passed"],
            "drift": _drift(r),
            "last_deploy": None if last is None else {
                "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(last["finished"] or 0)),
                "by": last["by"], "changed": last["changed"], "failed": last["failed"]},
        })
    regencies = sorted({inventory.site(r.site).regency.name for r in reports})
    return env.get_template("index.html.j2").render(
        sites=sites, ok_count=sum(1 for s in sites if s["ok"]), regency_names=", ".join(regencies),
        generated=time.strftime("%Y-%m-%d %H:%M %Z"))


def write(inventory: Inventory, reports: list[SiteReport], out_dir: Path) -> dict[str, Path]:
    from desa.checking import merge_junit

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"html": out_dir / "index.html", "json": out_dir / "checks.json", "junit": out_dir / "checks.xml"}
    paths["json"].write_text(json.dumps(as_json(reports), indent=2))
    paths["html"].write_text(html(inventory, reports))
    merge_junit([out_dir / f"checks-{r.site}.xml" for r in reports], paths["junit"])
    return paths
