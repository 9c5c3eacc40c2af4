"""Network tests use the secrets store in lab mode (values generated on first use) in a folder of
this test session, never the project's `state/lab-secrets/` nor the age store."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def lab_secrets(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("DESA_SECRETS", "DESA_LAB_SECRETS")}
    os.environ["DESA_SECRETS"] = "lab"
    os.environ["DESA_LAB_SECRETS"] = str(tmp_path_factory.mktemp("lab-secrets"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
