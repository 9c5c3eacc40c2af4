"""Templates: every site renders, lints clean with routeros-lsp --strict, holds no secret value,
and no inventory value can become RouterOS syntax (hypothesis)."""

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desa import inventory
from desa.network import desired
from desa.network.export import parse
from desa.network.render import render_context, render_site


@pytest.fixture(scope="module")
def inv():
    return inventory.load()


def test_every_site_renders_and_lints_strict(inv, tmp_path):
    lsp = shutil.which("routeros-lsp") or str(Path(__file__).resolve().parents[2] / ".venv/bin/routeros-lsp")
    files = []
    for intent in inv.sites.values():
        path = tmp_path / f"{intent.slug}.rsc"
        path.write_text(render_site(intent))
        files.append(str(path))
    proc = subprocess.run([lsp, "check", "--strict", "--format", "json", *files], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = json.loads(proc.stdout) if proc.stdout.strip().startswith(("[", "{")) else []
    assert not (findings.get("findings") if isinstance(findings, dict) else findings), proc.stdout


def test_lint_catches_a_bad_template(tmp_path):
    """The lint test can fail: an unknown parameter is a finding."""
    lsp = shutil.which("routeros-lsp") or str(Path(__file__).resolve().parents[2] / ".venv/bin/routeros-lsp")
    bad = tmp_path / "bad.rsc"
    bad.write_text("/ip firewall filter\nadd chain=input actionn=drop\n")
    proc = subprocess.run([lsp, "check", "--strict", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0


def test_rendered_config_has_secret_references_only(inv):
    text = render_site(inv.site("lambangsari"))
    assert 'private-key="<secret:sites/lambangsari/wireguard>"' in text
    assert "secret:routers/admin" not in text


def test_intent_reaches_the_config(inv):
    intent = inv.site("karangmukti")
    e = parse(render_site(intent))
    vlans = {i.props["name"]: i.props["vlan-id"] for i in e.menu("/interface vlan")}
    assert vlans == {s.interface: str(s.vlan_id) for s in intent.plan.segments.values()}
    assert e.menu("/system identity")[0].props["name"] == intent.router.identity
    peer = e.menu("/interface wireguard peers")[0].props
    assert peer["endpoint-address"] == str(intent.hub.endpoint)
    ssh = next(i for i in e.menu("/ip service") if i.target == "ssh").props["address"]
    assert ssh.split(",") == [str(intent.segment("management").network), str(intent.plan.vpn_network)]
    rules = [i.props["comment"] for i in e.menu("/ip firewall filter")]
    assert rules[-1] == "desa:fw-fwd-drop" and "desa:fw-fwd-cctv-no-internet" in rules
    # every managed item in a list menu carries the ownership marker
    for menu, items in e:
        for it in items:
            if it.action == "add" and menu not in {"/ip hotspot", "/ip hotspot profile",
                                                   "/ip hotspot user profile"}:
                assert it.props.get("comment", "").startswith("desa:"), (menu, it)


def test_strict_undefined(inv):
    ctx = desired.context(inv.site("lambangsari"))
    del ctx["wan"]
    with pytest.raises(Exception, match="wan"):
        render_context(ctx)


HOSTILE = st.text(alphabet=st.sampled_from(list('"\\$;[]{}?\n\r\t =/ab:é#')), min_size=1, max_size=24)


def hostile_context(ctx: dict, s: str) -> dict:
    """Every free-text field of the template context set to the hostile string."""
    ctx = dict(ctx)
    ctx["identity"] = "gw" + s
    ctx["note"] = s
    ctx["dns_servers"] = s
    ctx["ntp_servers"] = [s, s + "x"]
    hs = dict(ctx["hotspot"])
    hs["dns_name"] = s
    hs["walled_garden"] = [s]
    hs["profiles"] = [dict(p, name="p" + s) for p in hs["profiles"][:1]]
    ctx["hotspot"] = hs
    ctx["forward_rules"] = [dict(r, note=s) for r in ctx["forward_rules"]]
    ctx["wan"] = "w" + s
    return ctx


def expected_values(s: str) -> dict[tuple[str, str], str]:
    return {("/system identity", "name"): "gw" + s, ("/system note", "note"): s, ("/ip dns", "servers"): s,
            ("/ip hotspot profile", "dns-name"): s, ("/ip hotspot walled-garden", "dst-host"): s,
            ("/ip dhcp-client", "interface"): "w" + s}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=HOSTILE)
def test_hostile_strings_stay_values_in_the_rendered_script(inv, s):
    text = render_context(hostile_context(desired.context(inv.site("sumberjaya")), s))
    e = parse(text)
    for (menu, prop), value in expected_values(s).items():
        assert e.menu(menu)[0].props[prop] == value
    assert [i.props["address"] for i in e.menu("/system ntp client servers")] == [s, s + "x"]
    # one command per line: no value opened a new line, a `;` statement or a `[ ]` substitution
    body = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert all(ln.startswith(("/", "add ", "set ")) for ln in body)
