"""The village information system on each site's server (stage "app").

    from desa.app import deploy_apps          # deploy_apps(intents, *, lab, lab_state=None) -> [StageResult]
    from desa.app.rollback import rollback    # rollback(intent, *, lab, lab_state=None) -> RollbackResult
    from desa.app.fixture import build        # the OpenSID-shaped fixture releases

Modules: release (layout, fact and operation of the release switch), db (database + least-privilege
user), tls (certificates), deploy (pyinfra run), rollback, status, fixture.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name == "deploy_apps":
        from desa.app.deploy import deploy_apps

        return deploy_apps
    raise AttributeError(name)


__all__ = ["deploy_apps"]
