"""Fixtures of the site checks (pytest-testinfra), run by `desa check SITE` or plain pytest:

    pytest checks/ --desa-site lambangsari [--desa-inventory DIR] [--desa-lab STATE_DIR]

Fixtures: `intent` (the site's SiteIntent), `server` and `hub` (testinfra hosts over SSH),
`router` (an open RouterOS session), `in_lab` (bool). Every assertion message is one line:
"what is wrong → what to do".
"""

from __future__ import annotations

from pathlib import Path

import pytest
import testinfra

from desa import inventory as inventory_mod
from desa.intent import SiteIntent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("desa", "desa-digital site checks")
    group.addoption("--desa-site", action="store", help="Site slug or kode to check")
    group.addoption("--desa-inventory", action="store", default=None, help="Inventory folder")
    group.addoption("--desa-lab", action="store", default=None,
                    help="Lab state folder: reach hosts through the lab's ssh_config")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--desa-site"):
        raise pytest.UsageError("checks need --desa-site SLUG (or run them with `desa check SITE`)")


@pytest.fixture(scope="session")
def intent(pytestconfig: pytest.Config) -> SiteIntent:
    root = pytestconfig.getoption("--desa-inventory")
    inv = inventory_mod.load(Path(root) if root else None)
    return inv.site(pytestconfig.getoption("--desa-site"))


@pytest.fixture(scope="session")
def lab_dir(pytestconfig: pytest.Config) -> Path | None:
    value = pytestconfig.getoption("--desa-lab")
    return Path(value) if value else None


@pytest.fixture(scope="session")
def in_lab(lab_dir: Path | None) -> bool:
    return lab_dir is not None


def _ssh_host(name: str, address: str, user: str, port: int, lab_dir: Path | None):
    if lab_dir is not None:
        config = lab_dir / "ssh_config"
        if not config.exists():
            pytest.fail(f"lab ssh_config {config} is missing → run `desa lab up`", pytrace=False)
        return testinfra.get_host(f"ssh://{name}", ssh_config=str(config))
    return testinfra.get_host(f"ssh://{user}@{address}:{port}")


@pytest.fixture(scope="session")
def server(intent: SiteIntent, lab_dir: Path | None):
    host = _ssh_host(intent.server.hostname, str(intent.server.address), intent.server.ssh_user,
                     intent.server.ssh_port, lab_dir)
    try:
        host.run("true")
    except Exception as e:  # noqa: BLE001 - any connection failure ends the checks of this host
        pytest.fail(f"cannot reach server {intent.server.hostname} at {intent.server.address} ({e}) "
                    f"→ check its power and uplink, then `desa lab up`/`desa deploy {intent.slug}`", pytrace=False)
    return host


@pytest.fixture(scope="session")
def hub(intent: SiteIntent, lab_dir: Path | None):
    return _ssh_host(intent.hub.name, str(intent.hub.endpoint), intent.hub.ssh_user, 22, lab_dir)


@pytest.fixture(scope="session")
def router(intent: SiteIntent):
    from desa.network.connection import open_router

    try:
        with open_router(intent) as session:
            yield session
    except OSError as e:
        pytest.fail(f"cannot reach router {intent.router.identity} at {intent.router.address} ({e}) "
                    f"→ check the router is powered and reachable, then `desa deploy {intent.slug} --only network`",
                    pytrace=False)


@pytest.fixture(autouse=True)
def _record_site(record_property, request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> None:
    record_property("site", pytestconfig.getoption("--desa-site"))
    record_property("check", request.node.module.__name__.removeprefix("test_"))

