"""YAML reading that can say where every value came from.

The fast path parses with libyaml through PyYAML's C loader, set to YAML 1.2 core-schema
resolution so it reads every value exactly as ruamel.yaml's 1.2 loader does (`yes` and `on` stay
strings, `010` is ten, `0o10` eight; duplicate keys refused); no positions. When something is
wrong, the file is parsed again with ruamel.yaml's round-trip loader, which records the line of
every key and item, so the error can name file:line and the field path.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from desa.errors import Problem

FieldPath = tuple[str | int, ...]


class _FastLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml parsing with ruamel.yaml's YAML 1.2 resolution and duplicate keys refused."""

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node):  # YAML 1.2: 010 is ten, 0o10 eight
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text[0] == "-" else 1
        if text[0] in "+-":
            text = text[1:]
        for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text)


_FastLoader.add_constructor("tag:yaml.org,2002:int", _FastLoader.construct_yaml_int)
_FastLoader.add_constructor("tag:yaml.org,2002:map", _FastLoader.construct_yaml_map)
# The YAML 1.2 implicit types as ruamel.yaml resolves them (ruamel/yaml/resolver.py).
for _tag, _regexp, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("float", r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", "-+0123456789."),
    ("int", r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""", "-+0123456789"),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", "0123456789"),
    ("value", r"^(?:=)$", "="),
):
    _FastLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_regexp, re.X), list(_first))

_positional = YAML(typ="rt")
_positional.allow_duplicate_keys = False


class YamlSyntaxError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def _syntax_problem(path: Path, err: Exception) -> Problem:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(err, "problem", None) or str(err).splitlines()[0]
    return Problem(path, line, "", f"YAML syntax error: {what}")


MAX_NODES = 100_000  # an inventory file has hundreds; aliases can expand to billions ("billion laughs")


def _check_keys(node: Any, path: Path) -> None:
    """YAML allows any hashable key, aliases that expand without bound and cycles; the inventory
    wants string keys and a finite tree of modest size."""
    stack: list[tuple[Any, FieldPath, frozenset[int]]] = [(node, (), frozenset())]
    seen = 0
    while stack:
        node, field, above = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise YamlSyntaxError(Problem(path, None, "", f"YAML expands to more than {MAX_NODES} values "
                                                          "(anchors and aliases?): write the values out"))
        if isinstance(node, (dict, list)):
            if id(node) in above:
                raise YamlSyntaxError(Problem(path, None, dotted(field),
                                              "an alias refers to itself (a recursive structure)"))
            inner = above | {id(node)}
            if isinstance(node, dict):
                for k, v in node.items():
                    if not isinstance(k, str):
                        raise YamlSyntaxError(Problem(path, None, dotted(field), f"key {k!r} must be a string"))
                    stack.append((v, (*field, k), inner))
            else:
                for i, v in enumerate(node):
                    stack.append((v, (*field, i), inner))


def _quiet_positional(text: str) -> Any:
    """ruamel.yaml's round-trip parse, without its multi-line warnings (YAML 1.1 float advice) on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _positional.load(text)


def load(path: Path) -> Any:
    """Plain Python data of a YAML file; raises YamlSyntaxError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise YamlSyntaxError(Problem(path, None, "", f"cannot read: {err}")) from None
    try:
        data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, YAMLError, MarkedYAMLError, ValueError, TypeError, OverflowError) as err:
        # Re-parse with the positional loader for the better message (duplicate keys, say) — but not
        # a file nested past libyaml's limit: ruamel's scanner is quadratic in flow depth (minutes).
        if "nesting depth" in str(err):
            raise YamlSyntaxError(_syntax_problem(path, err)) from None
        try:
            _quiet_positional(text)
        except (YAMLError, MarkedYAMLError) as err2:
            raise YamlSyntaxError(_syntax_problem(path, err2)) from None
        except Exception:  # noqa: BLE001 - any loader failure is a syntax problem for the user
            pass
        raise YamlSyntaxError(_syntax_problem(path, err)) from None
    except RecursionError:
        raise YamlSyntaxError(Problem(path, None, "", "YAML nests too deeply")) from None
    _check_keys(data, path)
    return data


def positions(path: Path) -> dict[FieldPath, int]:
    """Line (1-based) of every key and list item in the file, by field path."""
    try:
        doc = _quiet_positional(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - syntax errors were already reported by load()
        return {}
    lines: dict[FieldPath, int] = {(): 1}

    def walk(node: Any, here: FieldPath) -> None:
        if isinstance(node, CommentedMap):
            for key in node:
                try:
                    line, _col = node.lc.key(key)
                except (KeyError, TypeError):
                    continue
                lines[(*here, str(key))] = line + 1
                walk(node[key], (*here, str(key)))
        elif isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                try:
                    line, _col = node.lc.item(i)
                except (KeyError, TypeError):
                    continue
                lines[(*here, i)] = line + 1
                walk(item, (*here, i))

    walk(doc, ())
    return lines


def line_of(lines: dict[FieldPath, int], field: FieldPath) -> int | None:
    """The line of the deepest known prefix of a field path."""
    for n in range(len(field), -1, -1):
        if field[:n] in lines:
            return lines[field[:n]]
    return None


def dotted(field: FieldPath) -> str:
    out = ""
    for part in field:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dump(data: Any, path: Path) -> None:
    y = YAML(typ="rt")
    y.default_flow_style = False
    with path.open("w", encoding="utf-8") as f:
        y.dump(data, f)
