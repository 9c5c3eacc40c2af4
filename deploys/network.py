"""Village routers as pyinfra hosts (the `routeros` connector): converge each to its intent.

    pyinfra deploys/inventory_routers.py deploys/network.py          # an inventory of @routeros hosts
    pyinfra @routeros/10.216.1.129 deploys/network.py --data desa_site=lambangsari \
        --data routeros_password=secret:routers/admin

Each host needs `desa_site` (slug or kode); `desa_inventory` optionally names the inventory folder.
Like `desa deploy SITE --only network`: a backup before any change (kept under `state/network/SLUG/`),
an armed self-revert around changes that can cut management, confirmed from a new session.
"""

from pathlib import Path

from pyinfra import host
from pyinfra.api.exceptions import PyinfraError

from desa import inventory
from desa.network import operations as routeros
from desa.network.deploy import management_sources, revert_seconds
from desa.network.render import render_site

site_ref = host.data.get("desa_site")
if not site_ref:
    raise PyinfraError(f"{host.name}: host data `desa_site` (the site slug) is required")
root = host.data.get("desa_inventory")
intent = inventory.load(Path(root) if root else None).site(site_ref)

# the address this controller manages from stays allowed (as `desa deploy` does)
sources = management_sources(intent, getattr(host.connector, "session", None))
routeros.config(name=f"RouterOS configuration of {intent.router.identity}",
                rsc=render_site(intent, management_sources=sources), site=intent.slug,
                revert_seconds=revert_seconds())
