"""The lab's router daemon: every site's simulated RouterOS router in one process, each listening
at its management address inside its own router slot (network namespace).

One asyncio loop serves all routers (desa.routeros.server.SimulatorServer). Each router's listening
socket is made while the loop's thread has entered the slot's namespace (setns), so it lives there;
accepted connections inherit it. State survives restarts: each router's configuration is saved as a
backup under the lab's state dir (on every change, checked each second, and at exit) and loaded at
start; its file store is a folder there; the SSH host key is kept so known_hosts stays valid.

Run by the lab:  python -m desa.lab.routerd CONFIG.json   (CONFIG is 0600: it holds the passwords)
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
from pathlib import Path

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


async def main(config_path: str) -> None:
    import asyncssh

    from desa.routeros import server as ros

    cfg = json.loads(Path(config_path).read_text())
    key_path = Path(cfg["host_key"])
    ros._HOST_KEY = asyncssh.read_private_key(str(key_path))  # the lab's recorded host key
    sim = ros.SimulatorServer()
    sim.started = True
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    saved: dict[str, bytes] = {}
    for r in cfg["routers"]:
        state = Path(r["state"])
        (state / "files").mkdir(parents=True, exist_ok=True)
        state.chmod(0o700)
        spec = ros.DeviceSpec(identity=r["identity"], host=r["address"], port=r["port"], username=r["username"],
                              password=r["password"], version=r["version"], model=r["model"] or "RB750Gr3",
                              files_root=str(state / "files"))
        ns = os.open(f"/run/netns/{r['netns']}", os.O_RDONLY)
        try:
            setns(ns)
            device = await sim.add_device(spec)  # listens now, inside the slot's namespace
        finally:
            setns(home)
            os.close(ns)
        backup = state / "config.backup"
        if backup.exists():
            device.load_backup(backup.read_bytes())
        saved[r["identity"]] = device.backup_bytes()
        print(f"routerd: {r['identity']} on {r['address']}:{r['port']} ({r['netns']})", flush=True)

    def persist() -> None:
        for r in cfg["routers"]:
            data = sim.device(r["identity"]).backup_bytes()
            if saved.get(r["identity"]) != data:
                target = Path(r["state"]) / "config.backup"  # holds the users' passwords: 0600
                tmp = target.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                tmp.replace(target)
                saved[r["identity"]] = data

    sim.run_clock()  # the routers' schedulers (an armed self-revert runs with nobody connected)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("routerd: ready", flush=True)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
        persist()
    persist()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
