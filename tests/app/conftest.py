"""App tests: unit tests as data run anywhere; lab tests need root and skip, saying so, otherwise."""

from __future__ import annotations

import os
import secrets as pysecrets
import sys
import types
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
    """The secrets store in lab mode. Until `desa.secrets` lands, a stand-in that generates random
    values on first use into 0600 files of a temporary folder (never fixed values)."""
    old = os.environ.get("DESA_SECRETS")
    os.environ["DESA_SECRETS"] = "lab"
    fake = None
    try:
        import desa.secrets  # noqa: F401
    except ModuleNotFoundError:
        store = tmp_path_factory.mktemp("secrets")
        store.chmod(0o700)

        def resolve(ref: str) -> str:
            path = store / ref.replace("/", "_").replace(":", "_")
            if not path.exists():
                path.write_text(pysecrets.token_urlsafe(24))
                path.chmod(0o600)
            return path.read_text()

        fake = types.ModuleType("desa.secrets")
        fake.resolve = resolve
        fake.mask = lambda text: text
        sys.modules["desa.secrets"] = fake
    from desa.secrets import resolve

    yield resolve
    if fake is not None:
        sys.modules.pop("desa.secrets", None)
    if old is None:
        os.environ.pop("DESA_SECRETS", None)
    else:
        os.environ["DESA_SECRETS"] = old
