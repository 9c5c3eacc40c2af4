"""Lab tests need root (namespaces, mounts, systemd-nspawn); they skip, saying so, otherwise."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="lab tests need root (network namespaces, mounts, systemd-nspawn)")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)
