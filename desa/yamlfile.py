"""YAML reading that can say where every value came from.

The fast path parses with libyaml (no positions). When something is wrong, the file is parsed
again with ruamel.yaml's round-trip loader, which records the line of every key and item, so the
error can name file:line and the field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from desa.errors import Problem

FieldPath = tuple[str | int, ...]

_fast = YAML(typ="safe", pure=False)
_fast.allow_duplicate_keys = False
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


def load(path: Path) -> Any:
    """Plain Python data of a YAML file; raises YamlSyntaxError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise YamlSyntaxError(Problem(path, None, "", f"cannot read: {err}")) from None
    try:
        data = _fast.load(text)
    except (YAMLError, MarkedYAMLError, ValueError, TypeError) as err:
        # Re-parse with the positional loader for the better message (duplicate keys, say).
        try:
            _positional.load(text)
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
        doc = _positional.load(path.read_text(encoding="utf-8"))
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
