"""Test room: issue 17's idle CPU, as behaviour (Pilot): a panel's redraw turns only its changed lines into
strips and repaints only their rows, and a panel that comes to need a person recolours its left edge
without a layout of the whole screen. What it costs in CPU is measured by benchmarks/idle_cpu.py, not here (tests never time anything)."""

from __future__ import annotations

from dataclasses import replace

from textual.content import Content
from textual.visual import Visual

from console.engine.model import State
from tests.test_tui import observed
from widgets.service_panel import ServicePanel


def watching(size: tuple[int, int] = (120, 40)):
    """The fake world after 60 s under the app (every status drawn as it comes), at 120x40."""
    return observed(size)


def segments(strips) -> list[list[tuple[str, object]]]:
    return [[(segment.text, segment.style) for segment in strip] for strip in strips]


async def test_a_redraw_turns_only_the_lines_that_changed_into_strips(monkeypatch):
    """The countdown moved: the first line is drawn anew, the versions / verdict and why lines keep their
    strips, and what is drawn is exactly what Textual's whole-panel render draws."""
    async with watching() as (app, pilot, *_):
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        panel._render_content()
        before = list(panel._render_cache.lines)
        assert len(before) == 5  # 120x40: five lines a panel (the P99 and why lines included)
        converted: list[Content] = []
        original = Visual.to_strips

        def counting(widget, visual, *args, **kwargs):
            converted.append(visual)
            return original(widget, visual, *args, **kwargs)

        monkeypatch.setattr(Visual, "to_strips", staticmethod(counting))
        status = panel.status
        panel.show(replace(status, phase_elapsed=status.phase_elapsed + 60, at=status.at + 60))
        panel._render_content()
        after = list(panel._render_cache.lines)
        assert len(converted) == 1, converted
        drawn = converted[0].plain.split("\n")
        changed = [y for y, (old, new) in enumerate(zip(before, after)) if old.text != new.text]
        assert changed == [0]  # only the countdown moved
        assert [y for y, line in enumerate(drawn) if line] == [0]  # and only its line was drawn anew
        assert all(after[y] is before[y] for y in range(1, 5))  # the others: kept as drawn
        monkeypatch.undo()
        whole = original(panel, panel.render(), *panel.size, panel.visual_style)
        assert segments(after) == segments(whole)  # the same segments and styles as a whole render


async def test_a_new_background_or_width_draws_every_line_again():
    """Selected or not (another background), the panel's strips are not reused across it."""
    async with watching() as (app, pilot, *_):
        panel = app.screen.query_one("#panel-capsule", ServicePanel)
        panel._render_content()
        before = list(panel._render_cache.lines)
        panel.selected = True
        await pilot.pause()
        panel._render_content()
        after = panel._render_cache.lines
        assert not any(new is old for new, old in zip(after, before))
        assert segments(after) == segments(Visual.to_strips(panel, panel.render(), *panel.size,
                                                                                  panel.visual_style))


async def test_a_panel_that_comes_to_need_a_person_recolours_its_edge_without_a_layout():
    """The left edge is always there (blank while the service is fine): a state that needs a person paints
    it instead of changing the padding, which laid out the whole screen on every such change."""
    async with watching() as (app, pilot, *_):
        screen = app.screen
        panel = screen.query_one("#panel-plato", ServicePanel)
        region, content = panel.region, panel.content_region
        layouts = []
        relayout = screen._refresh_layout

        def counted(*args, **kwargs):
            layouts.append(1)
            return relayout(*args, **kwargs)

        screen._refresh_layout = counted
        panel.show(replace(panel.status, state=State.AWAITING_APPROVAL))
        await pilot.pause()
        await pilot.pause()
        assert panel.has_class("-attention")
        assert layouts == []
        assert (panel.region, panel.content_region) == (region, content)  # the text did not move
        assert app.screen._compositor.render_strips()[region.y].text[region.x] == "█"  # the edge is painted


async def test_a_redraw_repaints_only_the_rows_that_changed_and_the_screen_is_what_a_full_repaint_shows():
    """The countdown moved: only its row is handed to Textual to restyle and send to the terminal, and the
    screen then reads exactly as after repainting the whole panel."""
    from tests.test_tui_support import screen_text

    async with watching() as (app, pilot, *_):
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        await pilot.pause()
        status = panel.status
        panel.show(replace(status, phase_elapsed=status.phase_elapsed + 60, at=status.at + 60))
        top = panel.content_offset.y
        assert {y - top for y in panel._styles_cache._dirty_lines} == {0}
        await pilot.pause()
        partial = screen_text(app)
        assert clock_text(status.time_left - 60) in partial.splitlines()[panel.region.y]
        panel.refresh()
        await pilot.pause()
        assert screen_text(app) == partial


def clock_text(seconds: float) -> str:
    from widgets.text import clock

    return clock(seconds)


async def test_a_panel_looks_for_no_links_and_draws_what_it_drew_when_it_did():
    """Textual looks for a clickable link in every segment of a widget's render unless told the widget has
    none; a panel has none (no markup, untrusted text is inert), so it says so: the strips are the same."""
    async with watching() as (app, pilot, *_):
        panel = app.screen.query_one("#panel-nexus", ServicePanel)
        assert panel.auto_links is False
        content = panel.render()
        without = Visual.to_strips(panel, content, *panel.size, panel.visual_style)
        panel.auto_links = True
        with_links = Visual.to_strips(panel, content, *panel.size, panel.visual_style)
        assert segments(without) == segments(with_links)
        assert not any("@click" in (segment.style.meta if segment.style else {}) for strip in without
                       for segment in strip)


def test_putting_a_reason_into_words_is_remembered():
    """A panel puts the same reason into the people's words at every redraw; the answer is kept."""
    from console.engine.words import humane

    text = "observing → awaiting_approval: manual review: p99 above (a reason seen once here)"
    first = humane(text)
    hits = humane.cache_info().hits
    assert humane(text) == first == "observing → awaiting approval: needs review: p99 above (a reason seen once here)"
    assert humane.cache_info().hits == hits + 1
