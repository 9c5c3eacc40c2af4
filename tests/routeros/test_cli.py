"""``desa lab router serve`` (the typer app the CLI owner mounts) and ``python -m desa.routeros``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from desa.commands.router import _split_listen, app

pytestmark = pytest.mark.timeout(60)


def test_help_lists_options():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--listen", "--identity", "--user", "--password", "--blank"):
        assert option in result.output


def test_listen_parsing():
    assert _split_listen("0.0.0.0:2222") == ("0.0.0.0", 2222)
    assert _split_listen("[::1]:22") == ("::1", 22)


def test_module_entry_point_serves_until_stopped():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "desa.routeros", "serve", "--listen", f"127.0.0.1:{port}",
                             "--identity", "cli", "--blank", "--password", "pw"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    assert c.recv(32).startswith(b"SSH-2.0-ROSSSH")
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("simulator did not listen")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "listening on 127.0.0.1" in out and "stopped" in out
