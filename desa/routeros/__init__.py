"""A faithful MikroTik RouterOS 7 simulator: grammar and semantics checked against the RouterOS 7 command
tree (``routeros-lsp`` data), RouterOS's export format and error wording, served over SSH (asyncssh).

Public API::

    from desa.routeros import Device, DeviceSpec, RouterSimulator, SimulatorServer, RouterOSError
"""

from desa.routeros.device import Device, Faults
from desa.routeros.errors import RouterOSError
from desa.routeros.server import DeviceSpec, RouterSimulator, SimulatorServer

__all__ = ["Device", "DeviceSpec", "Faults", "RouterOSError", "RouterSimulator", "SimulatorServer"]
