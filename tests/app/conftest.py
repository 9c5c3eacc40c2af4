"""App tests: unit tests as data run anywhere; lab tests need root and skip, saying so, otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="app lab tests need root (the lab: namespaces, mounts, systemd-nspawn)")
    for item in items:
        if "lab" in item.keywords and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def lab_secrets(tmp_path_factory):
    """The secrets store in lab mode, in a folder of this module's own (generated on first use)."""
    saved = {k: os.environ.get(k) for k in ("DESA_SECRETS", "DESA_LAB_SECRETS")}
    store = tmp_path_factory.mktemp("lab-secrets")
    store.chmod(0o700)
    os.environ["DESA_SECRETS"] = "lab"
    os.environ["DESA_LAB_SECRETS"] = str(store)
    from desa.secrets import resolve

    yield resolve
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
