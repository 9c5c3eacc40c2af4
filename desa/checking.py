"""Run the site checks (pytest-testinfra modules under `checks/`) and read their results.

Each site is checked in its own pytest process (its own SSH masters and fixtures), writing JUnit
XML that is parsed back into per-check outcomes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from desa.inventory import PROJECT_ROOT

CHECKS_DIR = PROJECT_ROOT / "checks"


@dataclass
class CheckOutcome:
    check: str  # module (role) name, e.g. "firewall"
    name: str  # test name
    status: str  # passed | failed | unverified
    message: str = ""  # one line: what is wrong → what to do


@dataclass
class SiteReport:
    site: str
    outcomes: list[CheckOutcome] = field(default_factory=list)
    error: str | None = None  # the checks could not run at all

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures and bool(self.outcomes)

    @property
    def failures(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "error": self.error,
                "failures": [f"{o.check}: {o.message}" for o in self.failures],
                "passed": self.count("passed"), "unverified": [f"{o.check}: {o.message}" for o in self.outcomes
                                                               if o.status == "unverified"],
                "outcomes": [asdict(o) for o in self.outcomes]}


def _one_line(text: str) -> str:
    """The check's own one-line message: the assertion text, without pytest's expansion."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("E "):
            line = line[2:].strip()
        if line.startswith("AssertionError: "):
            line = line[len("AssertionError: "):]
        if line.startswith("Failed: "):
            line = line[len("Failed: "):]
        if line and not line.startswith(("def ", "assert ", ">", "@")):
            return line[:400]
    return text.strip().splitlines()[0][:400] if text.strip() else ""


def parse_junit(path: Path, site: str) -> SiteReport:
    report = SiteReport(site)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        report.error = f"no readable check results ({e})"
        return report
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").split(".")[-1].removeprefix("test_")
        name = case.get("name", "")
        status, message = "passed", ""
        failure = case.find("failure")
        error = case.find("error")
        skipped = case.find("skipped")
        if failure is not None or error is not None:
            node = failure if failure is not None else error
            status = "failed"
            message = _one_line(node.get("message") or node.text or "")
        elif skipped is not None:
            status = "unverified"
            message = (skipped.get("message") or "").removeprefix("Skipped: ")
        report.outcomes.append(CheckOutcome(module, name, status, message))
    return report


def run_site(site: str, out_dir: Path, inventory: Path | None = None, lab_dir: Path | None = None,
             timeout: int = 900) -> SiteReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    xml = out_dir / f"checks-{site}.xml"
    xml.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", str(CHECKS_DIR), "-q", "-p", "no:cacheprovider",
           f"--rootdir={CHECKS_DIR}", "-c", os.devnull, f"--desa-site={site}", f"--junitxml={xml}",
           "-o", "junit_family=xunit1", "-o", "junit_logging=no", "-o", "timeout=300", "--tb=line"]
    if inventory:
        cmd.append(f"--desa-inventory={inventory}")
    if lab_dir:
        cmd.append(f"--desa-lab={lab_dir}")
    try:
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return SiteReport(site, error=f"checks did not finish within {timeout} s")
    report = parse_junit(xml, site)
    if proc.returncode not in (0, 1) and not report.outcomes:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        report.error = f"pytest exited {proc.returncode}: " + " | ".join(tail)
    (out_dir / f"checks-{site}.log").write_text(proc.stdout + proc.stderr)
    return report


def run_sites(sites: list[str], out_dir: Path, inventory: Path | None = None,
              lab_dir: Path | None = None, workers: int = 2) -> list[SiteReport]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda s: run_site(s, out_dir, inventory, lab_dir), sites))


def merge_junit(paths: list[Path], target: Path) -> None:
    suites = ET.Element("testsuites")
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue
        for suite in ([root] if root.tag == "testsuite" else list(root)):
            suites.append(suite)
    ET.ElementTree(suites).write(target, encoding="utf-8", xml_declaration=True)
