"""The userspace link emulator: a TCP relay on the management path of each emulated site.

The kernel here has no netem, so latency, jitter, stalls and drops are made here: the lab's
nftables redirects the controller's TCP connections to a site's prefix to this relay (one port per
site); the relay finds the original destination (SO_ORIGINAL_DST), connects there with a socket
mark the redirect rule skips, and delays each direction by half the round-trip time (± jitter,
order kept), pauses everything during stalls and refuses a share of new connections. Bandwidth is
the kernel's job (tbf on the site's links, see link.py).

Run by the lab as a daemon:  python -m desa.lab.linkd CONFIG.json
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass

SO_ORIGINAL_DST = 80
MARK = 0x6465  # "de": connections the relay opens itself are not redirected again
CHUNK = 16384
SOURCE_PORTS = (20000, 32000)  # below Linux's ephemeral range (32768–60999)


@dataclass
class Profile:
    latency_ms: float  # round trip
    jitter_ms: float
    drop: float  # share of new connections reset at once (a flaky link)
    stall_every_s: float  # 0: never
    stall_s: float

    def one_way(self, rng: random.Random) -> float:
        return max(0.0, (self.latency_ms / 2 + rng.uniform(-self.jitter_ms, self.jitter_ms) / 2) / 1000)

    def stalled_until(self, now: float, epoch: float) -> float:
        """If `now` falls in a stall window, when it ends; else 0."""
        if not self.stall_every_s or not self.stall_s:
            return 0.0
        phase = (now - epoch) % self.stall_every_s
        start = self.stall_every_s - self.stall_s
        return now + (self.stall_every_s - phase) if phase >= start else 0.0


def original_dst(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, addr = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(addr), port


class Site:
    def __init__(self, name: str, profile: Profile, seed: int):
        self.name = name
        self.profile = profile
        self.rng = random.Random(seed)
        self.epoch = time.monotonic()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction, each chunk delivered one-way-latency after it was read, in order."""
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                while True:
                    now = time.monotonic()
                    until = self.profile.stalled_until(now, self.epoch)
                    wait = max(due - now, until - now if until else 0)
                    if wait <= 0:
                        break
                    await asyncio.sleep(wait)
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        last = 0.0
        try:
            while True:
                data = await reader.read(CHUNK)
                due = max(last, time.monotonic() + self.profile.one_way(self.rng))
                last = due
                await queue.put((due, data or None))
                if not data:
                    break
            await sender
        except (ConnectionError, asyncio.CancelledError):
            sender.cancel()
            raise

    def outgoing(self) -> socket.socket:
        """A socket for the relay's own leg. Its source port comes from below the ephemeral range:
        the controller's redirected connections leave conntrack entries for ephemeral tuples to the
        same destination, and a relay leg reusing one would be redirected or dropped."""
        for _ in range(50):
            out = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            out.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
            out.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                out.bind(("0.0.0.0", self.rng.randrange(*SOURCE_PORTS)))
            except OSError:
                out.close()
                continue
            out.setblocking(False)
            return out
        raise OSError("no free source port for the relay")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        try:
            host, port = original_dst(sock)
        except OSError:
            writer.close()
            return
        if host.startswith("127."):  # not redirected (a readiness probe): nothing to relay to
            writer.close()
            return
        if self.rng.random() < self.profile.drop:
            print(f"linkd: {self.name}: dropped a connection to {host}:{port}", flush=True)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            writer.close()
            return
        try:
            out = self.outgoing()
        except OSError:
            writer.close()
            return
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(out, (host, port)), 30)
            r2, w2 = await asyncio.open_connection(sock=out)
        except (OSError, asyncio.TimeoutError):
            out.close()
            writer.close()
            return
        print(f"linkd: {self.name}: relaying to {host}:{port}", flush=True)
        try:
            await asyncio.gather(self.pipe(reader, w2), self.pipe(r2, writer))
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (writer, w2):
                w.close()


async def main(config_path: str) -> None:
    cfg = json.loads(open(config_path).read())
    servers = []
    for i, (name, site) in enumerate(sorted(cfg["sites"].items())):
        s = Site(name, Profile(**site["profile"]), seed=i)
        servers.append(await asyncio.start_server(s.handle, "127.0.0.1", site["port"]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"linkd: relaying {', '.join(sorted(cfg['sites']))}", flush=True)
    await stop.wait()
    for srv in servers:
        srv.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
