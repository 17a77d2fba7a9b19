"""YAML loading with the limits of an input boundary.

PyYAML's safe loader plus:

- duplicate keys are rejected (PyYAML silently keeps the last one), with both line numbers;
- keys must be hashable scalars (a list or mapping used as a key is an error, not a ``TypeError``);
- size limits: at most :data:`MAX_FILE_BYTES` of text, :data:`MAX_DEPTH` levels of nesting, :data:`MAX_ALIASES`
  aliases and :data:`MAX_NODES` nodes *after* alias expansion (a "billion laughs" file is refused while it is
  still a small graph, before anything walks or prints the expanded value);
- every problem raises the caller's error type naming the file, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from accelsim.errors import AccelsimError
from accelsim.validation import abbreviate, cap_message

#: Largest YAML file read, bytes (architecture, sweep and workload files are a few KiB).
MAX_FILE_BYTES = 16 * 2**20
#: Deepest nesting of mappings/lists.
MAX_DEPTH = 64
#: Most alias references (``*name``) in one file.
MAX_ALIASES = 256
#: Most nodes of the document once every alias is expanded.
MAX_NODES = 500_000


class _LimitError(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _LimitError(f"more than {MAX_ALIASES} aliases (*name references) (line {mark.line + 1})")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _LimitError(f"nesting deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_nodes(root: yaml.Node) -> int:
    """Node count of ``root`` with every alias expanded (shared sub-graphs counted once per use), iteratively."""
    memo: dict[int, int] = {}
    open_nodes: set[int] = set()  # children being counted: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in memo:
            continue
        if isinstance(node, yaml.ScalarNode):
            memo[id(node)] = 1
            continue
        kids = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if children_done:
            open_nodes.discard(id(node))
            total = 1 + sum(memo[id(k)] for k in kids)
            memo[id(node)] = total
            if total > MAX_NODES:
                raise _LimitError(f"more than {MAX_NODES:,} values once aliases are expanded")
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for k in kids:
            if id(k) in open_nodes:
                raise _LimitError("a recursive alias (a node that contains itself)")
            if id(k) not in memo:
                stack.append((k, False))
    return memo[id(root)]


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"a {'list' if isinstance(key_node, yaml.SequenceNode) else 'mapping'} used as a "
                f"key (line {line}); keys must be plain names", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {abbreviate(key, 60)} (line {line}; first defined on line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml_text(text: str, where: str, error: type[AccelsimError] = AccelsimError) -> Any:
    """Parse YAML ``text`` under the limits above; problems raise ``error`` naming ``where``."""
    if len(text) > MAX_FILE_BYTES:
        raise error(f"{where}: {len(text):,} characters of YAML, more than the {MAX_FILE_BYTES:,} allowed")
    loader = None
    try:
        loader = _UniqueKeyLoader(text)  # the reader already refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_nodes(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise error(cap_message(f"{where}: invalid YAML: {exc}", 2000)) from None
    except RecursionError:
        raise error(f"{where}: invalid YAML: nested too deeply (at most {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: str | Path, error: type[AccelsimError] = AccelsimError) -> Any:
    """Parse a YAML file; a missing file, a syntax error, a limit or a duplicate key raises ``error`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: file not found")
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise error(f"{p}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} a YAML input may hold")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    return parse_yaml_text(text, str(p), error)
