"""200 simulated RouterOS routers in one process: SSH connect + ``/export`` on all of them.

Prints wall time and resident memory, and their ratio to a 1-router baseline measured first in the
same process.  Run: ``.venv/bin/python bench/routeros_200.py [N]``.
"""

from __future__ import annotations

import asyncio
import sys
import time

import asyncssh

from desa.routeros.server import DeviceSpec, SimulatorServer


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def export_all(server: SimulatorServer, identities: list[str], parallel: int = 50) -> None:
    sem = asyncio.Semaphore(parallel)

    async def one(identity: str) -> None:
        async with sem:
            port = server.hosted[identity].spec.port
            async with asyncssh.connect("127.0.0.1", port, username="admin+ct511w4098h", password="pw",
                                        known_hosts=None) as conn:
                result = await conn.run("/export", check=True)
                assert "/system identity" in str(result.stdout)

    await asyncio.gather(*(one(i) for i in identities))


async def run(n: int) -> dict[str, float]:
    server = SimulatorServer()
    await server.start()
    base_rss = rss_mib()
    t0 = time.perf_counter()
    await server.add_device(DeviceSpec("B0", password="pw"))
    await export_all(server, ["B0"])
    one_time = time.perf_counter() - t0
    one_rss = rss_mib() - base_rss
    t1 = time.perf_counter()
    for k in range(1, n + 1):
        await server.add_device(DeviceSpec(f"R{k:03d}", password="pw"))
    start_time = time.perf_counter() - t1
    t2 = time.perf_counter()
    await export_all(server, [f"R{k:03d}" for k in range(1, n + 1)])
    export_time = time.perf_counter() - t2
    n_rss = rss_mib() - base_rss
    await server.stop()
    return {"one_time": one_time, "one_rss": one_rss, "start_time": start_time, "export_time": export_time,
            "n_rss": n_rss}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    r = asyncio.run(run(n))
    print(f"1 router : start+connect+/export {r['one_time']:.2f}s, +{r['one_rss']:.1f} MiB RSS")
    print(f"{n} routers: start {r['start_time']:.2f}s, connect+/export on all {r['export_time']:.2f}s, "
          f"+{r['n_rss']:.1f} MiB RSS ({r['n_rss'] / n:.2f} MiB/router)")
    marginal = (r["n_rss"] - r["one_rss"]) / n
    print(f"marginal per extra router: {marginal * 1024:.0f} KiB, {(r['start_time'] + r['export_time']) / n * 1000:.1f} ms")
    print(f"ratio vs 1 router: time x{(r['start_time'] + r['export_time']) / r['one_time']:.1f}, "
          f"memory x{r['n_rss'] / max(r['one_rss'], 0.1):.1f}")


if __name__ == "__main__":
    main()
