"""``desa lab router``: run simulated MikroTik RouterOS 7 routers."""

from __future__ import annotations

import signal
import threading

import typer

app = typer.Typer(help="Simulated MikroTik RouterOS 7 routers for tests and the lab.", no_args_is_help=True)


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:2222", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.callback()
def _group() -> None:
    """Simulated MikroTik RouterOS 7 routers."""


@app.command()
def serve(
    listen: str = typer.Option("127.0.0.1:2222", "--listen", help="HOST:PORT to accept SSH on (port 0: any free port)."),
    identity: str = typer.Option("MikroTik", "--identity", help="/system identity of the router."),
    user: str = typer.Option("admin", "--user", help="Login name."),
    password: str = typer.Option("", "--password", help="Login password (RouterOS's factory default is empty)."),
    blank: bool = typer.Option(False, "--blank", help="No default configuration (as after reset-configuration no-defaults=yes)."),
    version: str = typer.Option("7.16", "--version", help="RouterOS version the router reports."),
    files: str = typer.Option(None, "--files", help="Directory for the router's file store (default: a temporary one)."),
) -> None:
    """Run one simulated router in the foreground until Ctrl-C. Files uploaded over SCP/SFTP land in its
    store (``flash/…``); ``/import file-name=flash/X.rsc`` applies them."""
    from desa.routeros.server import DeviceSpec, RouterSimulator

    host, port = _split_listen(listen)
    spec = DeviceSpec(identity=identity, host=host, port=port, username=user, password=password, blank=blank,
                      version=version, files_root=files)
    sim = RouterSimulator.start_in_thread([spec])
    typer.echo(f"RouterOS {version} simulator '{identity}' listening on {host}:{sim.port(identity)} "
               f"(user {user}); Ctrl-C to stop", err=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread (e.g. under a test runner)
            pass
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        typer.echo("stopped")
