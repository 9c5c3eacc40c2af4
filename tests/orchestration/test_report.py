"""Check results: JUnit parsing into one-line findings, JSON shape, the HTML status page."""

from __future__ import annotations

import json
from pathlib import Path

from desa import report
from desa.checking import parse_junit
from desa.inventory import load

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
 <testcase classname="test_web" name="test_nginx_running[ssh://srv-sumberjaya]"/>
 <testcase classname="test_web" name="test_tls_not_expiring">
  <failure message="AssertionError: nginx is not running → run `desa deploy sumberjaya --only app`&#10;assert False">long
traceback</failure></testcase>
 <testcase classname="test_base" name="test_time_sync">
  <skipped type="pytest.skip" message="unverified in a container: the clock belongs to the host">x</skipped></testcase>
 <testcase classname="test_network" name="test_no_drift">
  <error message="failed on setup with &quot;Failed: cannot reach router &lt;b&gt; → check power&quot;">e</error></testcase>
</testsuite></testsuites>"""


def test_junit_becomes_one_line_findings(tmp_path: Path):
    xml = tmp_path / "checks-sumberjaya.xml"
    xml.write_text(JUNIT)
    r = parse_junit(xml, "sumberjaya")
    assert [(o.check, o.status) for o in r.outcomes] == [
        ("web", "passed"), ("web", "failed"), ("base", "unverified"), ("network", "failed")]
    assert r.outcomes[1].message == "nginx is not running → run `desa deploy sumberjaya --only app`"
    assert r.outcomes[2].message.startswith("unverified in a container")
    assert not r.ok and len(r.failures) == 2
    data = report.as_json([r])
    assert set(data["sites"]) == {"sumberjaya"} and data["sites"]["sumberjaya"]["ok"] is False
    assert data["sites"]["sumberjaya"]["failures"][0].startswith("web: nginx is not running")


def test_missing_results_are_an_error_not_a_pass(tmp_path: Path):
    r = parse_junit(tmp_path / "absent.xml", "lambangsari")
    assert r.error and not r.ok


def test_html_page_lists_every_site_and_escapes_messages(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DESA_STATE", str(tmp_path))
    inv = load()
    reports = []
    for slug in inv.sites:
        xml = tmp_path / f"checks-{slug}.xml"
        xml.write_text(JUNIT)
        reports.append(parse_junit(xml, slug))
    paths = report.write(inv, reports, tmp_path)
    html = paths["html"].read_text()
    for intent in inv.sites.values():
        assert f'id="site-{intent.slug}"' in html and intent.name in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert json.loads(paths["json"].read_text())["sites"].keys() == inv.sites.keys()
    assert paths["junit"].read_text().count("<testsuite ") == 4
