"""The README's first command, end to end, on the lab: four pilot villages deployed and checked.

Then a fault in each layer (a stopped service, a VLAN removed on a router, the app's config file
deleted) is named by `desa check`, repaired by `desa deploy` and verified green again.
This module needs root (the lab) and takes several minutes; it runs once per CI run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "state" / "artifacts"
ENV = {**os.environ, "DESA_SECRETS": "lab"}
DESA = str(ROOT / ".venv" / "bin" / "desa")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.timeout(3000),
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (systemd-nspawn, namespaces)"),
]


def sh(*cmd: str, timeout: int = 900, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    p = subprocess.run(list(cmd), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    if p.returncode not in ok:
        pytest.fail(f"{' '.join(cmd)} exited {p.returncode}\n--- stdout\n{p.stdout[-6000:]}\n"
                    f"--- stderr\n{p.stderr[-6000:]}")
    return p


def deploy_seconds(output: str) -> float:
    m = re.search(r"deploy took ([0-9.]+) s", output)
    assert m, f"scripts/main did not print the deploy time:\n{output[-2000:]}"
    return float(m.group(1))


def journal() -> list[dict]:
    path = ROOT / "state" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def main_job():
    first = sh("./scripts/main", timeout=2400)
    second = sh("./scripts/main", timeout=1200)
    t1, t2 = deploy_seconds(first.stdout + first.stderr), deploy_seconds(second.stdout + second.stderr)
    print(f"\nmain job deploy: first run {t1:.1f} s, second run {t2:.1f} s ({t1 / t2:.1f}× faster)")
    yield first, second, t1, t2
    # The main job leaves the lab running for people to look at; a test leaves nothing behind.
    sh(DESA, "lab", "down", timeout=300)


def test_first_run_ends_with_four_green_sites(main_job):
    first, *_ = main_job
    report = json.loads((ROOT / "state" / "reports" / "checks.json").read_text())
    assert sorted(report["sites"]) == ["karangbahagia", "karangmukti", "lambangsari", "sumberjaya"]
    assert all(site["ok"] for site in report["sites"].values()), report
    assert "report:" in first.stdout and "index.html" in first.stdout


def test_second_run_changes_nothing_and_is_much_faster(main_job):
    _, second, t1, t2 = main_job
    last = journal()[-1]
    assert last["changed"] == 0, [(r["stage"], r["site"], r["changed"]) for r in last["results"] if r["changed"]]
    assert last["failed"] == 0
    assert t2 < t1 / 2, f"second run {t2:.1f} s is not much faster than the first {t1:.1f} s"


def test_html_report_shows_all_four_sites_in_chromium(main_job, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing → run ./scripts/setup (it installs Debian's chromium)")
    page = ROOT / "state" / "reports" / "index.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = sh(chromium, *flags, "--dump-dom", page.as_uri(), timeout=120).stdout
    for name in ("Lambangsari", "Sumberjaya", "Karangbahagia", "Karangmukti"):
        assert name in dom
    assert dom.count('class="site ok"') == 4, "the page does not show four green sites"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status.png"
    shot.unlink(missing_ok=True)
    sh(chromium, *flags, f"--screenshot={shot}", "--window-size=1400,900", page.as_uri(), timeout=120)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_fault_in_each_layer_is_named_repaired_and_verified(main_job, monkeypatch):
    from desa.inventory import load
    from desa.network.connection import open_router

    monkeypatch.setenv("DESA_SECRETS", "lab")  # the router's password, as the lab made it
    inv = load()
    # server layer: a service stopped on Sumberjaya
    sh("ssh", "-F", "state/lab/ssh_config", "srv-sumberjaya", "sudo systemctl stop nginx")
    # network layer: the CCTV VLAN removed from Karangbahagia's bridge
    with open_router(inv.site("karangbahagia")) as router:
        router.send(f"/interface bridge vlan remove [find where vlan-ids={inv.site('karangbahagia').segment('cctv').vlan_id}]")
    # app layer: OpenSID's database config deleted on Karangmukti
    sh("ssh", "-F", "state/lab/ssh_config", "srv-karangmukti",
       "sudo rm -f /srv/desa/opensid/shared/desa/config/database.php")

    broken = sh(DESA, "check", "--all", "--lab", "--json", ok=(4,), timeout=900)
    sites = json.loads(broken.stdout)["sites"]
    assert sites["lambangsari"]["ok"] is True
    for site, word in (("sumberjaya", "nginx"), ("karangbahagia", "vlan"), ("karangmukti", "database.php")):
        assert sites[site]["ok"] is False
        assert any(word in f.lower() for f in sites[site]["failures"]), (site, sites[site]["failures"])

    sh(DESA, "deploy", "--all", "--lab", "-y", timeout=1200)
    fixed = sh(DESA, "check", "--all", "--lab", "--json", timeout=900)
    assert all(s["ok"] for s in json.loads(fixed.stdout)["sites"].values())
