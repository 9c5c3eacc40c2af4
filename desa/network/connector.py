"""pyinfra connector for RouterOS routers (entry point `routeros`), backed by netmiko.

    pyinfra @routeros/10.216.1.129 deploys/network.py
    hosts = [("@routeros/lambangsari-gw", {"routeros_hostname": "10.216.1.129",
                                          "routeros_password": "secret:routers/admin"})]

`run_shell_command` sends each line of a command to the router and reports failure when RouterOS
prints an error (never success by default). Files move over SCP.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from io import IOBase
from pathlib import Path
from typing import Iterator

from typing_extensions import TypedDict, override

from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.util import CommandOutput, OutputLine

from desa.network.connection import RouterOSError, RouterOSSession, connect


class ConnectorData(TypedDict):
    routeros_hostname: str
    routeros_port: int
    routeros_user: str
    routeros_password: str
    routeros_timeout: int


connector_data_meta: dict[str, DataMeta] = {
    "routeros_hostname": DataMeta("Address of the router (defaults to the host name)"),
    "routeros_port": DataMeta("SSH port", 22),
    "routeros_user": DataMeta("User name", "desa"),
    "routeros_password": DataMeta("Password or a `secret:REF` resolved by desa.secrets"),
    "routeros_timeout": DataMeta("Seconds to wait for a command", 30),
}


def _password(value: str | None) -> str:
    if value and value.startswith("secret:"):
        from desa import secrets

        return secrets.resolve(value)
    if not value:
        raise ConnectError("routeros_password is not set (a password or a secret:REF)")
    return value


class RouterOSConnector(BaseConnector):
    """RouterOS routers as pyinfra hosts over netmiko."""

    handles_execution = True
    data_cls = ConnectorData
    data_meta = connector_data_meta
    data: ConnectorData
    session: RouterOSSession | None = None

    @override
    @staticmethod
    def make_names_data(name: str):
        yield f"@routeros/{name}", {"routeros_hostname": name}, ["@routeros"]

    def _open(self) -> RouterOSSession:
        try:
            return connect(
                self.data["routeros_hostname"] or self.host.name.removeprefix("@routeros/"),
                int(self.data["routeros_port"] or 22),
                self.data["routeros_user"] or "desa",
                _password(self.data["routeros_password"]),
                timeout=float(self.data["routeros_timeout"] or 30),
            )
        except ConnectError:
            raise
        except Exception as e:  # noqa: BLE001 - netmiko/paramiko raise many kinds
            raise ConnectError(f"cannot connect to RouterOS {self.host.name}: {type(e).__name__}: {e}") from e

    @override
    def connect(self) -> None:
        self.session = self._open()

    @contextmanager
    def fresh_session(self) -> Iterator[RouterOSSession]:
        """A second, new session (proof that management still works after a push)."""
        session = self._open()
        try:
            yield session
        finally:
            session.close()

    @override
    def disconnect(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    @override
    def run_shell_command(self, command, print_output: bool = False, print_input: bool = False,
                          **arguments) -> tuple[bool, CommandOutput]:
        text = command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)
        if self.session is None:
            self.connect()
        assert self.session is not None
        lines: list[OutputLine] = []
        for line in (ln.strip() for ln in text.splitlines()):
            if not line:
                continue
            if print_input:
                print(f"{self.host.print_prefix}>>> {line}")
            try:
                if line.startswith("/system identity set"):
                    output = self.session.send_last(line)
                else:
                    output = self.session.send(line)
            except Exception as e:  # noqa: BLE001 - a RouterOS error or a dropped session: failed
                message = e.output if isinstance(e, RouterOSError) else f"{type(e).__name__}: {e}"
                if not isinstance(e, RouterOSError):  # the session is gone: reconnect next time
                    self.session.close()
                    self.session = None
                if print_output:  # pyinfra prints stderr itself only when it did not ask us to
                    print(f"{self.host.print_prefix}{message}")
                lines.append(OutputLine("stderr", message))
                return False, CommandOutput(lines)
            for out_line in output.splitlines():
                if print_output:
                    print(f"{self.host.print_prefix}{out_line}")
                lines.append(OutputLine("stdout", out_line))
        return True, CommandOutput(lines)

    @override
    def put_file(self, filename_or_io, remote_filename: str, remote_temp_filename=None,
                 print_output: bool = False, print_input: bool = False, **arguments) -> bool:
        from desa.network.safety import upload

        if self.session is None:
            self.connect()
        if isinstance(filename_or_io, (str, Path)):
            upload(self.session, filename_or_io, remote_filename)
            return True
        with tempfile.NamedTemporaryFile("wb") as tmp:
            data = filename_or_io.read()
            tmp.write(data.encode() if isinstance(data, str) else data)
            tmp.flush()
            upload(self.session, tmp.name, remote_filename)
        return True

    @override
    def get_file(self, remote_filename: str, filename_or_io, remote_temp_filename=None,
                 print_output: bool = False, print_input: bool = False, **arguments) -> bool:
        from desa.network.safety import download

        if self.session is None:
            self.connect()
        if isinstance(filename_or_io, (str, Path)):
            download(self.session, remote_filename, Path(filename_or_io))
            return True
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "file"
            download(self.session, remote_filename, local)
            data = local.read_bytes()
        if isinstance(filename_or_io, IOBase) and "b" not in getattr(filename_or_io, "mode", "b"):
            filename_or_io.write(data.decode())
        else:
            filename_or_io.write(data)
        return True
