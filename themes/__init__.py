"""Themes room: the console's colour themes (dark, light, monochrome) as Textual Theme data, the
canary / stable / danger theme variables, and the choice of theme from --theme and NO_COLOR.

Nothing here starts an app; `resolve_theme` runs before the app exists so that an unknown name becomes a
clear message (UnknownTheme) the CLI prints with exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from textual.theme import Theme

CSS_PATH = Path(__file__).with_name("console.tcss")

#: Variables every theme defines; widgets and CSS refer to them as $canary, $stable, $danger, $attention.
VARIABLE_DEFAULTS: dict[str, str] = {
    "canary": "#f0a030",
    "stable": "#4aa3df",
    "danger": "#e5484d",
    "attention": "#e5c07b",
    "ok": "#50c878",
    "muted": "#808080",
}

# name → (dark?, Textual base colours "primary secondary warning error success foreground background surface
# panel", then our variables "canary stable danger attention ok muted")
_PALETTES = {
    "canary-dark": (True, "#4aa3df #f0a030 #e5c07b #e5484d #50c878 #d8dee9 #15181d #1c2027 #242a33",
                    "#f0a030 #4aa3df #e5484d #e5c07b #50c878 #808080"),
    "canary-light": (False, "#1f6fb2 #b35c00 #9a6700 #c4141b #1a7f37 #1f2328 #fbfbfa #f0f0ee #e4e6e8",
                     "#b35c00 #1f6fb2 #c4141b #9a6700 #1a7f37 #6e7781"),
    "canary-mono": (True, "#c0c0c0 #ffffff #ffffff #ffffff #c0c0c0 #e0e0e0 #000000 #101010 #202020",
                    "#ffffff #a0a0a0 #ffffff #ffffff #c0c0c0 #808080"),
}
_BASE = ("primary", "secondary", "warning", "error", "success", "foreground", "background", "surface", "panel")


def _theme(name: str, dark: bool, base: str, variables: str) -> Theme:
    colours = dict(zip(_BASE, base.split()))
    return Theme(name=name, accent=colours["secondary"], dark=dark, **colours,
                 variables=dict(zip(VARIABLE_DEFAULTS, variables.split())))


THEMES: dict[str, Theme] = {name: _theme(name, *palette) for name, palette in _PALETTES.items()}

ALIASES = {"dark": "canary-dark", "light": "canary-light", "mono": "canary-mono",
           "monochrome": "canary-mono", "default": "canary-dark"}
DEFAULT_THEME = "canary-dark"
MONO_THEME = "canary-mono"


class UnknownTheme(ValueError):
    """--theme named a theme that does not exist."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        super().__init__(f"unknown theme {name!r}; available: {', '.join(available)}")


def available_themes() -> list[str]:
    return sorted({*THEMES, *ALIASES})


def resolve_theme(name: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The registered theme name to use: NO_COLOR wins, then ``name`` (or an alias), then the default."""
    env = os.environ if env is None else env
    if name is not None and name not in THEMES and name not in ALIASES:
        raise UnknownTheme(name, available_themes())
    if "NO_COLOR" in env:
        return MONO_THEME
    if name is None:
        return DEFAULT_THEME
    return ALIASES.get(name, name)
