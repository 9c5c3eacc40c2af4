"""Server tests: unit tests as data run anywhere; lab tests need root and skip, saying so, otherwise."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from desa.inventory import PROJECT_ROOT

HERE = Path(__file__).parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="server lab tests need root (the lab: namespaces, mounts, systemd-nspawn)")
    for item in items:
        if "lab" in item.keywords and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture
def lab_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DESA_SECRETS", "lab")
    monkeypatch.setenv("DESA_LAB_SECRETS", str(tmp_path / "lab-secrets"))
    return tmp_path / "lab-secrets"


@pytest.fixture(scope="session")
def bekasi():
    from desa import inventory

    return inventory.load()
