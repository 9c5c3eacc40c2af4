"""The source of truth as typed models: a regency (kabupaten) and its sites (desa).

These models describe what an engineer writes in `inventory/`. They hold no derived data:
addresses that follow from the regency pools live in `desa.intent`. Every secret is a
reference (`secret:NAME`), never a value; `desa.secrets` resolves references at deploy time.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

SLUG_RE = r"^[a-z][a-z0-9-]{1,40}$"
KODE_DESA_RE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
KODE_REGENCY_RE = r"^\d{2}\.\d{2}$"

# Characters that break a RouterOS prompt (`[admin@identity] > `) or need quoting in its CLI.
IDENTITY_RE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"

SECRET_REF_RE = re.compile(r"^secret:[a-z0-9][a-z0-9_./-]*$")


def _secret_ref(value: object) -> str:
    if not isinstance(value, str) or not SECRET_REF_RE.match(value):
        raise ValueError(
            "must be a secret reference like 'secret:routers/lambangsari/admin' "
            "(plain-text secrets are not allowed in the inventory; store the value with "
            "`desa secrets set NAME`)"
        )
    return value


SecretRef = Annotated[str, AfterValidator(_secret_ref)]


def _address_text(value: object) -> object:
    # pydantic would turn an int into an address (167772161 → 10.0.0.1, `true` → 0.0.0.1) and a
    # [address, prefix] pair into a network: a YAML slip, not what anyone meant. Only text is read.
    if isinstance(value, (bool, int, float)):
        raise ValueError("must be written as a string address (quote it), not a number")
    if isinstance(value, (list, tuple, dict)):
        raise ValueError("must be written as one string address like '10.0.0.1' or '10.0.0.0/24'")
    return value


def _number(value: object) -> object:
    # pydantic's lax floats read `true` as 1.0 and "5" as 5.0: a YAML slip, refused.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number (unquoted, like 10 or 2.5)")
    return value


IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(_address_text), Field(json_schema_extra={"format": "ipv4"})]
IPv4Net = Annotated[ipaddress.IPv4Network, BeforeValidator(_address_text)]
IPv4If = Annotated[ipaddress.IPv4Interface, BeforeValidator(_address_text)]
Number = Annotated[float, BeforeValidator(_number)]


class Model(BaseModel):
    """Inventory models reject unknown keys (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Contact(Model):
    name: str = Field(min_length=2)
    role: str = Field(min_length=2, description="Role in the village, e.g. 'Kaur Perencanaan'")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{6,20}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Coordinates(Model):
    lat: Number = Field(ge=-11.5, le=6.5, description="Latitude (Indonesia spans about 6°N–11°S)")
    lon: Number = Field(ge=94.5, le=141.5, description="Longitude (Indonesia spans about 95°E–141°E)")


class Person(Model):
    """Someone who logs in to village servers."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="Unix user name")
    full_name: str | None = None
    ssh_keys: list[str] = Field(min_length=1)
    sudo: StrictBool = False

    @field_validator("ssh_keys")
    @classmethod
    def _public_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.match(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]{40,}( .*)?$", key):
                raise ValueError("each entry must be an OpenSSH public key ('ssh-ed25519 AAAA… comment')")
            if "PRIVATE KEY" in key:
                raise ValueError("a private key is not allowed here")
        return keys


class Bandwidth(Model):
    down_mbps: Number = Field(gt=0, le=100000)
    up_mbps: Number = Field(gt=0, le=100000)


class Uplink(Model):
    kind: Literal["fibre", "lte", "satellite"]
    addressing: Literal["dhcp", "static", "pppoe"] = "dhcp"
    provider: str | None = None
    bandwidth: Bandwidth
    latency_ms: StrictInt = Field(default=20, ge=0, le=5000, description="Typical round-trip time")
    address: IPv4If | None = Field(default=None, description="Static: address/prefix")
    gateway: IPv4 | None = None
    pppoe_user: str | None = None
    pppoe_password: SecretRef | None = None

    @model_validator(mode="after")
    def _addressing_fields(self) -> Uplink:
        if self.addressing == "static" and (self.address is None or self.gateway is None):
            raise ValueError("static addressing needs 'address' and 'gateway'")
        if self.addressing == "static" and self.gateway not in self.address.network:
            raise ValueError(f"gateway {self.gateway} is outside {self.address.network}")
        if self.addressing == "pppoe" and (self.pppoe_user is None or self.pppoe_password is None):
            raise ValueError("pppoe addressing needs 'pppoe_user' and 'pppoe_password'")
        return self


SegmentName = Literal["office", "hotspot", "cctv", "management"]


class Vlan(Model):
    id: StrictInt = Field(ge=1, le=4094)
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,14}$")
    dhcp: StrictBool = True


class HotspotProfile(Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    rate_down_mbps: Number = Field(gt=0, le=1000)
    rate_up_mbps: Number = Field(gt=0, le=1000)
    session_timeout_hours: StrictInt | None = Field(default=None, ge=1, le=720)
    shared_users: StrictInt = Field(default=1, ge=1, le=100)


class Hotspot(Model):
    enabled: StrictBool = True
    dns_name: str = Field(default="login.wifi.desa", pattern=r"^[a-z0-9.-]+$")
    profiles: list[HotspotProfile] = Field(default_factory=list)
    walled_garden: list[str] = Field(
        default_factory=list, description="Hosts reachable before login (the village's own site)"
    )
    total_share: Number = Field(
        default=0.6, gt=0, le=1, description="Share of the uplink the hotspot may use as a whole"
    )

    @field_validator("profiles")
    @classmethod
    def _unique_profiles(cls, profiles: list[HotspotProfile]) -> list[HotspotProfile]:
        names = [p.name for p in profiles]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"profile names must be unique: {sorted(dup)}")
        return profiles


class FirewallRule(Model):
    """Traffic allowed from one segment to another (everything else between segments is dropped)."""

    src: Literal["office", "hotspot", "cctv", "management", "vpn"]
    dst: Literal["office", "hotspot", "cctv", "management", "vpn", "internet", "server"]
    ports: list[Annotated[StrictInt, Field(ge=1, le=65535)]] = Field(default_factory=list,
                                                                     description="TCP ports; empty = all")
    comment: str | None = None


class Network(Model):
    vlans: dict[SegmentName, Vlan]
    hotspot: Hotspot = Hotspot()
    allow: list[FirewallRule] = Field(default_factory=list)
    dns_servers: list[IPv4] = Field(default_factory=lambda: [ipaddress.IPv4Address("1.1.1.1")])
    ntp_servers: list[str] = Field(default_factory=lambda: ["id.pool.ntp.org"])

    @field_validator("vlans")
    @classmethod
    def _vlans(cls, vlans: dict[str, Vlan]) -> dict[str, Vlan]:
        missing = {"office", "hotspot", "cctv", "management"} - set(vlans)
        if missing:
            raise ValueError(f"missing VLAN segments: {sorted(missing)}")
        ids = [v.id for v in vlans.values()]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"VLAN IDs must be unique per site; repeated: {dup}")
        return vlans


class Router(Model):
    vendor: Literal["mikrotik"] = "mikrotik"
    model: str = Field(min_length=1)
    routeros: str = Field(pattern=r"^7\.\d+(\.\d+)?$", description="RouterOS version (v7 only)")
    identity: str | None = Field(
        default=None, pattern=IDENTITY_RE,
        description="Defaults to SLUG-gw; no spaces, dots or brackets (they break the SSH prompt)",
    )
    management_address: IPv4 | None = Field(default=None, description="Defaults from the address plan")
    ssh_port: StrictInt = Field(default=22, ge=1, le=65535)
    username: str = Field(default="desa", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    password: SecretRef
    wan_interface: str = Field(default="ether1", pattern=r"^[a-z0-9-]+$")
    trunk_interface: str = Field(default="ether2", pattern=r"^[a-z0-9-]+$")


class Switch(Model):
    vendor: Literal["cisco"] = "cisco"
    model: str
    name: str = Field(pattern=IDENTITY_RE)
    management_address: IPv4 | None = None
    username: str = "desa"
    password: SecretRef


class AccessPoint(Model):
    vendor: str
    model: str
    name: str = Field(pattern=IDENTITY_RE)
    management_address: IPv4 | None = None
    segments: list[SegmentName] = Field(default_factory=lambda: ["hotspot"])


class Devices(Model):
    router: Router
    switches: list[Switch] = Field(default_factory=list)
    access_points: list[AccessPoint] = Field(default_factory=list)


class Server(Model):
    address: IPv4 | None = Field(default=None, description="Defaults from the address plan (office .10)")
    os: Literal["debian-12"] = "debian-12"
    ssh_user: str = Field(default="desa", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    ssh_port: StrictInt = Field(default=22, ge=1, le=65535)
    technicians: list[Person] = Field(default_factory=list, description="Village technicians")
    backup_retention_days: StrictInt = Field(default=30, ge=1, le=3650)


class Release(Model):
    version: str = Field(pattern=r"^[0-9A-Za-z._-]+$")
    source: str = Field(description="Path (relative to the inventory) or https URL of the archive")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Application(Model):
    kind: Literal["opensid", "opaque"]
    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]+$")
    admin: Contact
    release: Release | None = None
    # Opaque apps: what we run and back up without knowing its insides.
    service: str | None = Field(default=None, pattern=r"^[a-z0-9@._-]+$")
    port: StrictInt | None = Field(default=None, ge=1, le=65535)
    health_path: str = "/"
    data_paths: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_fields(self) -> Application:
        if self.kind == "opensid" and self.release is None:
            raise ValueError("an opensid application needs 'release' (version, source, sha256)")
        if self.kind == "opaque" and (self.service is None or self.port is None):
            raise ValueError("an opaque application needs 'service' and 'port'")
        return self


WG_KEY_RE = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"


class Vpn(Model):
    """WireGuard to the regency hub: one tunnel from the router, one from the server."""

    public_key: str = Field(pattern=WG_KEY_RE, description="The router's WireGuard public key")
    private_key: SecretRef
    server_public_key: str = Field(pattern=WG_KEY_RE, description="The server's WireGuard public key")
    server_private_key: SecretRef


class Site(Model):
    """A village (desa) and everything the regency runs there."""

    kode: str = Field(pattern=KODE_DESA_RE, description="Kode wilayah of the desa, e.g. 32.16.06.2002")
    slug: str = Field(pattern=SLUG_RE)
    name: str
    kecamatan: str
    slot: StrictInt = Field(ge=0, description="Index of the site's prefix in the regency's routed pool")
    coordinates: Coordinates | None = None
    operator: Contact
    uplink: Uplink
    network: Network
    vpn: Vpn
    devices: Devices
    server: Server = Server()
    app: Application | None = None


class Pools(Model):
    routed: IPv4Net = Field(description="Per-site prefixes that cross the VPN are cut from here")
    site_prefix: StrictInt = Field(default=24, ge=16, le=26)
    vpn: IPv4Net = Field(description="WireGuard tunnel addresses (hub first)")
    local: IPv4Net = Field(description="NAT-only hotspot pool; the same in every site")

    @model_validator(mode="after")
    def _fits(self) -> Pools:
        if self.site_prefix < self.routed.prefixlen:
            raise ValueError(f"site_prefix /{self.site_prefix} is larger than the routed pool {self.routed}")
        if self.routed.overlaps(self.vpn):
            raise ValueError(f"the routed pool {self.routed} overlaps the VPN pool {self.vpn}")
        if self.local.overlaps(self.routed) or self.local.overlaps(self.vpn):
            raise ValueError(f"the local pool {self.local} overlaps a routed or VPN pool")
        return self

    @property
    def capacity(self) -> int:
        return 2 ** (self.site_prefix - self.routed.prefixlen)


class Hub(Model):
    """The regency data centre end of every village's VPN."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    endpoint: IPv4 = Field(description="Address the villages dial (UDP)")
    port: StrictInt = Field(default=51820, ge=1, le=65535)
    public_key: str = Field(pattern=WG_KEY_RE)
    private_key: SecretRef
    networks: list[IPv4Net] = Field(default_factory=list, description="Data-centre networks villages reach")
    ssh_user: str = "desa"


class Regency(Model):
    """A kabupaten/kota: its pools, its hub, its staff and the defaults every site inherits."""

    kode: str = Field(pattern=KODE_REGENCY_RE)
    slug: str = Field(pattern=SLUG_RE)
    name: str
    pools: Pools
    hub: Hub
    staff: list[Person] = Field(default_factory=list, description="Regency engineers (all sites)")
    defaults: dict = Field(default_factory=dict, description="Site keys every site inherits")
