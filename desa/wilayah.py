"""Kode wilayah: every Indonesian administrative area code (Kepmendagri 300.2.2-2138/2025).

Data: `desa/data/wilayah.csv`, from cahyadsn/wilayah (MIT); see `desa/data/README.md`.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def names() -> dict[str, str]:
    """kode → nama for provinces, regencies, kecamatan and villages."""
    with resources.files("desa.data").joinpath("wilayah.csv").open(encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)  # header
        return {kode: nama for kode, nama in reader}


def name(kode: str) -> str | None:
    return names().get(kode)


def kecamatan_of(kode: str) -> str:
    return kode.rsplit(".", 1)[0]


def regency_of(kode: str) -> str:
    return ".".join(kode.split(".")[:2])


def is_desa(kode: str) -> bool:
    """The fourth segment tells a desa (2xxx) from an urban kelurahan (1xxx)."""
    parts = kode.split(".")
    return len(parts) == 4 and parts[3].startswith("2")


def villages_of(regency_kode: str) -> list[str]:
    prefix = regency_kode + "."
    return [k for k in names() if k.startswith(prefix) and k.count(".") == 3]


def normalise(text: str) -> str:
    """Compare names loosely: case, spaces and 'Desa '/'Kec. ' prefixes do not matter."""
    t = text.strip().lower()
    for prefix in ("desa ", "kelurahan ", "kecamatan ", "kec. "):
        if t.startswith(prefix):
            t = t[len(prefix):]
    return " ".join(t.split())
