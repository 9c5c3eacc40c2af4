"""The `desa` command. Each command group lives in `desa/commands/`."""

from __future__ import annotations

import importlib
import typer

app = typer.Typer(
    name="desa",
    help="desa-digital: village network gear, servers and apps from one typed inventory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

from desa.commands import inventory as _inventory  # noqa: E402

app.command()(_inventory.validate)
app.command()(_inventory.show)

# Command groups and commands owned by other modules; registered when their module exists.
_GROUPS = {"lab": "desa.commands.lab", "app": "desa.commands.app", "secrets": "desa.commands.secrets"}
_COMMANDS = {
    "new": ("desa.commands.inventory", "new"),
    "schema": ("desa.commands.inventory", "schema"),
    "render": ("desa.commands.network", "render"),
    "plan": ("desa.commands.deploy", "plan"),
    "deploy": ("desa.commands.deploy", "deploy"),
    "check": ("desa.commands.check", "check"),
    "backup": ("desa.commands.backup", "backup"),
    "restore": ("desa.commands.backup", "restore"),
}


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise


for _name, (_module, _attr) in _COMMANDS.items():
    _mod = _optional(_module)
    if _mod is not None and hasattr(_mod, _attr):
        app.command(_name)(getattr(_mod, _attr))
for _name, _module in _GROUPS.items():
    _mod = _optional(_module)
    if _mod is not None:
        _group = _mod.app
        if _name == "lab":
            _router = _optional("desa.commands.router")
            if _router is not None:
                _group.add_typer(_router.app, name="router")
        app.add_typer(_group, name=_name)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
