"""`desa secrets set|list|recipients`: the encrypted secrets store (`desa.secrets`).

Values are read from stdin (or a hidden prompt), never from the command line.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from desa.console import err, out

app = typer.Typer(help="The secrets store (age-encrypted in the inventory; DESA_SECRETS=lab for the lab).",
                  no_args_is_help=True)
RegencyOpt = Annotated[Optional[str], typer.Option("--regency", "-r", help="Regency folder (when several)")]


@app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="NAME or secret:NAME, e.g. routers/lambangsari/admin")],
    regency: RegencyOpt = None,
) -> None:
    """Store a value read from stdin (or a hidden prompt on a terminal)."""
    from desa import secrets

    if sys.stdin.isatty():
        value = typer.prompt(f"value of {secrets.name_of(name)}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read().rstrip("\n")
    secrets.store(name if name.startswith("secret:") else f"secret:{name}", value, regency=regency)
    err.print(f"stored {secrets.name_of(name)} ({secrets.backend()} store)")


@app.command("list")
def list_(regency: RegencyOpt = None) -> None:
    """Names in the store (never values)."""
    from desa import secrets

    for name in secrets.names(regency):
        out.print(name, highlight=False)


@app.command()
def recipients(
    regency: RegencyOpt = None,
    add: Annotated[Optional[str], typer.Option("--add", help="An age public key (age1…) to add, then re-encrypt")] = None,
    remove: Annotated[Optional[str], typer.Option("--remove", help="An age public key to remove, then re-encrypt")] = None,
    comment: Annotated[str, typer.Option(help="Whose key it is (kept as a comment)")] = "",
) -> None:
    """List the age public keys the regency's store is encrypted to; --add/--remove one."""
    from desa import secrets

    reg = secrets._single_regency(regency)
    path = secrets.recipients_path(reg)
    if add or remove:
        import pyrage

        if add:
            try:
                pyrage.x25519.Recipient.from_str(add)
            except Exception as e:  # noqa: BLE001
                raise secrets.SecretsError(f"{add!r} is not an age public key → give the age1… line of age-keygen") from e
        lines = path.read_text().splitlines() if path.exists() else []
        if remove:
            lines = [ln for ln in lines if ln.split("#", 1)[0].strip() != remove]
        if add and add not in secrets.recipients(reg):
            lines.append(f"{add}  # {comment}" if comment else add)
        path.write_text("\n".join(lines) + "\n")
        if (path.parent / "secrets.age").exists():
            secrets.reencrypt(reg)
    for key in secrets.recipients(reg):
        out.print(key, highlight=False)
