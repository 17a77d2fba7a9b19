"""Rewrite tagged scalar values in a YAML file in place of their old values, keeping layout and comments.

Used by ``scripts/calibrate_h100.py``: a line ``  key: value  # [fitted on FILE, COLUMN, DATE] ...`` whose
dotted path is in ``values`` gets the new value and today's date in its tag. Block-style mappings only.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_]+):(?P<sep>\s*)(?P<value>[^#\n]*?)(?P<gap>\s*)"
                   r"(?P<comment>#.*)?$")
_TAG = re.compile(r"\[fitted on (?P<file>[^,\]]+), (?P<column>[^,\]]+), [^\]]*\]")


def set_tagged_values(text: str, values: dict[str, tuple[str, str]], source: str, date: str) -> str:
    """``values``: dotted path -> (new value text, measured column). Raises KeyError for a path not found."""
    out = []
    stack: list[tuple[int, str]] = []
    seen = set()
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        m = _LINE.match(body)
        if not m or body.lstrip().startswith("#"):
            out.append(line)
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [m["key"]])
        if not m["value"]:
            stack.append((indent, m["key"]))
        if path in values:
            new_value, column = values[path]
            comment = m["comment"] or ""
            tag = f"[fitted on {source}, {column}, {date}]"
            comment = _TAG.sub(tag, comment) if _TAG.search(comment) else f"# {tag} {comment.lstrip('# ')}".rstrip()
            width = len(m["value"]) + len(m["gap"])
            value_text = new_value.ljust(max(width - 1, len(new_value))) + " "
            body = f"{m['indent']}{m['key']}:{m['sep'] or ' '}{value_text}{comment}"
            seen.add(path)
            out.append(body + "\n")
            continue
        out.append(line)
    missing = sorted(set(values) - seen)
    if missing:
        raise KeyError(f"paths not found in the YAML: {missing}")
    return "".join(out)
