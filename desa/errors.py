"""Errors the tool reports to people: each names the file, line and field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

try:  # typer ≥0.25 vendors its own click; its exceptions are the ones it handles
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on the real click
    from click import ClickException


@dataclass(frozen=True)
class Problem:
    file: Path | str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": str(self.file), "line": self.line, "field": self.field, "message": self.message}


class DesaError(ClickException):
    """Base of every error the CLI turns into a clean message and an exit code (no traceback)."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)


class InventoryError(DesaError):
    """The inventory is invalid; nothing may be deployed from it."""

    exit_code = 1

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (str(p.file), p.line or 0, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))
        self.exit_code = 1


class UsageError(DesaError):
    """The command line asks for something that does not exist (an unknown site, say)."""

    exit_code = 2
