"""The OpenSID-shaped fixture releases, built reproducibly (`desa app fixture`).

Real OpenSID releases cannot be downloaded on the lab machines, so the tests deploy a small app of
the same shape from `tests/app/fixture_src/`. Each release is a `.tar.gz` with one top folder
`opensid-fixture-VERSION/` (like a GitHub release tarball). Entries are sorted, owned by 0:0, with a
fixed mtime and normalised modes, and gzip carries no name or time: the same sources always give the
same sha256, so the inventory can pin it.

Releases: 1.0.0 (migration 001), 1.1.0 (adds migration 002: a `dusun` column).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from desa.inventory import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "tests" / "app" / "fixture_src"
OUTPUT = PROJECT_ROOT / "state" / "app-fixture"
MTIME = 1_656_633_600  # 2022-07-01, the Bekasi pilot
# version → migrations included (by number)
RELEASES: dict[str, tuple[int, ...]] = {"1.0.0": (1,), "1.1.0": (1, 2)}


def archive_name(version: str) -> str:
    return f"opensid-fixture-{version}.tar.gz"


def _members(source: Path, version: str) -> list[tuple[str, bytes | None, int]]:
    """(relative path, content or None for a folder, mode) of one release, sorted."""
    wanted = RELEASES[version]
    out: list[tuple[str, bytes | None, int]] = []
    for p in sorted(source.rglob("*")):
        rel = p.relative_to(source).as_posix()
        if "__pycache__" in rel:
            continue
        if rel.startswith("migrations/") and p.is_file() and int(p.name[:3]) not in wanted:
            continue
        if p.is_dir():
            out.append((rel, None, 0o755))
        else:
            out.append((rel, p.read_bytes(), 0o755 if p.stat().st_mode & 0o100 else 0o644))
    out.append(("app/VERSION", f"{version}\n".encode(), 0o644))
    return sorted(out, key=lambda m: m[0])


def build_bytes(version: str, source: Path = SOURCE) -> bytes:
    if version not in RELEASES:
        raise ValueError(f"unknown fixture release {version!r} (known: {', '.join(RELEASES)})")
    top = f"opensid-fixture-{version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        root = tarfile.TarInfo(top)
        root.type, root.mode, root.mtime = tarfile.DIRTYPE, 0o755, MTIME
        tar.addfile(root)
        for rel, content, mode in _members(source, version):
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = MTIME, mode, 0, 0, "root", "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build(output: Path = OUTPUT, versions: list[str] | None = None, source: Path = SOURCE) -> dict[str, tuple[Path, str]]:
    """Write the releases into `output`; {version: (path, sha256)}. Rewrites only what differs."""
    output.mkdir(parents=True, exist_ok=True)
    result = {}
    for version in versions or list(RELEASES):
        data = build_bytes(version, source)
        path = output / archive_name(version)
        if not path.exists() or path.read_bytes() != data:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        result[version] = (path, hashlib.sha256(data).hexdigest())
    return result
