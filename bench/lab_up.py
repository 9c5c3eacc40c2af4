"""Bring up the four Bekasi pilots: from a cached base image, and from nothing (image build included).

    .venv/bin/python bench/lab_up.py [--skip-cold]

Prints wall time, the memory the lab uses once up (PSS of every guest and daemon) and the ratio
cold/cached, both measured in this process. Runs on its own address pool (10.219.0.0/16, hub
10.98.19.2) and its own image cache for the cold run, so it never touches the main lab nor the
shared image. Needs root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desa.inventory import load  # noqa: E402
from desa.lab import Lab, image  # noqa: E402
from desa.lab.testing import private_inventory  # noqa: E402


def bring_up(tmp: Path, name: str, image_cache: Path) -> dict:
    root = private_inventory(tmp / name, routed="10.219.0.0/16", hub_endpoint="10.98.19.2")
    intents = load(root).select(all_sites=True)
    lab = Lab(tmp / name / "lab", image_cache=image_cache)
    t0 = time.monotonic()
    try:
        lab.up(intents)
        seconds = time.monotonic() - t0
        t1 = time.monotonic()
        lab.up(intents)
        again = time.monotonic() - t1
        mem = lab.memory()
        states = {n: h["state"] for n, h in lab.status()["hosts"].items()}
    finally:
        t2 = time.monotonic()
        lab.destroy()
        down = time.monotonic() - t2
    return {"seconds": seconds, "again": again, "down": down, "memory": mem, "states": states,
            "hosts": len(mem)}


def report(label: str, r: dict) -> None:
    total = sum(r["memory"].values())
    guests = {n: m for n, m in r["memory"].items() if n.startswith(("srv-", "hub-"))}
    print(f"{label:>8}: up {r['seconds']:6.1f} s, up again {r['again']:4.2f} s, down+destroy {r['down']:4.1f} s, "
          f"memory {total / 2**20:6.1f} MiB total, {sum(guests.values()) / max(1, len(guests)) / 2**20:5.1f} MiB per guest")
    print(f"{'':>8}  {', '.join(f'{n} {s}' for n, s in r['states'].items())}")


def main() -> None:
    os.environ.setdefault("DESA_SECRETS", "lab")  # routers' passwords from the lab's secrets store
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cold", action="store_true", help="only the cached-image run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="desa-bench-lab-"))
    try:
        image.ensure()  # the shared cache, so the "cached" run really is cached
        cached = bring_up(tmp, "cached", image.CACHE)
        report("cached", cached)
        if args.skip_cold:
            return
        cold_cache = tmp / "image-cache"
        cold = bring_up(tmp, "cold", cold_cache)
        report("cold", cold)
        print(f"   ratio: from nothing / cached image = {cold['seconds'] / cached['seconds']:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
