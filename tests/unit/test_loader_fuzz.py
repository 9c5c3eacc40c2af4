"""Property: whatever is thrown at the loader — malformed YAML, odd bytes, wrong values anywhere in a
site or regency file — it answers with a clean InventoryError whose problems name a file of the
inventory (and a line inside it when it names one), or loads; never a traceback."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from desa import inventory, yamlfile
from desa.cli import app
from desa.errors import InventoryError

from .conftest import BEKASI

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ORIGINAL = {name: (BEKASI / rel).read_text() for name, rel in
            (("regency", "regency.yaml"), ("site", "sites/lambangsari.yaml"))}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "inventory"
    shutil.copytree(BEKASI, root / "bekasi", ignore=shutil.ignore_patterns("*.age"))
    return root


def files(root):
    return {"regency": root / "bekasi" / "regency.yaml", "site": root / "bekasi" / "sites" / "lambangsari.yaml"}


def restore(root) -> None:
    for name, path in files(root).items():
        path.write_text(ORIGINAL[name])


def load_cleanly(root) -> None:
    """Load; on failure every problem must be well-formed. Any other exception fails the test."""
    try:
        inventory.load(root)
    except InventoryError as err:
        assert err.problems, "an InventoryError lists at least one problem"
        for p in err.problems:
            path = inventory.Path(p.file)
            assert path.is_relative_to(root), f"problem outside the inventory: {p}"
            if p.line is not None:
                n_lines = path.read_bytes().count(b"\n") + 1
                assert 1 <= p.line <= n_lines, f"line {p.line} outside {path.name} ({n_lines} lines): {p}"
            assert p.message and "\n" not in p.message.strip() or p.message.startswith("YAML"), p
            assert "Traceback" not in p.message


# --- 1. raw text and bytes -----------------------------------------------------------------------

YAML_CHARS = st.sampled_from(list("abc019 :-[]{}&*!|>'\"%@`#,?\t\n.\\/=") + ["\u00e9", "\ufeff", "\x00", "\x85"])


@SETTINGS
@given(which=st.sampled_from(["site", "regency"]), text=st.text(YAML_CHARS, max_size=200))
def test_random_text(root, which, text):
    restore(root)
    files(root)[which].write_text(text, encoding="utf-8")
    load_cleanly(root)


@SETTINGS
@given(which=st.sampled_from(["site", "regency"]), data=st.binary(max_size=200))
def test_random_bytes(root, which, data):
    restore(root)
    files(root)[which].write_bytes(data)
    load_cleanly(root)


# --- 2. nasty YAML fragments spliced into a valid file -----------------------------------------------

FRAGMENTS = [
    "extra: !!python/object/apply:os.system [\"true\"]",
    "kode: !!binary aGVsbG8=",
    "slot: !!float 1",
    "slot: 0x01",
    "slot: 1_000",
    "slot: 0o17",
    "slot: .inf",
    "name: &n Lambangsari\nkecamatan: *n",
    "network: &x {vlans: *x}",
    "uplink:\n  <<: {kind: lte}\n  bandwidth: {down_mbps: 1, up_mbps: 1}",
    "? [complex, key]\n: value",
    "? {a: 1}\n: value",
    "1: numeric key",
    "null: key",
    "--- \nsecond: document",
    "%YAML 1.1\n---\nkode: x",
    "\tkode: tabbed",
    "operator: [not, a, mapping]",
    "operator: null",
    "operator: ''",
    "vpn: 42",
    "devices: {router: {password: 12345}}",
    "devices: {router: {password: [secret:a]}}",
    "devices: {router: {identity: \"gw\\u0000\"}}",
    "server: {technicians: [{name: root, ssh_keys: [\"-----BEGIN OPENSSH PRIVATE KEY-----\"]}]}",
    "coordinates: {lat: 1e400, lon: -1e400}",
    "slot: 99999999999999999999999999999999",
    "name: " + "x" * 100_000,
    "extra: " + "[" * 1200 + "]" * 1200,
    "extra: " + "{a: " * 300 + "1" + "}" * 300,
    "app: {kind: opensid, domain: x.desa.id, admin: {name: ab, role: cd}, release: {version: 1.0, source: /x, sha256: 12}}",
]


@SETTINGS
@given(which=st.sampled_from(["site", "regency"]),
       picks=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3),
       where=st.sampled_from(["start", "end", "replace"]))
def test_nasty_fragments(root, which, picks, where):
    restore(root)
    base = ORIGINAL[which]
    snippet = "\n".join(picks) + "\n"
    if where == "start":
        text = snippet + base
    elif where == "end":
        text = base + snippet
    else:
        text = snippet
    files(root)[which].write_text(text, encoding="utf-8")
    load_cleanly(root)


# --- 3. a valid file with one value anywhere replaced by anything ---------------------------------

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30) | st.sampled_from(["10.0.0.1", "10.216.1.0/24", "secret:x", "TODO: fill", "7.16"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def paths(node, here=()):
    yield here
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*here, i))


SITE_PATHS = [p for p in paths(yamlfile.load(BEKASI / "sites" / "lambangsari.yaml")) if p]
REGENCY_PATHS = [p for p in paths(yamlfile.load(BEKASI / "regency.yaml")) if p]


def dumps(data) -> str:
    y = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


@SETTINGS
@given(st.data())
def test_one_value_replaced(root, data):
    restore(root)
    which = data.draw(st.sampled_from(["site", "regency"]))
    path = data.draw(st.sampled_from(SITE_PATHS if which == "site" else REGENCY_PATHS))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    doc = json.loads(json.dumps(yamlfile.load(BEKASI / ("sites/lambangsari.yaml" if which == "site" else "regency.yaml"))))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = data.draw(VALUES)
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=10))] = data.draw(VALUES)
    else:
        parent.append(data.draw(VALUES))
    files(root)[which].write_text(dumps(doc), encoding="utf-8")
    load_cleanly(root)


def test_fuzz_corpus_reaches_the_cli(root):
    """A few of the nastiest through `desa validate`: exit 1 and a message, no traceback."""
    runner = CliRunner()
    for fragment in (FRAGMENTS[0], FRAGMENTS[8], "\x00\x01", "extra: " + "[" * 1200):
        restore(root)
        files(root)["site"].write_text(ORIGINAL["site"] + fragment + "\n", encoding="utf-8")
        r = runner.invoke(app, ["validate", "--all", "-i", str(root)])
        assert r.exit_code == 1, (fragment[:40], r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert "lambangsari.yaml" in r.stderr and "Traceback" not in r.output
    restore(root)
    assert len(inventory.load(root).sites) == 4  # the restored copy loads again
