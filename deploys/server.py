"""The village servers and their regency hub, runnable by plain pyinfra:

    pyinfra state/lab/inventory.py deploys/server.py --limit servers --limit hubs   # the lab
    pyinfra INVENTORY deploys/server.py                               # from desa.runner.pyinfra_inventory(...)

A host with `desa_site` (slug or kode) gets the server roles (base, hardening, firewall, vpn,
monitoring, backup); a host with `desa_regency` gets the hub role for every site of that regency.
`desa_inventory` names the inventory folder (default $DESA_INVENTORY or inventory/). Secrets come from
the store `$DESA_SECRETS` selects. `desa deploy SITE --only server` does the same with results per site.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinfra import config, host  # noqa: E402
from pyinfra.api.exceptions import PyinfraError  # noqa: E402

from desa import inventory  # noqa: E402

config.SUDO = True  # every role manages system files (the deploy user has passwordless sudo)
config.TEMP_DIR = ".desa-tmp"  # uploads via the deploy user's own 0700 folder (roles.private_uploads), not /tmp
from desa.server import converge_hub, converge_server, regency_sites  # noqa: E402

root = host.data.get("desa_inventory")
if host.data.get("routeros_hostname"):
    pass  # a router of the lab's inventory: deploys/network.py is its deploy
elif host.data.get("desa_site"):
    converge_server(inventory.load(Path(root) if root else None).site(host.data.get("desa_site")))
elif host.data.get("desa_regency"):
    converge_hub(regency_sites(Path(root) if root else inventory.default_root(), host.data.get("desa_regency")))
else:
    raise PyinfraError(f"{host.name}: host data `desa_site` (a server) or `desa_regency` (a hub) is required")
