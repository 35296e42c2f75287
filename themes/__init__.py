"""Themes room: the console's colour themes (dark, light, monochrome, and palettes for 16- and 8-colour
terminals) as Textual Theme data, the canary / stable / danger theme variables, and the choice of theme
from --theme, NO_COLOR and how many colours the terminal has.

Canary and stable are neutral hues (cyan and violet / magenta), never the danger (red) or attention
(yellow) colours: on a 16-colour terminal (TERM=xterm, screen, vt100 on a bastion) an orange canary was
drawn bright red, the colour of "rolled back". The 256-, 16- and 8-colour palettes use the terminal's own
colours exactly, so nothing is rounded to a neighbour of another meaning.

Nothing here starts an app; `resolve_theme` runs before the app exists so that an unknown name becomes a
clear message (UnknownTheme) the CLI prints with exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.theme import Theme

CSS_PATH = Path(__file__).with_name("console.tcss")

#: Variables every theme defines; widgets and CSS refer to them as $canary, $stable, $danger, $attention.
VARIABLE_DEFAULTS: dict[str, str] = {
    "canary": "#5fd7d7",
    "stable": "#af87ff",
    "danger": "#ff5f5f",
    "attention": "#ffd75f",
    "ok": "#87d787",
    "muted": "#8a8a8a",
}

# name → (dark?, Textual base colours "primary secondary warning error success foreground background surface
# panel", then our variables "canary stable danger attention ok muted")
# canary-dark's variables are exact xterm-256 colours (80, 141, 203, 221, 114, 245); canary-16 and canary-8
# use exact entries of the 16-colour palette (8 only the first eight), so downgrading changes nothing.
_PALETTES = {
    "canary-dark": (True, "#5f87d7 #5fd7d7 #ffd75f #ff5f5f #87d787 #d0d0d0 #121212 #1c1c1c #303030",
                    "#5fd7d7 #af87ff #ff5f5f #ffd75f #87d787 #8a8a8a"),
    "canary-light": (False, "#1f6fb2 #007a7a #9a6700 #c4141b #1a7f37 #1f2328 #fbfbfa #f0f0ee #e4e6e8",
                     "#007a7a #7a3db8 #c4141b #9a6700 #1a7f37 #6e7781"),
    "canary-16": (True, "#55ffff #55ffff #ffff55 #ff5555 #55ff55 #ffffff #000000 #000000 #0000aa",
                  "#55ffff #ff55ff #ff5555 #ffff55 #55ff55 #aaaaaa"),
    "canary-8": (True, "#00aaaa #00aaaa #aa5500 #aa0000 #00aa00 #aaaaaa #000000 #000000 #0000aa",
                 "#00aaaa #aa00aa #aa0000 #aa5500 #00aa00 #aaaaaa"),
    "canary-mono": (True, "#c0c0c0 #ffffff #ffffff #ffffff #c0c0c0 #e0e0e0 #000000 #101010 #202020",
                    "#ffffff #a0a0a0 #ffffff #ffffff #c0c0c0 #808080"),
}
_BASE = ("primary", "secondary", "warning", "error", "success", "foreground", "background", "surface", "panel")


def _theme(name: str, dark: bool, base: str, variables: str) -> Theme:
    colours: dict[str, Any] = dict(zip(_BASE, base.split()))
    return Theme(name=name, accent=colours["secondary"], dark=dark, **colours,
                 variables=dict(zip(VARIABLE_DEFAULTS, variables.split())))


THEMES: dict[str, Theme] = {name: _theme(name, *palette) for name, palette in _PALETTES.items()}

ALIASES = {"dark": "canary-dark", "light": "canary-light", "mono": "canary-mono",
           "monochrome": "canary-mono", "default": "canary-dark", "16": "canary-16", "8": "canary-8"}
#: terminals that have the 8 basic colours only (no bright variants)
EIGHT_COLOUR_TERMS = ("vt100", "vt102", "vt220", "ansi", "linux", "cons25", "xterm-color")
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


def resolve_theme(name: str | None = None, env: Mapping[str, str] | None = None,
                  color_system: str | None = None) -> str:
    """The registered theme name to use: NO_COLOR wins, then ``name`` (or an alias), then the palette for
    the terminal: ``color_system`` is Rich's detection ("standard" = 16 colours, "256", "truecolor");
    a "standard" terminal whose TERM is known to have only 8 colours gets the 8-colour palette."""
    env = os.environ if env is None else env
    if name is not None and name not in THEMES and name not in ALIASES:
        raise UnknownTheme(name, available_themes())
    if "NO_COLOR" in env:
        return MONO_THEME
    if name is None:
        if color_system == "standard":
            return "canary-8" if env.get("TERM", "") in EIGHT_COLOUR_TERMS else "canary-16"
        return DEFAULT_THEME
    return ALIASES.get(name, name)
