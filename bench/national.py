"""Every village of Indonesia as one inventory: generated, loaded and validated.

    .venv/bin/python bench/national.py [--limit N] [--keep DIR]

Generates a synthetic inventory of all 83,762 desa/kelurahan of `desa/data/wilayah.csv` (one
regency folder per kabupaten/kota, its routed pool sized to its villages with a /26 per site, cut
from 10.0.0.0/8; its tunnel pool cut from 100.64.0.0/10), then times `desa.inventory.load` on it.
Prints sites/second and peak memory (ru_maxrss), the per-site cost against the four Bekasi pilots
loaded in this same process, and how the overlap rule scales: its time at n, 2n, 4n … divided by
n·log n, relative to the smallest n (a ratio that stays near 1 means n·log n; one that doubles with
each step means n²). Target on a 2-core machine: under 60 s and under 2 GiB.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import base64
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from ipaddress import IPv4Network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desa import inventory, rules  # noqa: E402
from desa.scaffold import slugify  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
WILAYAH = PROJECT / "desa" / "data" / "wilayah.csv"
SITE_PREFIX = 26


def wg_key(*parts: str) -> str:
    """A well-formed, distinct WireGuard public key per name (never a real key)."""
    return base64.b64encode(hashlib.sha256("/".join(parts).encode()).digest()).decode()


def read_wilayah() -> tuple[dict[str, str], dict[str, list[str]]]:
    names: dict[str, str] = {}
    villages: dict[str, list[str]] = defaultdict(list)
    with WILAYAH.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for kode, nama in reader:
            names[kode] = nama
            if kode.count(".") == 3:
                villages[kode[:5]].append(kode)
    return names, villages


class Allocator:
    """Aligned blocks from a list of address ranges, largest first (so every block is aligned)."""

    def __init__(self, *ranges: str):
        self.ranges = [IPv4Network(r) for r in ranges]
        self.cursor = [int(r.network_address) for r in self.ranges]

    def take(self, prefixlen: int) -> IPv4Network:
        size = 2 ** (32 - prefixlen)
        for i, r in enumerate(self.ranges):
            start = -(-self.cursor[i] // size) * size
            if start + size <= int(r.broadcast_address) + 1:
                self.cursor[i] = start + size
                return IPv4Network((start, prefixlen))
        raise SystemExit(f"address space exhausted for a /{prefixlen}")


def regency_yaml(kode: str, slug: str, name: str, routed: IPv4Network, vpn: IPv4Network) -> str:
    q = json.dumps
    return f"""\
kode: {q(kode)}
slug: {slug}
name: {q(name)}
pools:
  routed: {routed}
  site_prefix: {SITE_PREFIX}
  vpn: {vpn}
  local: 172.20.0.0/22
hub:
  name: hub-{kode.replace('.', '')}
  endpoint: "192.0.2.1"
  public_key: {wg_key(kode, "hub")}
  private_key: secret:hub/wireguard
  networks: [192.0.2.0/24]
defaults:
  uplink:
    kind: lte
    bandwidth: {{down_mbps: 20, up_mbps: 5}}
  network:
    vlans:
      office: {{id: 10}}
      hotspot: {{id: 20}}
      cctv: {{id: 30}}
      management: {{id: 99, dhcp: false}}
    hotspot:
      profiles:
        - {{name: warga, rate_down_mbps: 5, rate_up_mbps: 2, session_timeout_hours: 4}}
    allow:
      - {{src: office, dst: internet}}
      - {{src: hotspot, dst: internet}}
      - {{src: vpn, dst: server, ports: [22, 443]}}
  devices:
    router:
      model: hAP ax2
      routeros: "7.16"
      password: secret:routers/admin
"""


def site_yaml(kode: str, slug: str, name: str, kecamatan: str, slot: int) -> str:
    q = json.dumps
    return f"""\
kode: {q(kode)}
slug: {slug}
name: {q(name)}
kecamatan: {q(kecamatan)}
slot: {slot}
operator:
  name: Operator {q(name)[1:-1]}
  role: Kaur Perencanaan
  phone: "+62 812 0000 000"
vpn:
  public_key: {wg_key(kode, "router")}
  private_key: secret:sites/{slug}/wireguard
  server_public_key: {wg_key(kode, "server")}
  server_private_key: secret:sites/{slug}/server-wireguard
"""


def generate(root: Path, limit: int | None) -> int:
    names, villages = read_wilayah()
    regencies = sorted(villages.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    routed_space = Allocator("10.0.0.0/8")
    vpn_space = Allocator("100.64.0.0/10")
    count = 0
    for regency_kode, kodes in regencies:
        if limit is not None and count >= limit:
            break
        kodes = sorted(kodes)[: None if limit is None else limit - count]
        slots = len(kodes) + 1  # slot 0 unused, as `desa new` does
        routed = routed_space.take(SITE_PREFIX - math.ceil(math.log2(slots)))
        vpn = vpn_space.take(32 - math.ceil(math.log2(2 * slots + 4)))
        name = names[regency_kode]
        slug = f"{slugify(name)[:30].rstrip('-')}-{regency_kode.replace('.', '')}"
        directory = root / slug
        (directory / "sites").mkdir(parents=True)
        (directory / "regency.yaml").write_text(regency_yaml(regency_kode, slug, name, routed, vpn), encoding="utf-8")
        for slot, kode in enumerate(kodes, start=1):
            site_slug = f"{slugify(names[kode])[:28].rstrip('-')}-{kode.replace('.', '')}"
            (directory / "sites" / f"{site_slug}.yaml").write_text(
                site_yaml(kode, site_slug, names[kode], names[kode[:8]], slot), encoding="utf-8")
        count += len(kodes)
    return count


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def collect(root: Path) -> list:
    """The (Site, Source, Regency) triples the rules take, as the loader builds them."""
    captured: list = []
    original = rules.check

    def spy(loaded, *args, **kwargs):
        loaded = list(loaded)
        captured.extend(loaded)
        return original(loaded, *args, **kwargs)

    rules.check = spy
    try:
        inventory.load(root)
    finally:
        rules.check = original
    return captured


def overlap_scaling(loaded: list, steps: int = 4) -> None:
    n_max = len(loaded)
    n0 = max(1000, n_max // 2 ** (steps - 1))
    print("overlap rule (routed_prefixes_disjoint) CPU time; ratio = (t/(n·log n)) / (t0/(n0·log n0)):")
    base = None
    n = n0
    while n <= n_max:
        part = loaded[:n]
        best = math.inf
        for _ in range(3):
            gc.collect()
            gc.disable()  # time the rule, not the collector rescanning the loaded sites
            t = time.process_time()  # CPU time: other work on the machine does not count
            problems = rules.routed_prefixes_disjoint(part)
            best = min(best, time.process_time() - t)
            gc.enable()
        assert not problems, problems[:3]
        per = best / (n * math.log2(n))
        base = base or per
        print(f"  n={n:>6}  {best * 1000:8.1f} ms  ratio {per / base:5.2f}")
        n *= 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="only the first N villages (largest regencies first)")
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()

    # Baseline in this process: the four pilots.
    inventory.load(PROJECT / "inventory")  # warm: the kode wilayah list is read once per process
    t = time.perf_counter()
    for _ in range(5):
        pilots = inventory.load(PROJECT / "inventory")
    pilot_per_site = (time.perf_counter() - t) / (5 * len(pilots.sites))

    tmp = Path(tempfile.mkdtemp(prefix="desa-national-")) if args.keep is None else args.keep
    root = tmp / "inventory"
    try:
        t = time.perf_counter()
        n = generate(root, args.limit)
        gen_s = time.perf_counter() - t
        print(f"generated {n} sites in {gen_s:.1f} s under {root}")

        gc.collect()
        before = peak_mib()
        t, cpu = time.perf_counter(), time.process_time()
        inv = inventory.load(root)
        load_s, cpu_s = time.perf_counter() - t, time.process_time() - cpu
        peak = peak_mib()
        assert len(inv.sites) == n, (len(inv.sites), n)
        print(f"loaded and validated {len(inv.sites)} sites in {load_s:.1f} s (CPU {cpu_s:.1f} s): "
              f"{n / load_s:,.0f} sites/s; peak RSS {peak:,.0f} MiB (before loading {before:,.0f} MiB)")
        print(f"per site: {load_s / n * 1e6:,.0f} µs vs {pilot_per_site * 1e6:,.0f} µs for the 4 pilots "
              f"(ratio {load_s / n / pilot_per_site:.2f})")
        load_avg = os.getloadavg()[0]
        verdict = "OK" if load_s < 60 and peak < 2048 else "OVER TARGET"
        print(f"target < 60 s and < 2048 MiB: {verdict} (load average {load_avg:.1f} on {os.cpu_count()} cores"
              f"{'; others are using the machine, CPU time is the fairer figure' if load_avg > 1.5 else ''})")
        del inv
        gc.collect()
        overlap_scaling(collect(root))
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
