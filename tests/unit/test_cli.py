"""`desa validate / show / new / schema` through the CLI: outputs, JSON and exit codes 0/1/2."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from desa import yamlfile
from desa.cli import app

from .conftest import BEKASI, Inv

runner = CliRunner()


def desa(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# --- validate ----------------------------------------------------------------------------------------

def test_validate_all_ok(inv: Inv):
    r = desa("validate", "--all", "-i", str(inv.root))
    assert r.exit_code == 0 and "4 site(s) valid" in r.stdout


def test_validate_json(inv: Inv):
    r = desa("validate", "lambangsari", "32.16.10.2008", "-i", str(inv.root), "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"ok": True, "sites": ["lambangsari", "karangmukti"]}


def test_validate_broken_exits_1_naming_file_line_field(inv: Inv):
    line = inv.replace("sumberjaya", "slot: 2", "slot: 1")
    r = desa("validate", "--all", "-i", str(inv.root))
    assert r.exit_code == 1
    assert f"{inv.path('sumberjaya')}:{line}: slot: 2 is already used by lambangsari.yaml" not in r.stderr
    assert f"{inv.path('sumberjaya')}:{line}: slot: 1 is already used by lambangsari.yaml" in r.stderr
    assert "nothing will be deployed" in r.stderr


def test_validate_broken_json(inv: Inv):
    line = inv.replace("lambangsari", "name: Lambangsari", "name: Lambangjaya")
    r = desa("validate", "--all", "-i", str(inv.root), "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False
    assert {"file": str(inv.path("lambangsari")), "line": line, "field": "name",
            "message": "'Lambangjaya' does not match 32.16.06.2002, which is 'Lambangsari'"} in data["problems"]


def test_validate_problem_with_brackets_is_printed_verbatim(inv: Inv):
    inv.append("lambangsari", "devices:\n  router:\n    identity: \"[admin@gw]\"\n")
    r = desa("validate", "--all", "-i", str(inv.root))
    assert r.exit_code == 1 and "devices.router.identity" in r.stderr


def test_validate_unknown_site_exits_2(inv: Inv):
    r = desa("validate", "nowhere", "-i", str(inv.root))
    assert r.exit_code == 2 and "no site 'nowhere'" in r.output


def test_validate_missing_inventory_exits_2(tmp_path):
    r = desa("validate", "--all", "-i", str(tmp_path / "nothing"))
    assert r.exit_code == 2 and "does not exist" in r.output


def test_unknown_option_exits_2(inv: Inv):
    assert desa("validate", "--everything").exit_code == 2


# --- show --------------------------------------------------------------------------------------------

def test_show_json_by_slug_and_kode(inv: Inv):
    a = desa("show", "lambangsari", "-i", str(inv.root), "--json")
    b = desa("show", "32.16.06.2002", "-i", str(inv.root), "--json")
    assert a.exit_code == b.exit_code == 0
    data = json.loads(a.stdout)
    assert data == json.loads(b.stdout)
    assert data["server"]["address"] == "10.216.1.10"
    assert data["router"]["address"] == "10.216.1.129"
    assert data["plan"]["prefix"] == "10.216.1.0/24"
    assert data["router"]["password"] == "secret:routers/admin"  # a reference, never a value
    assert data["app"]["kind"] == "opaque" and data["uplink"]["kind"] == "fibre"


def test_show_text(inv: Inv):
    r = desa("show", "sumberjaya", "-i", str(inv.root))
    assert r.exit_code == 0
    for text in ("Sumberjaya", "32.16.06.2010", "10.216.2.0/24", "srv-sumberjaya", "10.216.2.10", "NAT only"):
        assert text in r.stdout


def test_show_unknown_exits_2_and_broken_exits_1(inv: Inv):
    assert desa("show", "setiadarma", "-i", str(inv.root)).exit_code == 2
    inv.replace("karangmukti", "slot: 4", "slot: 3")
    assert desa("show", "lambangsari", "-i", str(inv.root)).exit_code == 1


# --- new ---------------------------------------------------------------------------------------------

def test_new_writes_a_site_with_the_lowest_free_slot(inv: Inv):
    r = desa("new", "32.16.06.2005", "-i", str(inv.root))
    assert r.exit_code == 0, r.output
    path = inv.path("setiadarma")
    data = yamlfile.load(path)
    assert (data["kode"], data["name"], data["kecamatan"], data["slot"]) == \
        ("32.16.06.2005", "Setiadarma", "Tambun Selatan", 5)
    assert "10.216.5.0/24" in r.stdout and "srv-setiadarma at 10.216.5.10" in r.stdout
    # Placeholders are listed with their line, and the inventory refuses them until filled in.
    line = inv.line_of("setiadarma", 'name: "TODO')
    assert f"{path}:{line}: operator.name" in r.stdout
    v = desa("validate", "--all", "-i", str(inv.root), "--json")
    assert v.exit_code == 1
    fields = sorted(p["field"] for p in json.loads(v.stdout)["problems"])
    assert fields == ["operator.name", "operator.role", "vpn.public_key", "vpn.server_public_key"]


def test_new_site_validates_once_filled_in(inv: Inv):
    assert desa("new", "32.16.06.2005", "-i", str(inv.root)).exit_code == 0
    text = inv.path("setiadarma").read_text()
    lines = []
    for line in text.splitlines():
        if "name: \"TODO" in line:
            line = "  name: Rudi Hartono"
        elif "role: \"TODO" in line:
            line = "  role: Kaur Perencanaan"
        elif "server_public_key: \"TODO" in line:
            line = "  server_public_key: " + "S" * 42 + "A="
        elif "public_key: \"TODO" in line:
            line = "  public_key: " + "R" * 42 + "A="
        lines.append(line)
    inv.path("setiadarma").write_text("\n".join(lines) + "\n")
    r = desa("show", "setiadarma", "-i", str(inv.root), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["slot"], data["server"]["address"], data["router"]["identity"]) == (5, "10.216.5.10", "setiadarma-gw")
    assert desa("validate", "--all", "-i", str(inv.root)).exit_code == 0


def test_new_generates_wireguard_keys_into_the_lab_store(inv: Inv, monkeypatch, tmp_path):
    from desa import secrets

    monkeypatch.setenv("DESA_SECRETS", "lab")
    r = desa("new", "32.16.06.2005", "-i", str(inv.root), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["keys_generated"] is True
    assert sorted(t["field"] for t in data["todo"]) == ["operator.name", "operator.role"]
    site = yamlfile.load(inv.path("setiadarma"))
    for public, ref in ((site["vpn"]["public_key"], site["vpn"]["private_key"]),
                        (site["vpn"]["server_public_key"], site["vpn"]["server_private_key"])):
        stored = tmp_path / "lab-secrets" / secrets.name_of(ref)
        assert oct(stored.stat().st_mode & 0o777) == "0o600"
        assert secrets.public_from_private(stored.read_text().strip()) == public
        assert stored.read_text().strip() not in inv.path("setiadarma").read_text()  # never the private key
    assert site["vpn"]["public_key"] != site["vpn"]["server_public_key"]


def test_new_without_a_usable_store_leaves_key_placeholders(inv: Inv):
    # The autouse fixture gives the age backend no identity and no recipients.
    r = desa("new", "32.16.06.2005", "-i", str(inv.root), "--json")
    data = json.loads(r.stdout)
    assert data["keys_generated"] is False and "recipients.txt" in data["keys"]
    assert "vpn.public_key" in [t["field"] for t in data["todo"]]
    assert not (inv.root / "bekasi" / "secrets.age").exists()


def test_new_no_keys_touches_no_store(inv: Inv, monkeypatch, tmp_path):
    monkeypatch.setenv("DESA_SECRETS", "lab")
    r = desa("new", "32.16.06.2005", "-i", str(inv.root), "--no-keys", "--json")
    assert json.loads(r.stdout)["keys_generated"] is False
    assert not (tmp_path / "lab-secrets").exists()


def test_new_json_and_a_second_site_while_the_first_is_unfinished(inv: Inv):
    assert desa("new", "32.16.06.2005", "-i", str(inv.root)).exit_code == 0
    r = desa("new", "32.16.10.2001", "-i", str(inv.root), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["slug"], data["slot"], data["plan"]["prefix"]) == ("sukaraya", 6, "10.216.6.0/24")
    assert data["server"]["address"] == "10.216.6.10"
    assert len(data["todo"]) == 4 and all(t["line"] for t in data["todo"])


def test_new_fills_a_gap_first(inv: Inv):
    inv.path("sumberjaya").unlink()  # slot 2 is free again
    assert json.loads(desa("new", "32.16.06.2005", "-i", str(inv.root), "--json").stdout)["slot"] == 2


def test_new_with_a_chosen_slot(inv: Inv):
    r = desa("new", "32.16.06.2005", "-i", str(inv.root), "--slot", "40", "--json")
    assert json.loads(r.stdout)["plan"]["prefix"] == "10.216.40.0/24"
    assert desa("new", "32.16.06.2006", "-i", str(inv.root), "--slot", "40").exit_code == 2
    assert desa("new", "32.16.06.2006", "-i", str(inv.root), "--slot", "256").exit_code == 2


@pytest.mark.parametrize("kode, text", [
    ("32.16.06.2002", "already has a site file"),
    ("32.16.06.1001", "is a kelurahan"),
    ("32.16.06.2999", "not in the kode wilayah list"),
    ("32.16.06", "not a village kode"),
    ("lambangsari", "not a village kode"),
    ("32.15.02.2001", "Kabupaten Karawang (32.15), which has no regency.yaml"),
])
def test_new_refusals_exit_2_and_write_nothing(inv: Inv, kode: str, text: str):
    before = sorted(p.name for p in (inv.root / "bekasi" / "sites").iterdir())
    r = desa("new", kode, "-i", str(inv.root))
    flat = " ".join(r.output.replace("│", " ").split())  # the error box wraps lines
    assert r.exit_code == 2 and text in flat, r.output
    assert sorted(p.name for p in (inv.root / "bekasi" / "sites").iterdir()) == before


def test_new_refuses_on_a_broken_inventory(inv: Inv):
    inv.replace("karangmukti", "slot: 4", "slot: 3")
    r = desa("new", "32.16.06.2005", "-i", str(inv.root))
    assert r.exit_code == 1 and "karangmukti.yaml" in r.stderr
    assert not inv.path("setiadarma").exists()


def test_new_refuses_when_the_pool_is_full(inv: Inv):
    inv.replace("regency", "routed: 10.216.0.0/16", "routed: 10.216.0.0/22")  # 4 slots: 0–3
    inv.path("karangmukti").unlink()  # its slot 4 no longer fits
    r = desa("new", "32.16.06.2005", "-i", str(inv.root))
    assert r.exit_code == 2 and "are full" in r.output
    assert desa("new", "32.16.06.2005", "-i", str(inv.root), "--slot", "0").exit_code == 0


def test_new_same_name_in_another_kecamatan_gets_a_longer_slug(inv: Inv):
    # Sukaraya exists in Karang Bahagia (32.16.10.2001); pretend an existing site took the slug.
    (inv.root / "bekasi" / "sites" / "sukaraya.yaml").write_text(
        inv.path("karangmukti").read_text().replace("slug: karangmukti", "slug: sukaraya"))
    inv.path("karangmukti").unlink()
    r = desa("new", "32.16.10.2001", "-i", str(inv.root), "--json")
    # the copied file is karangmukti's (kode 32.16.10.2008, slot 4): only the slug clashes.
    assert json.loads(r.stdout)["slug"] == "sukaraya-karang-bahagia"


# --- schema ------------------------------------------------------------------------------------------

def test_schema_validates_the_pilots_and_catches_typos(inv: Inv, tmp_path):
    out = tmp_path / "site.schema.json"
    assert desa("schema", "site", "--out", str(out)).exit_code == 0
    site_schema = json.loads(out.read_text())
    regency_schema = json.loads(desa("schema", "regency").stdout)
    for path in sorted((BEKASI / "sites").glob("*.yaml")):
        jsonschema.validate(yamlfile.load(path), site_schema)
    jsonschema.validate(yamlfile.load(BEKASI / "regency.yaml"), regency_schema)

    bad = yamlfile.load(BEKASI / "sites" / "lambangsari.yaml") | {"kecamtan": "x"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, site_schema)
    bad = yamlfile.load(BEKASI / "sites" / "lambangsari.yaml") | {"network": {"vlans": {"office": {"id": 5000}}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, site_schema)
    bad = yamlfile.load(BEKASI / "regency.yaml")
    bad["defaults"]["uplink"]["kind"] = "carrier-pigeon"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, regency_schema)


def test_schema_all_accepts_either_file_and_rejects_garbage():
    schema = json.loads(desa("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yamlfile.load(BEKASI / "regency.yaml"), schema)
    jsonschema.validate(yamlfile.load(BEKASI / "sites" / "sumberjaya.yaml"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kode": "32.16"}, schema)


def test_schema_unknown_kind_exits_2():
    assert desa("schema", "router").exit_code == 2
