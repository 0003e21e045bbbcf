"""Reading YAML written by someone else, with bounds.

``yaml.safe_load`` builds nothing dangerous, but anchors and aliases let a few hundred bytes
stand for billions of values (the "billion laughs"): PyYAML shares the aliased objects, so
loading is cheap, but anything that walks the value (validation, ``repr`` in an error
message, grid expansion) expands it. Here the document's node graph is measured with every
alias expanded before a Python object is built, and refused past ``MAX_NODES`` values or
``MAX_CHARS`` characters of text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from derm_stress.errors import InvalidArgument

MAX_FILE_BYTES = 4 << 20  # a run config or grid is a few KB
MAX_NODES = 100_000  # values after alias expansion
MAX_CHARS = 10_000_000  # characters of text after alias expansion


def _expanded_size(
    node: yaml.Node, memo: dict[int, tuple[int, int]], path: set[int]
) -> tuple[int, int]:
    """(values, characters) of ``node`` with aliases expanded; shared nodes are measured
    once (memo), so this is linear in the document, not in its expansion."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in path:
        raise InvalidArgument("the YAML refers to itself through an alias (a recursive value)")
    path.add(key)
    nodes, chars = 1, 0
    if isinstance(node, yaml.ScalarNode):
        chars = len(str(node.value))
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            n, c = _expanded_size(child, memo, path)
            nodes, chars = nodes + n, chars + c
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            for child in (k, v):
                n, c = _expanded_size(child, memo, path)
                nodes, chars = nodes + n, chars + c
    path.discard(key)
    nodes, chars = min(nodes, MAX_NODES + 1), min(chars, MAX_CHARS + 1)  # no huge ints
    memo[key] = (nodes, chars)
    return nodes, chars


def load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document (safe types only), refusing ones that expand past the bounds.
    An empty document is ``None``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes, chars = _expanded_size(node, {}, set())
        if nodes > MAX_NODES or chars > MAX_CHARS:
            raise InvalidArgument(
                f"{source}: the YAML expands to more than {MAX_NODES:,} values or "
                f"{MAX_CHARS:,} characters (anchors and aliases count as copies); refused"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{source}: the YAML is nested too deeply; refused") from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> Any:
    """``load_yaml_text`` of a file (UTF-8, at most ``MAX_FILE_BYTES``)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidArgument(
                f"{path}: {size:,} bytes is too large for a config (limit {MAX_FILE_BYTES:,})"
            )
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r})"
        ) from None
    return load_yaml_text(text, str(path))
