"""The lab: real Debian 12 hosts and simulated RouterOS routers standing in for the sites (root).

    desa lab up --all            # hub + one server and one router slot per site; again = no-op/repair
    desa lab status [--json]     # {"hosts": {NAME: {"state": running|degraded|stopped, "address": …}}}
    desa lab link SITE [--off]   # emulate the site's uplink (RTT, jitter, stalls, drops, bandwidth)
    desa lab down                # stop everything it started (host disks are kept)
    desa lab destroy             # down + delete the hosts and the lab's state
    ssh -F state/lab/ssh_config srv-lambangsari
    pyinfra state/lab/inventory.py deploys/server.py     # groups servers, hubs (and routers when running)

What runs where (names derived from the state dir, so labs coexist; `Lab(state_dir)`):
- servers and the hub: `systemd-nspawn --boot` from one cached mmdebstrap image (image.py) through
  an overlay each (host.py), in their own cgroup, restarted by a boot loop when the guest reboots;
  each on a bridge holding its gateway address, at its inventory address (net.py);
- router slots: a network namespace per site at the router's management address, where one daemon
  (routerd.py) serves every site's RouterOS simulator (desa.routeros), state kept across restarts;
- the policy (nftables, net.py): a server reaches the hub endpoint (WireGuard, SSH/SFTP), its own
  router and the apt cache — never another site's server directly; nothing leaves the machine
  except apt through one shared apt-cacher-ng (aptcache.py);
- link emulation (link.py, linkd.py): tbf both ways plus a userspace relay for latency, jitter,
  stalls and drops on the controller's TCP to the site;
- SSH trust (ssh.py): a deploy key, a known_hosts written from the hosts' own keys, an ssh_config
  with ControlMaster; every process, mount, link and namespace is recorded (state.py) and `down`
  removes exactly those.
Side-by-side labs for tests: `desa.lab.testing.private_inventory`.
"""

from desa.lab.errors import LabError
from desa.lab.lab import Lab

__all__ = ["Lab", "LabError"]
