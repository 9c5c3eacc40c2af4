"""The four pilot routers on RouterOS simulators over SSH: deploy from the factory configuration,
then the unchanged re-deploy (what a technician's "safe to repeat" costs).

The network stage runs as `desa deploy --all --only network` runs it (`desa.rollout.network_stage`:
backup, armed revert, push, confirm; four routers in parallel). The inventory is a private copy whose
routed pool is 127.77.0.0/16, so each router's management address is a loopback address a simulator
listens on. Prints wall time of each run, the ratio re-run / first run (baseline: the first run, same
process), changes pushed and every command line each router received (reads included).

Run: ``.venv/bin/python bench/network_deploy.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruamel.yaml import YAML  # noqa: E402

PILOTS = ["lambangsari", "sumberjaya", "karangbahagia", "karangmukti"]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="desa-bench-network-") as tmp:
        return bench(Path(tmp))


def bench(tmp: Path) -> int:
    os.environ.update(DESA_SECRETS="lab", DESA_LAB_SECRETS=str(tmp / "secrets"), DESA_STATE=str(tmp / "state"))

    from desa import inventory, secrets
    from desa.lab.testing import private_inventory
    from desa.routeros.server import DeviceSpec, RouterSimulator
    from desa.rollout import Target, network_stage

    root = private_inventory(tmp, sites=PILOTS, routed="127.77.0.0/16", hub_endpoint="10.98.77.2")
    intents = inventory.load(root).select(all_sites=True)
    specs = [DeviceSpec(identity=i.slug, host=str(i.router.address), username=i.router.username,
                        password=secrets.resolve(i.router.password)) for i in intents]
    yaml = YAML()
    with RouterSimulator.start_in_thread(devices=specs) as sim:
        for i in intents:  # point each site's router at its simulator's port
            path = root / "bekasi" / "sites" / f"{i.slug}.yaml"
            doc = yaml.load(path.read_text())
            doc.setdefault("devices", {}).setdefault("router", {})["ssh_port"] = sim.port(i.slug)
            with path.open("w") as f:
                yaml.dump(doc, f)
        intents = inventory.load(root).select(all_sites=True)

        rows = []
        for label in ("first deploy (factory config)", "re-deploy (unchanged)"):
            sent_before = {i.slug: len(sim.device(i.slug).history) for i in intents}
            started = time.perf_counter()
            results = network_stage(intents, Target())
            wall = time.perf_counter() - started
            failed = [f"{r.site}: {r.error}" for r in results if r.failed]
            if failed:
                print("FAILED:", *failed, sep="\n  ")
                return 1
            sent = sum(len(sim.device(i.slug).history) - sent_before[i.slug] for i in intents)
            rows.append((label, wall, sum(r.changed for r in results), sent))

    base = rows[0][1]
    print(f"{len(intents)} routers over SSH (simulator, 127.0.0.1), network stage in parallel")
    print(f"{'run':32} {'wall s':>8} {'ratio':>7} {'changes':>8} {'lines sent':>11}")
    for label, wall, changes, sent in rows:
        print(f"{label:32} {wall:8.2f} {wall / base:7.3f} {changes:8d} {sent:11d}")
    print(f"per router: {rows[0][2] / len(intents):.0f} changes and {rows[0][3] / len(intents):.0f} lines on the "
          f"first run (backup, revert armed and confirmed); {rows[1][3] / len(intents):.1f} lines on the re-run")
    return 0 if rows[1][2] == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
