"""Deploy orchestration: stage order, failure isolation, journal and the CLI's JSON/exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from desa import journal, rollout
from desa.cli import app
from desa.inventory import load
from desa.results import HostResult, StageResult


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """Replace the three stage functions by recorders; failures chosen per (stage, site)."""
    monkeypatch.setenv("DESA_STATE", str(tmp_path))
    record: list[tuple[str, tuple[str, ...]]] = []
    failing: set[tuple[str, str]] = set()

    def fake(stage):
        def run(intents, target):
            record.append((stage, tuple(i.slug for i in intents)))
            out = []
            for i in intents:
                failed = (stage, i.slug) in failing
                out.append(StageResult(stage=stage, site=i.slug, hosts={
                    i.slug: HostResult(i.slug, changed=0 if failed else 2, failed=failed,
                                       error="boom" if failed else None)}))
            if stage == "server":
                out.insert(0, StageResult(stage="hub", site=intents[0].hub.name, hosts={
                    intents[0].hub.name: HostResult(intents[0].hub.name, changed=1)}))
            return out
        return run

    for stage in rollout.STAGES:
        monkeypatch.setitem(rollout.STAGE_FUNCTIONS, stage, fake(stage))
    return record, failing


def test_stages_run_in_order_network_server_app(calls):
    record, _ = calls
    intents = list(load().sites.values())
    run = journal.Run(sites=[i.slug for i in intents], only=list(rollout.STAGES), lab=True)
    rollout.deploy(intents, run, rollout.Target(lab=True))
    assert [stage for stage, _ in record] == ["network", "server", "app"]
    assert all(len(slugs) == 4 for _, slugs in record)
    assert run.changed == 4 * 2 * 3 + 1 and run.failed == 0


def test_a_failed_stage_removes_only_that_site_from_later_stages(calls):
    record, failing = calls
    failing.add(("network", "sumberjaya"))
    intents = list(load().sites.values())
    run = journal.Run(sites=[i.slug for i in intents], only=list(rollout.STAGES), lab=True)
    rollout.deploy(intents, run, rollout.Target(lab=True))
    assert dict(record)["server"] == ("karangbahagia", "karangmukti", "lambangsari")
    skipped = [(r.stage, r.site) for r in run.results if r.skipped]
    assert skipped == [("server", "sumberjaya"), ("app", "sumberjaya")]


def test_a_crashing_stage_fails_its_sites_and_the_run_goes_on(calls, monkeypatch):
    def crash(intents, target):
        raise RuntimeError("pyinfra exploded")

    monkeypatch.setitem(rollout.STAGE_FUNCTIONS, "server", crash)
    intents = list(load().sites.values())
    run = journal.Run(sites=[i.slug for i in intents], only=list(rollout.STAGES), lab=True)
    rollout.deploy(intents, run, rollout.Target(lab=True))
    server = [r for r in run.results if r.stage == "server"]
    assert len(server) == 4 and all(r.failed and "pyinfra exploded" in r.error for r in server)
    assert all(r.skipped for r in run.results if r.stage == "app")


def test_deploy_cli_json_journal_and_exit_codes(calls, tmp_path):
    record, failing = calls
    runner = CliRunner()
    ok = runner.invoke(app, ["deploy", "lambangsari", "sumberjaya", "--lab", "-y", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["failed"] == 0 and data["changed"] == 2 * 2 * 3 + 1
    assert set(data["hosts"]) == {"lambangsari", "sumberjaya", "hub-bekasi"}
    runs = journal.runs(tmp_path / "journal.jsonl")
    assert len(runs) == 1 and runs[0]["sites"] == ["lambangsari", "sumberjaya"] and runs[0]["by"]

    failing.add(("app", "sumberjaya"))
    bad = runner.invoke(app, ["deploy", "sumberjaya", "--lab", "-y", "--only", "app", "--json"])
    assert bad.exit_code == 3
    assert json.loads(bad.stdout)["hosts"]["sumberjaya"]["failed"] is True
    assert [s for s, _ in record][-1] == "app"
    last = journal.last_deploy("sumberjaya", tmp_path / "journal.jsonl")
    assert last["failed"] is True and last["changed"] == 0


def test_deploy_refuses_without_confirmation_when_not_a_terminal(calls):
    result = CliRunner().invoke(app, ["deploy", "lambangsari", "--lab"])
    assert result.exit_code == 2
    assert calls[0] == []


def test_unknown_site_is_a_usage_error(calls):
    result = CliRunner().invoke(app, ["deploy", "atlantis", "-y"])
    assert result.exit_code == 2 and calls[0] == []


def test_journal_survives_a_partial_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": "a", "results": [{"site": "x", "changed": 1, "failed": false}], "finished": 1, '
                    '"by": "me", "revision": null}\n{"id": "b", "resu')
    assert [r["id"] for r in journal.runs(path)] == ["a"]
    assert journal.last_deploy("x", path)["changed"] == 1
