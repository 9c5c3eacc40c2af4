"""Every validation rule, each with a broken copy of the Bekasi inventory (one change): the problem
must name the file, the line and the field path, and nothing loads from a broken inventory."""

from __future__ import annotations

import base64

import pytest

from desa import inventory
from desa.errors import InventoryError

from .conftest import Inv, find

LAMBANGSARI_ROUTER_KEY = "lZRvmRbUHi2ccCl/at6pcH4FasZ8Xmr7+XFlVLyBv2A="


def wg_key(n: int) -> str:
    """A well-formed WireGuard key, distinct per n."""
    return base64.b64encode(bytes([n]) * 32).decode()


def test_pilots_are_valid(inv: Inv):
    loaded = inv.load()
    assert sorted(loaded.sites) == ["karangbahagia", "karangmukti", "lambangsari", "sumberjaya"]
    assert [s.kode for s in loaded.sites.values()] == ["32.16.10.2005", "32.16.10.2008", "32.16.06.2002",
                                                       "32.16.06.2010"]


# --- kode wilayah -------------------------------------------------------------------------------

def test_kode_not_in_the_list(inv: Inv):
    line = inv.replace("lambangsari", 'kode: "32.16.06.2002"', 'kode: "32.16.06.2999"')
    find(inv.problems(), inv.path("lambangsari"), line, "kode", "not a village code in the kode wilayah list")


def test_kode_of_a_kecamatan_is_refused(inv: Inv):
    line = inv.replace("lambangsari", 'kode: "32.16.06.2002"', 'kode: "32.16.06"')
    find(inv.problems(), inv.path("lambangsari"), line, "kode", "should match pattern")


def test_name_must_match_the_kode(inv: Inv):
    line = inv.replace("lambangsari", "name: Lambangsari", "name: Lambangjaya")
    find(inv.problems(), inv.path("lambangsari"), line, "name", "which is 'Lambangsari'")


def test_name_compare_ignores_case_and_desa_prefix(inv: Inv):
    inv.replace("lambangsari", "name: Lambangsari", "name: Desa LAMBANGSARI")
    assert "lambangsari" in inv.load().sites


def test_kecamatan_must_match_the_kode(inv: Inv):
    line = inv.replace("lambangsari", "kecamatan: Tambun Selatan", "kecamatan: Karang Bahagia")
    find(inv.problems(), inv.path("lambangsari"), line, "kecamatan", "whose kecamatan is 'Tambun Selatan'")


def test_kode_of_another_regency(inv: Inv):
    line = inv.replace("lambangsari", 'kode: "32.16.06.2002"', 'kode: "32.15.02.2001"')
    inv.replace("lambangsari", "name: Lambangsari", "name: Ciptasari")
    inv.replace("lambangsari", "kecamatan: Tambun Selatan", "kecamatan: Pangkalan")
    find(inv.problems(), inv.path("lambangsari"), line, "kode", "is not in Kabupaten Bekasi (32.16)")


def test_two_sites_with_one_kode(inv: Inv):
    line = inv.replace("sumberjaya", 'kode: "32.16.06.2010"', 'kode: "32.16.06.2002"')
    inv.replace("sumberjaya", "name: Sumberjaya", "name: Lambangsari")
    find(inv.problems(), inv.path("sumberjaya"), line, "kode", "already used by lambangsari.yaml")


# --- routed prefixes never overlap ---------------------------------------------------------------

def test_two_sites_in_one_slot(inv: Inv):
    line = inv.replace("sumberjaya", "slot: 2", "slot: 1")
    problems = inv.problems()
    find(problems, inv.path("sumberjaya"), line, "slot", "already used by lambangsari.yaml")
    find(problems, inv.path("sumberjaya"), line, "slot", "routed prefix 10.216.1.0/24 overlaps 10.216.1.0/24")


def test_slot_outside_the_pool(inv: Inv):
    line = inv.replace("sumberjaya", "slot: 2", "slot: 256")
    find(inv.problems(), inv.path("sumberjaya"), line, "slot", "outside the routed pool 10.216.0.0/16")


def _second_regency(inv: Inv, routed: str, vpn: str) -> None:
    """Kabupaten Karawang with one desa, its pools given."""
    karawang = inv.root / "karawang"
    (karawang / "sites").mkdir(parents=True)
    text = inv.path("regency").read_text()
    text = (text.replace('kode: "32.16"', 'kode: "32.15"').replace("slug: bekasi", "slug: karawang")
            .replace("name: Kabupaten Bekasi", "name: Kabupaten Karawang")
            .replace("routed: 10.216.0.0/16", f"routed: {routed}").replace("vpn: 10.215.0.0/20", f"vpn: {vpn}")
            .replace("name: hub-bekasi", "name: hub-karawang")
            .replace("zDQ4FmMQ7nVaZ7DCCc/jC8/pn3AiOTc+DnEIDyVDbQk=", wg_key(1))
            .replace("secret:hub/wireguard", "secret:hub/karawang"))
    (karawang / "regency.yaml").write_text(text)
    site = inv.path("lambangsari").read_text()
    site = (site.replace('kode: "32.16.06.2002"', 'kode: "32.15.02.2001"').replace("slug: lambangsari", "slug: ciptasari")
            .replace("name: Lambangsari", "name: Ciptasari").replace("kecamatan: Tambun Selatan", "kecamatan: Pangkalan")
            .replace(LAMBANGSARI_ROUTER_KEY, wg_key(2))
            .replace("FUCS2oUELVQjYtkKpPNpCd4JXQL5FJVXofdoHgfpETw=", wg_key(3)))
    (karawang / "sites" / "ciptasari.yaml").write_text(site)


def test_routed_prefixes_overlap_across_regencies(inv: Inv):
    # Karawang's routed pool is carved from Bekasi's: its slot 1 is Bekasi's 10.216.1.0/24.
    _second_regency(inv, routed="10.216.0.0/17", vpn="10.214.0.0/20")
    path = inv.root / "karawang" / "sites" / "ciptasari.yaml"
    problems = inv.problems()
    p = find(problems, path, 5, "slot", "overlaps 10.216.1.0/24")
    assert "lambangsari.yaml" in p.message


def test_vpn_addresses_overlap_across_regencies(inv: Inv):
    # Separate routed pools but the same tunnel pool: the tunnel addresses clash.
    _second_regency(inv, routed="10.217.0.0/16", vpn="10.215.0.0/20")
    path = inv.root / "karawang" / "sites" / "ciptasari.yaml"
    find(inv.problems(), path, 5, "slot", "routed prefix 10.215.0.4/32 overlaps")


def test_two_regencies_with_one_hub_key_or_kode(inv: Inv):
    _second_regency(inv, routed="10.217.0.0/16", vpn="10.214.0.0/20")
    path = inv.root / "karawang" / "regency.yaml"
    text = path.read_text()
    path.write_text(text.replace(wg_key(1), "zDQ4FmMQ7nVaZ7DCCc/jC8/pn3AiOTc+DnEIDyVDbQk="))
    line = inv.line_of("regency", "public_key:")
    find(inv.problems(), path, line, "hub.public_key", "already used by bekasi/regency.yaml")
    path.write_text(text.replace('kode: "32.15"', 'kode: "32.16"'))
    find(inv.problems(), path, 2, "kode", "already used by bekasi/regency.yaml")


def test_disjoint_second_regency_is_valid(inv: Inv):
    _second_regency(inv, routed="10.217.0.0/16", vpn="10.214.0.0/20")
    loaded = inv.load()
    assert loaded.site("ciptasari").plan.prefix.compressed == "10.217.1.0/24"
    assert sorted(loaded.regencies) == ["bekasi", "karawang"]


# --- static addresses inside their subnets, outside DHCP pools -----------------------------------

@pytest.mark.parametrize("address, text", [
    ("10.216.2.10", "outside the office subnet 10.216.1.0/25"),
    ("10.216.1.1", "is the office gateway"),
    ("10.216.1.100", "inside the office DHCP pool 10.216.1.64–10.216.1.126"),
    ("10.216.1.0", "network or broadcast address"),
])
def test_server_address(inv: Inv, address: str, text: str):
    line = inv.replace("lambangsari", "server:\n  technicians:", f'server:\n  address: "{address}"\n  technicians:') + 1
    find(inv.problems(), inv.path("lambangsari"), line, "server.address", text)


def test_server_address_allowed_in_static_part(inv: Inv):
    inv.replace("lambangsari", "server:\n  technicians:", 'server:\n  address: "10.216.1.20"\n  technicians:')
    assert str(inv.load().site("lambangsari").server.address) == "10.216.1.20"


def test_switch_address_outside_management(inv: Inv):
    line = inv.append("lambangsari", "devices:\n  router: {password: secret:routers/admin}\n  switches:\n"
                      "    - {model: C1000, name: sw1, management_address: \"10.216.1.20\", password: secret:sw}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 3, "devices.switches[0].management_address",
         "outside the management subnet 10.216.1.128/27")


def test_two_devices_one_address(inv: Inv):
    line = inv.append("lambangsari", "devices:\n  router: {password: secret:routers/admin}\n  access_points:\n"
                      "    - {vendor: ubiquiti, model: U6, name: ap1, management_address: \"10.216.1.140\"}\n"
                      "    - {vendor: ubiquiti, model: U6, name: ap2, management_address: \"10.216.1.140\"}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 4, "devices.access_points[1].management_address",
         "already used by devices.access_points[0].management_address")


def test_static_uplink_gateway_outside_its_network(inv: Inv):
    line = inv.append("lambangsari", "uplink:\n  addressing: static\n  address: 192.0.2.10/29\n"
                      "  gateway: \"192.0.3.1\"\n")
    find(inv.problems(), inv.path("lambangsari"), line, "uplink", "gateway 192.0.3.1 is outside 192.0.2.8/29")


# --- VLANs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("vlan", [0, 4095])
def test_vlan_id_range(inv: Inv, vlan: int):
    line = inv.append("lambangsari", f"network:\n  vlans:\n    cctv: {{id: {vlan}}}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 2, "network.vlans.cctv.id", "4094" if vlan else "1")


def test_vlan_ids_unique_per_site(inv: Inv):
    line = inv.append("lambangsari", "network:\n  vlans:\n    cctv: {id: 10}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 1, "network.vlans", "VLAN IDs must be unique per site; repeated: [10]")


def test_vlan_ids_may_repeat_across_sites(inv: Inv):
    inv.append("lambangsari", "network:\n  vlans:\n    cctv: {id: 31}\n")
    inv.append("sumberjaya", "network:\n  vlans:\n    cctv: {id: 31}\n")
    assert inv.load().site("sumberjaya").segment("cctv").vlan_id == 31


def test_vlan_id_bool_refused(inv: Inv):
    line = inv.append("lambangsari", "network:\n  vlans:\n    cctv: {id: true}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 2, "network.vlans.cctv.id", "valid integer")


# --- WireGuard keys and addresses unique -----------------------------------------------------------

def test_wireguard_key_reused_by_another_site(inv: Inv):
    line = inv.replace("sumberjaya", "gEFeitcqLfRcIKGSInTqlVqR8Crh52aBEncuPcgy8EQ=", LAMBANGSARI_ROUTER_KEY)
    find(inv.problems(), inv.path("sumberjaya"), line, "vpn.public_key",
         "already used by lambangsari.yaml vpn.public_key")


def test_wireguard_key_of_the_hub_reused(inv: Inv):
    line = inv.replace("sumberjaya", "6/X/Pbg+cecEj4IEp0imiipNbHG2TaodZXLpf8tAAkU=",
                       "zDQ4FmMQ7nVaZ7DCCc/jC8/pn3AiOTc+DnEIDyVDbQk=")
    find(inv.problems(), inv.path("sumberjaya"), line, "vpn.server_public_key", "already used by hub hub-bekasi")


def test_wireguard_router_and_server_share_a_key(inv: Inv):
    line = inv.replace("sumberjaya", "6/X/Pbg+cecEj4IEp0imiipNbHG2TaodZXLpf8tAAkU=",
                       "gEFeitcqLfRcIKGSInTqlVqR8Crh52aBEncuPcgy8EQ=")
    find(inv.problems(), inv.path("sumberjaya"), line, "vpn.server_public_key", "sumberjaya.yaml vpn.public_key")


def test_wireguard_key_malformed(inv: Inv):
    line = inv.replace("sumberjaya", "gEFeitcqLfRcIKGSInTqlVqR8Crh52aBEncuPcgy8EQ=", "not-a-key")
    find(inv.problems(), inv.path("sumberjaya"), line, "vpn.public_key", "should match pattern")


# --- router identity safe for SSH prompts -----------------------------------------------------------

@pytest.mark.parametrize("identity", ["lambang sari", "gw.lambangsari", "[gw]", "gw>", "-gw", "gw@desa"])
def test_router_identity_unsafe_for_the_prompt(inv: Inv, identity: str):
    line = inv.append("lambangsari", f"devices:\n  router:\n    identity: \"{identity}\"\n")
    find(inv.problems(), inv.path("lambangsari"), line + 2, "devices.router.identity", "should match pattern")


def test_router_identity_unique(inv: Inv):
    line = inv.append("sumberjaya", "devices:\n  router:\n    identity: lambangsari-gw\n")
    find(inv.problems(), inv.path("sumberjaya"), line + 2, "devices.router.identity",
         "lambangsari-gw is already used by lambangsari.yaml")


# --- plain-text secrets --------------------------------------------------------------------------

def test_plain_router_password_in_a_site(inv: Inv):
    line = inv.append("lambangsari", "devices:\n  router:\n    password: hunter2\n")
    p = find(inv.problems(), inv.path("lambangsari"), line + 2, "devices.router.password", "plain-text secrets")
    assert "hunter2" not in str(p)


def test_plain_router_password_inherited_from_the_regency(inv: Inv):
    line = inv.replace("regency", "password: secret:routers/admin", "password: hunter2")
    problems = inv.problems()
    for slug in ("lambangsari", "sumberjaya", "karangbahagia", "karangmukti"):
        find(problems, inv.path("regency"), line, "defaults.devices.router.password", f"(inherited by {slug}.yaml)")
    assert all("hunter2" not in str(p) for p in problems)


def test_plain_wireguard_private_key(inv: Inv):
    line = inv.replace("sumberjaya", "private_key: secret:sites/sumberjaya/wireguard",
                       "private_key: yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=")
    find(inv.problems(), inv.path("sumberjaya"), line, "vpn.private_key", "plain-text secrets")


def test_plain_pppoe_password(inv: Inv):
    line = inv.append("lambangsari", "uplink:\n  addressing: pppoe\n  pppoe_user: desa@isp\n  pppoe_password: rahasia\n")
    find(inv.problems(), inv.path("lambangsari"), line + 3, "uplink.pppoe_password", "plain-text secrets")


def test_plain_hub_private_key(inv: Inv):
    line = inv.replace("regency", "private_key: secret:hub/wireguard", "private_key: hunter2hunter2")
    find(inv.problems(), inv.path("regency"), line, "hub.private_key", "plain-text secrets")


# --- the whole inventory or nothing ----------------------------------------------------------------

def test_problems_from_several_files_reported_together(inv: Inv):
    l1 = inv.replace("lambangsari", "name: Lambangsari", "name: Lambangjaya")
    l2 = inv.replace("karangmukti", "slot: 4", "slot: 3")
    problems = inv.problems()
    find(problems, inv.path("lambangsari"), l1, "name", "does not match")
    find(problems, inv.path("karangmukti"), l2, "slot", "already used by karangbahagia.yaml")


def test_unknown_field_names_its_line(inv: Inv):
    line = inv.replace("lambangsari", "kecamatan: Tambun Selatan", "kecamatan: Tambun Selatan\nkecamtan: x") + 1
    find(inv.problems(), inv.path("lambangsari"), line, "kecamtan", "unknown field")


def test_site_slug_must_match_file_name(inv: Inv):
    line = inv.replace("lambangsari", "slug: lambangsari", "slug: lambang")
    find(inv.problems(), inv.path("lambangsari"), line, "slug", "must match the file name 'lambangsari'")


def test_missing_inventory_is_a_usage_error(tmp_path):
    from desa.errors import UsageError
    with pytest.raises(UsageError):
        inventory.load(tmp_path / "nothing")
    with pytest.raises(UsageError, match="no regency"):
        inventory.load(tmp_path)


def test_broken_inventory_loads_no_site(inv: Inv):
    inv.replace("karangmukti", "slot: 4", "slot: 3")
    with pytest.raises(InventoryError) as info:
        inv.load()
    assert info.value.exit_code == 1


def test_real_inventory_untouched_by_these_tests():
    # The tests copy; the project's inventory must still be valid afterwards.
    assert len(inventory.load(inventory.PROJECT_ROOT / "inventory").sites) == 4
