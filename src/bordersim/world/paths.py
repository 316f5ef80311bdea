"""Dotted paths into a raw scenario dict: ``world.rations[1].catties``, ``rule_overrides.dprk.allowance_yuan_per_labourer``.

Sweeps vary, calibrations fit and posteriors set scenario fields by such paths; every value set is
then checked by the scenario schema.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``world.rations[1].catties`` -> ``['world', 'rations', 1, 'catties']``."""
    tokens: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"bad path {path!r}: empty component")
        i = 0
        first = True
        while i < len(part):
            m = _TOKEN.match(part, i)
            if not m or (first and m.group(1) is None) or (not first and m.group(1) is not None):
                raise ValueError(f"bad path {path!r} at {part[i:]!r} (expected name, name[i] or name.name)")
            tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            i = m.end()
            first = False
    return tokens


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path in a nested dict/list, creating missing mappings."""
    tokens = parse_path(path)
    node: Any = data
    for j, tok in enumerate(tokens):
        last = j == len(tokens) - 1
        where = _render(tokens[:j]) or "(top level)"
        if isinstance(tok, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list, cannot index [{tok}]")
            if tok >= len(node):
                raise ValueError(f"{where} has {len(node)} entries, no [{tok}]")
            if last:
                node[tok] = value
            else:
                node = node[tok]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{where} is not a mapping, cannot set {tok!r}")
            if last:
                node[tok] = value
            else:
                if node.get(tok) is None:
                    node[tok] = [] if isinstance(tokens[j + 1], int) else {}
                node = node[tok]


def _render(tokens: list) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else ("." if out else "") + t
    return out
