"""Values YAML reads differently from what the engineer meant are refused, naming file:line and field."""

from __future__ import annotations

import pytest

from desa.scaffold import slugify

from .conftest import Inv, find


@pytest.mark.parametrize("yaml_value, field, text", [
    # An address written as a number: 167772161 would silently become 10.0.0.1.
    ("dns_servers: [167772161]", "network.dns_servers[0]", "string address"),
    ("dns_servers: [true]", "network.dns_servers[0]", "string address"),
    ("dns_servers: [[\"1.1.1.1\", 32]]", "network.dns_servers[0]", "one string address"),
    # Numbers written as booleans or strings: `yes` would silently become 1.0.
    ("hotspot: {total_share: true}", "network.hotspot.total_share", "must be a number"),
    ("hotspot: {total_share: \"0.5\"}", "network.hotspot.total_share", "must be a number"),
    ("allow: [{src: office, dst: internet, ports: [true]}]", "network.allow[0].ports[0]", "valid integer"),
    ("allow: [{src: office, dst: internet, ports: [\"80\"]}]", "network.allow[0].ports[0]", "valid integer"),
    ("allow: [{src: office, dst: internet, ports: [80.5]}]", "network.allow[0].ports[0]", "valid integer"),
])
def test_network_values_refused(inv: Inv, yaml_value: str, field: str, text: str):
    line = inv.append("lambangsari", f"network:\n  {yaml_value}\n")
    find(inv.problems(), inv.path("lambangsari"), line + 1, field, text)


@pytest.mark.parametrize("yaml_value, field, text", [
    ("uplink:\n  bandwidth: {down_mbps: yes, up_mbps: 5}", "uplink.bandwidth.down_mbps", "must be a number"),
    ("uplink:\n  bandwidth: {down_mbps: \"20\", up_mbps: 5}", "uplink.bandwidth.down_mbps", "must be a number"),
    ("uplink:\n  latency_ms: 20.5", "uplink.latency_ms", "valid integer"),
    ("uplink:\n  addressing: static\n  address: 3221225994\n  gateway: \"192.0.2.1\"", "uplink.address",
     "string address"),
    ("coordinates: {lat: true, lon: 107}", "coordinates.lat", "must be a number"),
    ("coordinates: {lat: -6.2, lon: 7}", "coordinates.lon", "greater than or equal to 94.5"),
    ("coordinates: {lat: .nan, lon: 107}", "coordinates.lat", "less than or equal to 6.5"),
    ("devices:\n  router:\n    routeros: 7.20", "devices.router.routeros", "YAML read a number (7.2); put the value in quotes"),
    ("devices:\n  router:\n    model: \"\"", "devices.router.model", "at least 1 character"),
])
def test_site_values_refused(inv: Inv, yaml_value: str, field: str, text: str):
    inv.replace("lambangsari", "coordinates: {lat: -6.2480, lon: 107.0600}\n", "")
    line = inv.append("lambangsari", yaml_value + "\n")
    first_line = line + (0 if yaml_value.startswith("coordinates") else 1)
    if yaml_value.count("\n") >= 2:
        first_line = line + yaml_value.split("\n").index(next(l for l in yaml_value.split("\n") if
                                                               l.strip().startswith(field.split(".")[-1] + ":")))
    find(inv.problems(), inv.path("lambangsari"), first_line, field, text)


@pytest.mark.parametrize("yaml_value, field, text", [
    ("address: 174391562", "server.address", "string address"),
    ("ssh_port: \"22\"", "server.ssh_port", "valid integer"),
    ("backup_retention_days: 30.0", "server.backup_retention_days", "valid integer"),
])
def test_server_values_refused(inv: Inv, yaml_value: str, field: str, text: str):
    line = inv.replace("lambangsari", "server:\n  technicians:", f"server:\n  {yaml_value}\n  technicians:") + 1
    find(inv.problems(), inv.path("lambangsari"), line, field, text)


def test_kode_as_a_number_is_explained(inv: Inv):
    line = inv.replace("regency", 'kode: "32.16"', "kode: 32.10")
    find(inv.problems(), inv.path("regency"), line, "kode", "YAML read a number (32.1); put the value in quotes")


def test_hub_network_as_a_number(inv: Inv):
    line = inv.replace("regency", "networks: [10.99.0.0/24]", "networks: [174260224]")
    find(inv.problems(), inv.path("regency"), line, "hub.networks[0]", "string address")


def test_pool_with_host_bits(inv: Inv):
    line = inv.replace("regency", "routed: 10.216.0.0/16", "routed: 10.216.1.0/16")
    find(inv.problems(), inv.path("regency"), line, "pools.routed", "not a valid IPv4 network")


def test_quoted_addresses_and_integer_bandwidths_still_accepted(inv: Inv):
    inv.append("lambangsari", "uplink:\n  bandwidth: {down_mbps: 100, up_mbps: 2.5}\n"
                              "network:\n  dns_servers: [\"9.9.9.9\", 1.0.0.1]\n")
    site = inv.load().site("lambangsari").site
    assert (site.uplink.bandwidth.down_mbps, site.uplink.bandwidth.up_mbps) == (100.0, 2.5)
    assert [str(a) for a in site.network.dns_servers] == ["9.9.9.9", "1.0.0.1"]


@pytest.mark.parametrize("name, slug", [
    ("Setiadarma", "setiadarma"),
    ("Tridaya Sakti", "tridaya-sakti"),
    ("Karang  Bahagia ", "karang-bahagia"),
    ("Sungai Raya (Hilir)", "sungai-raya-hilir"),
    ("Ujung'Alang", "ujung-alang"),
    ("Pëmatang Ñ", "pematang-n"),
    ("1 Ilir", "desa-1-ilir"),
    ("X" * 60, "x" * 41),
])
def test_slugify(name: str, slug: str):
    assert slugify(name) == slug
