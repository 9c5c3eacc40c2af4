from __future__ import annotations

from datetime import datetime

import pytest

from desa.routeros.device import Device

FIXED = datetime(2026, 11, 28, 10, 0, 0)


@pytest.fixture
def blank() -> Device:
    dev = Device("R1", blank=True, clock=lambda: FIXED)
    yield dev
    dev.close()


@pytest.fixture
def router() -> Device:
    dev = Device("R1", clock=lambda: FIXED)
    yield dev
    dev.close()
