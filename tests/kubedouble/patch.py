"""JSON merge patch (RFC 7386) and the subset of strategic merge patch the API server applies to the
fields the console touches (lists of named items merge by ``name``; ``$patch: delete`` removes one).
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _merge_named_list(target: list[Any], patch: list[Any]) -> list[Any]:
    result = [copy.deepcopy(item) for item in target]
    for item in patch:
        index = next((i for i, old in enumerate(result) if old.get("name") == item["name"]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(copy.deepcopy(item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Like merge patch, except lists of named items (containers, ports, env, volumes) merge by name."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        old = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(old, list) and _named(value) and _named(old):
            result[key] = _merge_named_list(old, value)
        else:
            result[key] = strategic_merge_patch(old, value)
    return result
