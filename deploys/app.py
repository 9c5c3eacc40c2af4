"""The village app on each site's server, runnable by plain pyinfra:

    pyinfra state/lab/inventory.py deploys/app.py --sudo                   # the lab (servers carry desa_site)
    pyinfra srv.example deploys/app.py --data desa_site=sumberjaya --sudo

Each server needs `desa_site` (slug or kode); hubs (host data `desa_regency`, no `desa_site`) and routers
(`@routeros/…` hosts, which carry `desa_site` too) run no app and are left alone; `desa_inventory` optionally names the inventory folder
(default $DESA_INVENTORY or inventory/). Secrets come from the store `$DESA_SECRETS` selects.
`desa deploy SITE --only app` does the same with results per site.
"""

from pathlib import Path

from pyinfra import host
from pyinfra.api.exceptions import PyinfraError

from desa import inventory
from desa.app.deploy import converge

site_ref = host.data.get("desa_site")
if host.name.startswith("@routeros/") or host.data.get("routeros_hostname"):
    pass  # the site's router: the network deploy's business
elif site_ref:
    root = host.data.get("desa_inventory")
    inv = inventory.load(Path(root) if root else None)
    converge(inv.site(site_ref), lab=bool(host.data.get("desa_lab")), project_root=inv.project_root,
             inventory_root=inv.root)
elif not host.data.get("desa_regency"):  # a hub has no app; anything else is a mistake
    raise PyinfraError(f"{host.name}: host data `desa_site` (the site slug) is required")
