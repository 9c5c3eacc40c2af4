"""The lab: real Debian 12 hosts (systemd-nspawn) and simulated routers standing in for the sites.

See `desa.lab.lab.Lab` (the interface) and `desa.lab.testing.private_inventory` (side-by-side labs).
"""

from desa.lab.errors import LabError
from desa.lab.lab import Lab

__all__ = ["Lab", "LabError"]
