"""pyinfra facts of RouterOS routers (through the `routeros` connector)."""

from __future__ import annotations

import re

from pyinfra.api import FactBase

from desa.network.export import Export, normalise_path, parse


class RouterOSExport(FactBase):
    """The running configuration, parsed into menu → items (`/export terse`, or one menu)."""

    def command(self, menu: str = "") -> str:
        return f"{normalise_path(menu)} export terse" if menu else "/export terse"

    @staticmethod
    def default() -> Export:
        return Export()

    def process(self, output: list[str]) -> Export:
        return parse("\n".join(output))


class RouterOSIdentity(FactBase):
    """The router's identity (`/system identity print`)."""

    def command(self) -> str:
        return "/system identity print"

    def process(self, output: list[str]) -> str | None:
        for line in output:
            m = re.match(r"\s*name:\s*(.*?)\s*$", line)
            if m:
                return m.group(1)
        return None


class RouterOSResource(FactBase):
    """`/system resource print` as a dict (`version`, `free-memory`, `board-name` …)."""

    def command(self) -> str:
        return "/system resource print"

    @staticmethod
    def default() -> dict:
        return {}

    def process(self, output: list[str]) -> dict[str, str]:
        data = {}
        for line in output:
            m = re.match(r"\s*([a-z0-9-]+):\s*(.*?)\s*$", line)
            if m:
                data[m.group(1)] = m.group(2)
        return data
