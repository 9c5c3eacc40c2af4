"""netmiko ``mikrotik_routeros`` and scrapli drive the simulator over SSH."""

from __future__ import annotations

import re
import socket

import pytest

from desa.routeros.server import DeviceSpec, RouterSimulator

pytestmark = pytest.mark.timeout(60)

ERROR_PATTERN = r"bad command name|syntax error|expected end of command|failure:|no such item|invalid value|input does not match|missing value"


@pytest.fixture(scope="module")
def sim():
    sim = RouterSimulator.start_in_thread([
        DeviceSpec("R1", password="pw"),
        DeviceSpec("R2", password="pw", blank=True),
    ])
    yield sim
    sim.stop()


def netmiko_conn(sim, identity="R1", **kw):
    from netmiko import ConnectHandler

    return ConnectHandler(device_type="mikrotik_routeros", host="127.0.0.1", port=sim.port(identity),
                          username="admin", password="pw", timeout=10, conn_timeout=10, auth_timeout=10,
                          banner_timeout=10, **kw)


def test_banner_is_rossssh(sim):
    with socket.create_connection(("127.0.0.1", sim.port("R1")), timeout=5) as s:
        assert s.recv(64).startswith(b"SSH-2.0-ROSSSH")


def test_netmiko_commands_config_and_errors(sim):
    conn = netmiko_conn(sim)
    try:
        assert conn.find_prompt() == "[admin@R1] >"
        out = conn.send_command("/ip address print")
        assert "192.168.88.1/24" in out
        conn.send_config_set(["/ip pool add name=nm ranges=10.5.0.2-10.5.0.9",
                              "/ip address add address=10.5.0.1/24 interface=ether1"],
                             error_pattern=ERROR_PATTERN)
        assert "nm" in conn.send_command("/ip pool print")
        with pytest.raises(Exception, match="failure:"):
            conn.send_config_set(["/ip address add address=10.5.0.1/24 interface=ether1"], error_pattern=ERROR_PATTERN)
        with pytest.raises(Exception, match="bad command name|matched error"):
            conn.send_config_set(["/ip adress print"], error_pattern=ERROR_PATTERN)
        assert "/ip pool" in conn.send_command("/export", read_timeout=20)
    finally:
        conn.disconnect()
    assert sim.device("R1").config.find(("ip", "pool"), None)[-1].props["name"] == "nm"


def test_netmiko_scp_upload_then_import(sim, tmp_path):
    from netmiko import file_transfer

    script = tmp_path / "site.rsc"
    script.write_text("/ip pool\nadd name=uploaded ranges=10.7.0.2-10.7.0.9\n/system identity set name=R2\n")
    conn = netmiko_conn(sim, "R2")
    try:
        result = file_transfer(conn, source_file=str(script), dest_file="site.rsc", file_system="flash",
                               direction="put", overwrite_file=True)
        assert result["file_exists"] and result["file_transferred"]
        out = conn.send_command("/import file-name=flash/site.rsc", read_timeout=20)
        assert "Script file loaded and executed successfully" in out
        assert "uploaded" in conn.send_command("/ip pool print")
        out = conn.send_command("/system backup save name=before", expect_string=r"\] >")
        assert "Configuration backup saved" in out
        assert "before.backup" in conn.send_command("/file print")
    finally:
        conn.disconnect()


def test_exec_channel_and_sftp(sim):
    import asyncio

    import asyncssh

    async def go():
        async with asyncssh.connect("127.0.0.1", sim.port("R2"), username="admin", password="pw",
                                    known_hosts=None) as conn:
            result = await conn.run("/system identity print", check=True)
            async with conn.start_sftp_client() as sftp:
                names = await sftp.listdir("flash")
            return result.stdout, names

    stdout, names = asyncio.run(asyncio.wait_for(go(), 30))
    assert "name:" in stdout.decode() if isinstance(stdout, bytes) else "name:" in stdout
    assert "site.rsc" in names


SCRAPLI_CLIENT = """
import json, sys
from scrapli import Cli
from scrapli.auth import Options as AuthOptions
from scrapli.session import Options as SessionOptions
from scrapli.transport import BinOptions

port, record = int(sys.argv[1]), sys.argv[2]
cli = Cli(definition_file_or_name="mikrotik_routeros", host="127.0.0.1", port=port,
          auth_options=AuthOptions(username="admin", password="pw"),
          # the machine's ssh_config stays out of it; no host key to trust here
          transport_options=BinOptions(enable_strict_key=False, known_hosts_path="/dev/null", ssh_config_path="/dev/null"),
          session_options=SessionOptions(operation_timeout_s=30, recorder_path=record))
with cli as conn:
    print(json.dumps([conn.send_input(input_=line).result for line in sys.argv[3:]]))
"""


def test_scrapli_drives_it(sim, tmp_path):
    """scrapli (its own native library driving the ssh binary on a pty) logs in and runs commands. It
    runs in a process of its own: in full CI runs, inside the test process, its ssh client ended before
    connecting (no connection ever reached the simulator) — never reproduced in isolation."""
    import json
    import subprocess
    import sys

    record = tmp_path / "scrapli-session.txt"
    run = subprocess.run([sys.executable, "-c", SCRAPLI_CLIENT, str(sim.port("R1")), str(record),
                          "/system identity print", "/ip adress print"],
                         capture_output=True, text=True, timeout=90)
    seen = record.read_text(errors="replace")[-2000:] if record.exists() else "(nothing recorded)"
    assert run.returncode == 0, f"{run.stderr[-3000:]}\n--- the session as scrapli saw it:\n{seen}"
    identity, typo = json.loads(run.stdout.strip().splitlines()[-1])
    assert "name: R1" in identity
    assert "bad command name adress" in typo


def test_faults_refuse_login_and_drop(sim):
    from netmiko.exceptions import NetmikoAuthenticationException

    dev = sim.device("R1")
    dev.faults.refuse_login = True
    try:
        with pytest.raises(NetmikoAuthenticationException):
            netmiko_conn(sim)
    finally:
        dev.faults.refuse_login = False
    dev.faults.drop_after_commands = 1
    conn = netmiko_conn(sim)
    try:
        conn.send_command("/system identity print")
        with pytest.raises(Exception):
            conn.send_command("/system identity print", read_timeout=5)
    finally:
        dev.faults.drop_after_commands = None
        conn.disconnect()


def test_reboot_drops_sessions_and_can_reset(sim):
    dev = sim.device("R2")
    dev.run("/ip pool add name=keep ranges=10.8.0.2")
    dev.reboot(keep_state=True)
    assert "keep" in dev.run("/ip pool print")
    dev.reboot(keep_state=False)
    assert "keep" not in dev.run("/ip pool print")
    assert re.search(r"ether5", dev.run("/interface print"))


def _shell(sim, identity, payload: bytes, until: bytes, username="admin+ct511w4098h") -> bytes:
    """Open an interactive shell, send ``payload``, read until ``until`` appears; return all output."""
    import asyncio

    import asyncssh

    async def go():
        async with asyncssh.connect("127.0.0.1", sim.port(identity), username=username, password="pw",
                                    known_hosts=None) as conn:
            proc = await conn.create_process(term_type="dumb", encoding=None)
            buf = b""
            while not buf.endswith(b"] > "):
                buf += await proc.stdout.read(4096)
            proc.stdin.write(payload)
            while until not in buf:
                chunk = await proc.stdout.read(4096)
                if not chunk:
                    break
                buf += chunk
            proc.close()
            return buf

    return asyncio.run(asyncio.wait_for(go(), 20))


def test_shell_echo_line_endings_ctrl_c_and_menu_prompts(sim):
    out = _shell(sim, "R1", b"/system identity print\r/ip address\n:put a\r\n\x03/ip pool print count-only\r\n:put END\r",
                 b"END\r\n[admin@R1] /ip address> ")
    text = out.decode()
    assert "MikroTik RouterOS 7.16" in text
    assert "[admin@R1] > /system identity print\r\n  name: R1\r\n[admin@R1] > " in text
    assert "[admin@R1] /ip address> :put a\r\na\r\n[admin@R1] /ip address> " in text
    # \r\n is one Enter (no empty extra prompt), Ctrl-C gives a fresh prompt
    assert "[admin@R1] /ip address> \r\n[admin@R1] /ip address> /ip pool print count-only" in text


def test_first_login_screens_with_netmiko():
    sim = RouterSimulator.start_in_thread([DeviceSpec("F1", password="pw", first_login=True)])
    try:
        conn = netmiko_conn(sim, "F1")
        assert conn.find_prompt() == "[admin@F1] >"
        conn.disconnect()
    finally:
        sim.stop()


def test_slow_responses(sim):
    import time

    dev = sim.device("R2")
    dev.faults.delay = 0.5
    try:
        conn = netmiko_conn(sim, "R2")
        t0 = time.monotonic()
        assert "name:" in conn.send_command("/system identity print", read_timeout=10)
        assert time.monotonic() - t0 >= 0.5
        conn.disconnect()
    finally:
        dev.faults.delay = 0.0
