"""Configuration's plain layers: the YAML file, then ``CANARY_CONSOLE_*`` variables, then the flags, merged into
one dict without pydantic; and from that dict, cheaply, what the dashboard's first frame needs (service
names, phase weights, theme, read-only).

console.engine.config validates the same merged dict into the Config models (load_config); the dashboard
draws its first frame from ``first_frame(...)`` and validates in the app's connect worker, so the first
frame does not wait ~70 ms for pydantic. Nothing here imports pydantic, and yaml only when a file is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.engine.intent_table import keymap_problem

SERVICES = ("perception", "capsule", "odyssey", "plato", "nexus", "synapse")
DEFAULT_WEIGHTS = (10, 25, 50, 75, 100)  # the runbook's phases; tests hold them equal to Config()'s
ENV_PREFIX = "CANARY_CONSOLE_"
MAX_CONFIG_BYTES = 1 << 20  # a config file is a page or two of YAML; anything bigger is not one
_TRUE = {"1", "true", "yes", "on", "t", "y"}  # what pydantic reads as True from a string


class ConfigError(Exception):
    """A configuration problem, with the file and the field in its message."""


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split("__") if part]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if path:
            node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _strip_none(tree: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            value = _strip_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def _read_file(path: str | Path) -> dict[str, Any]:
    import yaml  # only when there is a file to read: the dashboard's first frame does not wait for it

    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes is too large for a config file (at most {MAX_CONFIG_BYTES})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (not UTF-8 at byte {exc.start})") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (ValueError, RecursionError) as exc:  # e.g. a number too large, nesting too deep
        raise ConfigError(f"{path}: not a usable YAML document: {type(exc).__name__}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, not {type(loaded).__name__}")
    return loaded


def read_layers(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """(the merged settings, where they came from for messages): file, then environment, then flags
    (``overrides``, nested dicts, None values ignored). An unreadable file or bad YAML raises ConfigError."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG")
    source = str(path) if path else "the defaults"
    data: dict[str, Any] = _read_file(path) if path else {}
    env_tree = _env_overrides(env)
    if env_tree:
        data = _merge(data, env_tree)
        source += " and the environment" if path else " with the environment"
    if overrides:
        data = _merge(data, _strip_none(overrides))
    return data, source


@dataclass(frozen=True)
class FirstFrame:
    """What the dashboard draws before the configuration is validated. For a valid configuration these
    are exactly the validated Config's values; for an invalid one the validation that follows says why."""

    service_names: list[str]
    weights: list[int]
    theme: str | None = None
    read_only: bool = False
    keymap: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Any) -> FirstFrame:
        """The same settings from an already validated Config."""
        return cls(list(config.service_names), [phase.weight for phase in config.phases], config.theme,
                   config.read_only, dict(config.keymap))


def first_frame(data: Mapping[str, Any]) -> FirstFrame:
    """The first frame's settings from ``read_layers``' dict; the defaults wherever a value is unusable."""
    return FirstFrame(service_names=_names(data.get("services")), weights=_weights(data.get("phases")),
                      theme=data["theme"] if isinstance(data.get("theme"), str) else None,
                      read_only=_flag(data.get("read_only")), keymap=_keymap(data.get("keymap")))


def _keymap(keymap: Any) -> dict[str, str]:
    """A usable keymap setting, else none (the validation that follows says what is wrong with it)."""
    if isinstance(keymap, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()) \
            and keymap_problem(keymap) is None:
        return dict(keymap)
    return {}


def _names(services: Any) -> list[str]:
    if isinstance(services, list) and all(isinstance(s, Mapping) and isinstance(s.get("name"), str)
                                          for s in services):
        return [s["name"] for s in services]
    return list(SERVICES)


def _weights(phases: Any) -> list[int]:
    try:
        weights = [int(phase["weight"]) for phase in phases]
    except (TypeError, KeyError, ValueError):
        weights = []
    return weights or list(DEFAULT_WEIGHTS)


def _flag(value: Any) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value.strip().lower() in _TRUE)
