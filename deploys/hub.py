"""The regency hubs only, runnable by plain pyinfra:

    pyinfra state/lab/inventory.py deploys/hub.py --limit hubs

Each hub host needs `desa_regency`; it gets WireGuard peers for every site's server and router, and a
chrooted SFTP backup repository per site (see roles/hub.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinfra import config, host  # noqa: E402
from pyinfra.api.exceptions import PyinfraError  # noqa: E402

from desa import inventory  # noqa: E402

config.SUDO = True  # every role manages system files (the deploy user has passwordless sudo)
config.TEMP_DIR = ".desa-tmp"  # uploads via the deploy user's own 0700 folder (roles.private_uploads), not /tmp
from desa.server import converge_hub, regency_sites  # noqa: E402

regency = host.data.get("desa_regency")
if not regency:
    raise PyinfraError(f"{host.name}: host data `desa_regency` is required (deploys/hub.py runs on hubs)")
root = host.data.get("desa_inventory")
converge_hub(regency_sites(Path(root) if root else inventory.default_root(), regency))
