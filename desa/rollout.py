"""Deploy sites in the right order: network → hub → server → app.

Routers are independent, so the network stage runs site by site in a small thread pool; servers
(with their regency hub) and apps run as one pyinfra run over all selected hosts each. A site
whose stage failed is left out of its later stages (its result says why); other sites go on. Every
stage is idempotent, so re-running the deploy converges a site that failed part-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from desa.intent import SiteIntent
from desa.journal import Run
from desa.results import HostResult, StageResult

STAGES = ("network", "server", "app")  # "hub" results come with the server stage


@dataclass
class Target:
    """Where a deploy goes: the real sites, or the lab standing in for them."""

    lab: bool = False
    lab_dir: object = None  # Path of a lab state folder, or None for the default lab


def _failed(site: str, stage: str, error: Exception) -> StageResult:
    return StageResult(stage=stage, site=site,
                       hosts={site: HostResult(host=site, failed=True, error=f"{type(error).__name__}: {error}")})


def network_stage(intents: list[SiteIntent], target: Target) -> list[StageResult]:
    from desa.network.deploy import deploy_site

    def one(intent: SiteIntent) -> StageResult:
        try:
            return deploy_site(intent)
        except Exception as e:  # noqa: BLE001 - one router's failure must not stop the others
            return _failed(intent.slug, "network", e)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, intents))


def server_stage(intents: list[SiteIntent], target: Target) -> list[StageResult]:
    from desa.server import deploy_servers

    return deploy_servers(intents, lab=target.lab)


def app_stage(intents: list[SiteIntent], target: Target) -> list[StageResult]:
    from desa.app import deploy_apps

    return deploy_apps([i for i in intents if i.app is not None], lab=target.lab)


STAGE_FUNCTIONS: dict[str, Callable[[list[SiteIntent], Target], list[StageResult]]] = {
    "network": network_stage,
    "server": server_stage,
    "app": app_stage,
}


def deploy(intents: list[SiteIntent], run: Run, target: Target,
           on_stage: Callable[[str, list[str]], None] | None = None) -> Run:
    """Run the stages in order; results accumulate in `run.results`."""
    healthy = {i.slug: i for i in intents}
    for stage in STAGES:
        if stage not in run.only:
            continue
        todo = [i for i in intents if i.slug in healthy]
        for intent in intents:
            if intent.slug not in healthy:
                run.results.append(StageResult(stage=stage, site=intent.slug,
                                               skipped="an earlier stage failed for this site"))
        if not todo:
            continue
        if on_stage:
            on_stage(stage, [i.slug for i in todo])
        try:
            results = STAGE_FUNCTIONS[stage](todo, target)
        except Exception as e:  # noqa: BLE001 - a stage that crashes fails its sites, the run goes on
            results = [_failed(i.slug, stage, e) for i in todo]
        run.results.extend(results)
        for r in results:
            if r.failed and r.site in healthy:
                healthy.pop(r.site)
            if r.stage == "hub" and r.failed:
                # Without its hub no site of the regency can finish (VPN, backups).
                for i in todo:
                    if i.hub.name == r.site or i.regency.slug == r.site:
                        healthy.pop(i.slug, None)
    run.finished = time.time()
    return run
