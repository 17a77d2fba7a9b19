"""YAML loading that rejects duplicate keys (PyYAML silently keeps the last one) and reports file positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from accelsim.errors import AccelsimError


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line}; first defined on line {first})", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path, error: type[AccelsimError] = AccelsimError) -> Any:
    """Parse a YAML file; a missing file, a syntax error or a duplicate key raises ``error`` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: file not found")
    try:
        return yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise error(f"{p}: invalid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not a UTF-8 text file ({exc.reason})") from None
