"""The `Lab`: a hub, one server and one simulated router per site, as real as this machine allows.

    lab = Lab()                 # state in $DESA_LAB_STATE, else state/lab
    lab.up(intents)             # idempotent: repairs what is missing, a no-op when all is there
    lab.status()                # {"hosts": {NAME: {"state": …, "address": …}}}
    lab.down()                  # removes every process, mount, link and namespace it recorded
    lab.destroy()               # down + the hosts' overlays and the lab's state
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from desa.intent import SiteIntent
from desa.inventory import PROJECT_ROOT
from desa.lab import aptcache, image, net, preflight
from desa.lab.errors import LabError
from desa.lab.host import Host
from desa.lab.ssh import SshTrust, wait_port, wait_system
from desa.lab.state import HostRecord, RouterRecord, State, locked, prefix_for

DEFAULT_STATE = PROJECT_ROOT / "state" / "lab"
BOOT_TIMEOUT = 180
# What a lab writes in its state dir (`destroy` deletes these and nothing else).
OWNED = ("hosts", "ssh", "routers", "apt-cacher-ng", "state.json", "state.tmp", "inventory.py", "inventory.tmp",
         "ssh_config", "ssh_config.tmp", "linkd.json", "linkd.log", "image.log")


class Lab:
    def __init__(self, state_dir: Path | None = None, *, image_cache: Path | None = None):
        self.image_cache = Path(image_cache) if image_cache else image.CACHE
        self.state_dir = Path(state_dir or os.environ.get("DESA_LAB_STATE") or DEFAULT_STATE).resolve()
        self.prefix = prefix_for(self.state_dir)
        self.trust = SshTrust(self.state_dir, Path("/run/desa-lab") / self.prefix)
        self.hosts_dir = self.state_dir / "hosts"
        self.state_file = self.state_dir / "state.json"

    # the interface's paths -------------------------------------------------------------------
    @property
    def ssh_config(self) -> Path:
        return self.trust.config

    @property
    def ssh_key(self) -> Path:
        return self.trust.key

    @property
    def known_hosts(self) -> Path:
        return self.trust.known_hosts

    @property
    def pyinfra_inventory(self) -> Path:
        return self.state_dir / "inventory.py"

    def load_state(self) -> State:
        return State.load(self.state_file, self.prefix)

    # up ----------------------------------------------------------------------------------------
    def up(self, intents: list[SiteIntent], *, progress=None, link: bool = False) -> None:
        say = progress or (lambda msg: None)
        if not intents:
            raise LabError("no sites to bring up → name sites or use --all")
        preflight.check()
        with locked(self.state_dir):
            st = self.load_state()
            try:
                self._up(st, intents, say, link)
            finally:
                st.save(self.state_file)

    def _up(self, st: State, intents: list[SiteIntent], say, link_sites: bool = False) -> None:
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        p = self.prefix
        self._plan(st, intents)
        # Networks ---------------------------------------------------------------------------
        net.enable_forwarding()
        for h in st.hosts.values():
            if h.kind == "hub":
                net.ensure_bridge(h.bridge, [f"{h.gateway}/{h.prefixlen}"])
                st.remember("links", h.bridge)
        for slug, s in st.sites.items():
            if slug.startswith("hub:"):
                continue
            net.ensure_bridge(s["bridge"], [s["gateway"]])
            st.remember("links", s["bridge"])
            r = st.routers[s["router"]]
            net.ensure_router_slot(r.netns, r.veth, s["router_host"], f"{r.address}/{s['mgmt_prefixlen']}",
                                   s["router_host"].split("/")[0])
            st.remember("netns", r.netns)
            st.remember("links", r.veth)
        self._apply_ruleset(st)
        # apt cache (one per machine, shared by the labs on it) --------------------------------
        aptcache.ensure(self.state_dir)
        stale = st.procs.pop("aptcache", None)  # a per-lab cache of an older version of the lab
        if stale is not None:
            stale.stop(timeout=5)
        if st.link_emulation:  # qdiscs and the relay back after a crash or a machine reboot
            from desa.lab import link

            link.reapply(self, st)
        # Base image, keys, hosts ---------------------------------------------------------------
        if image.cached(self.image_cache) is None:
            say("building the base image (mmdebstrap, ~1–2 min, once per recipe)")
        base = image.ensure(proxy=aptcache.proxy_url(), cache=self.image_cache, log=self.state_dir / "image.log")
        pub = self.trust.ensure_key()
        extra = {h.name: h.address for h in st.hosts.values()}
        started = []
        for rec in st.hosts.values():
            host = Host(rec, self.hosts_dir)
            if host.running() and host.mounted():
                # Running: only bring its identity files up to date (a new site in /etc/hosts, say).
                host.prepare(public_key=pub, apt_proxy=aptcache.proxy_url(), extra_hosts=extra)
                continue
            if host.running() or host.cgroup_pids():
                # A guest without its root, or orphaned by a crashed supervisor: clear it first.
                host.stop()
            lower = base.root
            if rec.base and rec.base != str(base.root):
                if Path(rec.base).exists():
                    lower = Path(rec.base)  # its disk was made on that image: keep them together
                    say(f"{rec.name}: keeps its older base image (desa lab destroy to rebuild it on the new one)")
                else:
                    say(f"{rec.name}: its base image is gone; its disk now sits on the new one")
            host.mount(lower)
            rec.base = str(lower)
            st.remember("mounts", str(host.root))
            host.prepare(public_key=pub, apt_proxy=aptcache.proxy_url(), extra_hosts=extra)
            say(f"booting {rec.name} ({rec.address})")
            host.start()
            started.append(rec.name)
            st.save(self.state_file)
        self._write_trust(st)
        # Wait for every started host to be up (in parallel) ----------------------------------
        if started:
            with ThreadPoolExecutor(max_workers=min(8, len(started))) as pool:
                results = list(pool.map(lambda n: self._wait(st.hosts[n]), started))
            for name, state in zip(started, results):
                say(f"{name}: {state}")
        self._routers(st, intents, say)
        if link_sites:
            from desa.lab import link

            for intent in intents:
                if intent.slug not in st.link_emulation:
                    say(f"{intent.slug}: emulating its {intent.uplink.kind} uplink")
                    link.set_emulation(self, st, intent, True)
            self._apply_ruleset(st)

        self._write_inventory(st)

    def _plan(self, st: State, intents: list[SiteIntent]) -> None:
        """Record the hosts, router slots and networks of these sites (stable names)."""
        p = self.prefix
        for intent in intents:
            hub = intent.hub
            if hub.name not in st.hosts:
                n = sum(1 for h in st.hosts.values() if h.kind == "hub")
                dc, ctl = net.hub_network(str(hub.endpoint), [str(x) for x in hub.networks])
                tag = "hub" if n == 0 else f"hub{n}"
                st.hosts[hub.name] = HostRecord(
                    name=hub.name, kind="hub", site=None, regency=intent.regency.slug,
                    address=str(hub.endpoint), prefixlen=dc.prefixlen, gateway=ctl, bridge=f"{p}{tag}",
                    machine=f"{p}{tag}", user=hub.ssh_user)
                st.sites["hub:" + hub.name] = {"port": hub.port}
            srv = intent.server
            if intent.slug in st.sites:
                rec = st.hosts.get(srv.hostname)
                router = st.routers.get(intent.router.identity)
                if (rec is None or rec.address != str(srv.address) or router is None
                        or router.address != str(intent.router.address) or router.port != intent.router.port
                        or st.hosts[hub.name].address != str(hub.endpoint)):
                    raise LabError(f"{intent.slug}: the inventory's addresses changed since this lab was built "
                                   f"→ desa lab destroy (state {self.state_dir}), then desa lab up")
                continue
            slot = intent.site.slot
            office = intent.segment("office")
            mgmt = intent.segment("management")
            if ipaddress.IPv4Address(srv.address) not in office.network:
                raise LabError(f"{intent.slug}: server {srv.address} is not on the office segment "
                               f"{office.network} → the lab puts servers there")
            bridge = f"{p}s{slot}"
            router_host = net.last_host(mgmt.network, {str(intent.router.address)})
            st.sites[intent.slug] = {
                "bridge": bridge,
                "gateway": f"{office.gateway}/{office.network.prefixlen}",
                "server": str(srv.address),
                "router": intent.router.identity,
                "router_host": f"{router_host}/{mgmt.network.prefixlen}",
                "mgmt_prefixlen": mgmt.network.prefixlen,
                "slot": slot,
            }
            st.hosts[srv.hostname] = HostRecord(
                name=srv.hostname, kind="server", site=intent.slug, regency=intent.regency.slug,
                address=str(srv.address), prefixlen=office.network.prefixlen, gateway=str(office.gateway),
                bridge=bridge, machine=f"{p}s{slot}", user=srv.ssh_user, port=srv.ssh_port)
            st.routers[intent.router.identity] = RouterRecord(
                name=intent.router.identity, site=intent.slug, address=str(intent.router.address),
                port=intent.router.port, netns=f"{p}r{slot}", veth=f"{p}r{slot}h",
                user=intent.router.username, password_ref=intent.router.password,
                version=intent.router.routeros, model=intent.router.model)

    def _apply_ruleset(self, st: State) -> None:
        hub_nets = [net.HubNet(h.bridge, h.address, st.sites.get("hub:" + h.name, {}).get("port", 51820))
                    for h in st.hosts.values() if h.kind == "hub"]
        site_nets = [net.SiteNet(slug, s["bridge"], st.routers[s["router"]].veth, s["server"],
                                 st.routers[s["router"]].address, st.routers[s["router"]].port)
                     for slug, s in st.sites.items() if not slug.startswith("hub:")]
        relays = {c["prefix"]: c["port"] for c in st.link_emulation.values()}
        st.nft_table = f"desa_{self.prefix}"
        net.apply_ruleset(net.ruleset(self.prefix, site_nets, hub_nets, self._apt_address(st), relays))

    def link(self, intents: list[SiteIntent], on: bool = True) -> dict[str, dict]:
        """Emulate (or stop emulating) these sites' uplinks; returns what is emulated now."""
        from desa.lab import link

        preflight.require_root()
        with locked(self.state_dir):
            st = self.load_state()
            try:
                for intent in intents:
                    link.set_emulation(self, st, intent, on)
                self._apply_ruleset(st)
            finally:
                st.save(self.state_file)
            return dict(st.link_emulation)

    def _apt_address(self, st: State) -> str:
        return aptcache.ADDRESS

    def _write_trust(self, st: State) -> None:
        rows = []
        for rec in st.hosts.values():
            host = Host(rec, self.hosts_dir)
            key = host.host_key() if host.mounted() else None
            rows.append({"name": rec.name, "address": rec.address, "port": rec.port, "user": rec.user,
                         "host_key": key})
        router_key = self.state_dir / "routers" / "host_key.pub"
        known = []
        if router_key.exists():
            key = " ".join(router_key.read_text().split()[:2])
            known = [{"name": r.name, "address": r.address, "port": r.port, "host_key": key}
                     for r in st.routers.values()]
        self.trust.write(rows, known_only=known)

    def _wait(self, rec: HostRecord) -> str:
        if not wait_port(rec.address, rec.port, BOOT_TIMEOUT):
            raise LabError(f"{rec.name}: sshd did not answer at {rec.address}:{rec.port} within "
                           f"{BOOT_TIMEOUT} s → see {self.hosts_dir / rec.name / 'console.log'}")
        return wait_system(self.trust, rec.name, timeout=BOOT_TIMEOUT)

    def _routers(self, st: State, intents: list[SiteIntent], say) -> None:
        from desa.lab import routers

        try:
            routers.ensure(self, st, intents, say)
        except routers.NotYet as e:
            say(f"{e} (router slots stay stopped)")
        self._write_trust(st)

    def _write_inventory(self, st: State) -> None:
        from desa.lab import pyinfra_inventory

        pyinfra_inventory.write(self, st)

    # status --------------------------------------------------------------------------------------
    def status(self) -> dict:
        st = self.load_state()

        def probe(rec: HostRecord) -> str:
            host = Host(rec, self.hosts_dir)
            if not (host.running() and host.mounted()):
                return "stopped"
            out = self.trust.ssh(rec.name, "systemctl is-system-running", timeout=15).stdout.strip()
            return "running" if out == "running" else "degraded"

        recs = list(st.hosts.values())
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(recs)))) as pool:
            states = list(pool.map(probe, recs))
        hosts: dict[str, dict] = {}
        for rec, state in zip(recs, states):
            hosts[rec.name] = {"state": state, "address": rec.address, "kind": rec.kind, "site": rec.site}
        from desa.lab import routers

        for name, r in st.routers.items():
            hosts[name] = {"state": routers.state(st, r), "address": r.address, "kind": "router",
                           "site": r.site}
        return {"hosts": hosts}

    def memory(self) -> dict[str, int]:
        """Proportional memory (PSS, bytes) of what the lab runs: per host, and its daemons."""
        st = self.load_state()
        out: dict[str, int] = {}
        for rec in st.hosts.values():
            out[rec.name] = sum(_pss(pid) for pid in Host(rec, self.hosts_dir).cgroup_pids())
        for name, proc in st.procs.items():
            out[name] = _pss(proc.pid) if proc.alive() else 0
        return out

    # down / destroy ----------------------------------------------------------------------------
    def down(self) -> None:
        preflight.require_root()
        if not self.state_file.exists():
            return  # nothing was ever started here
        with locked(self.state_dir):
            st = self.load_state()
            self._down(st)
            st.save(self.state_file)

    def _down(self, st: State) -> None:
        self.trust.close_masters(list(st.hosts))
        from desa.lab import link

        link.stop_all(self, st)
        for name in list(st.procs):
            st.procs.pop(name).stop(timeout=10)
        hosts = [Host(rec, self.hosts_dir) for rec in st.hosts.values()]
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(hosts)))) as pool:
            list(pool.map(lambda h: h.stop(), hosts))
        for h in hosts:
            h.unmount()
        for m in st.mounts:
            if _is_mount(m):
                from desa.lab.sh import run

                run(["umount", "-l", m], check=False)
        st.mounts = []
        for link_name in reversed(st.links):
            net.delete_link(link_name)
        st.links = []
        for ns in st.netns:
            net.delete_netns(ns)
        st.netns = []
        if st.nft_table:
            net.delete_table(st.nft_table)
            st.nft_table = None
        st.save(self.state_file)
        aptcache.release(self.state_dir)
        shutil.rmtree(self.trust.control_dir, ignore_errors=True)

    def destroy(self) -> None:
        if not self.state_dir.exists():
            return
        with locked(self.state_dir):
            st = self.load_state()
            self._down(st)
            for name in OWNED:
                path = self.state_dir / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _is_mount(path: str) -> bool:
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)
