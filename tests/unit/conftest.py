"""Unit tests of the foundation: each works on a private copy of the Bekasi inventory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from desa import inventory
from desa.errors import InventoryError, Problem

PROJECT = Path(__file__).resolve().parents[2]
BEKASI = PROJECT / "inventory" / "bekasi"


class Inv:
    """A tmp copy of inventory/ with helpers to break it one change at a time."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        """'regency' or a site slug → its file."""
        if name == "regency":
            return self.root / "bekasi" / "regency.yaml"
        return self.root / "bekasi" / "sites" / f"{name}.yaml"

    def replace(self, name: str, old: str, new: str) -> int:
        """Replace one exact text in a file; return the (1-based) line it is on."""
        p = self.path(name)
        text = p.read_text()
        assert text.count(old) == 1, f"{old!r} must occur once in {p.name}"
        p.write_text(text.replace(old, new))
        return text[: text.index(old)].count("\n") + 1

    def append(self, name: str, text: str) -> int:
        """Append lines to a file; return the line number of the first appended line."""
        p = self.path(name)
        before = p.read_text()
        if not before.endswith("\n"):
            before += "\n"
        p.write_text(before + text)
        return before.count("\n") + 1

    def line_of(self, name: str, needle: str) -> int:
        lines = self.path(name).read_text().splitlines()
        hits = [i + 1 for i, line in enumerate(lines) if needle in line]
        assert len(hits) == 1, f"{needle!r} must be on one line of {name}: {hits}"
        return hits[0]

    def load(self):
        return inventory.load(self.root)

    def problems(self) -> list[Problem]:
        with pytest.raises(InventoryError) as info:
            inventory.load(self.root)
        return info.value.problems


@pytest.fixture(autouse=True)
def isolated_secrets(tmp_path: Path, monkeypatch):
    """No test reads or writes the project's secrets: age store with no identity, lab store in tmp."""
    monkeypatch.delenv("DESA_SECRETS", raising=False)
    monkeypatch.delenv("DESA_INVENTORY", raising=False)
    monkeypatch.setenv("DESA_AGE_IDENTITY", str(tmp_path / "no-age-identity"))
    monkeypatch.setenv("DESA_LAB_SECRETS", str(tmp_path / "lab-secrets"))


@pytest.fixture
def inv(tmp_path: Path) -> Inv:
    root = tmp_path / "inventory"
    shutil.copytree(BEKASI, root / "bekasi", ignore=shutil.ignore_patterns("*.age"))
    return Inv(root)


def find(problems: list[Problem], file: Path, line: int, field: str, text: str) -> Problem:
    """The one problem at file:line, field, whose message says `text` — or a failure listing them all."""
    for p in problems:
        if Path(p.file) == file and p.line == line and p.field == field and text in p.message:
            return p
    listing = "\n".join(str(p) for p in problems) or "(none)"
    raise AssertionError(f"no problem at {file.name}:{line} {field} saying {text!r}; got:\n{listing}")
