"""Test room: issue 17's idle CPU, as behaviour (Pilot): a panel that comes to need a person recolours its
left edge without a layout of the whole screen. What it costs in CPU is measured by benchmarks/idle_cpu.py, not here (tests never time anything)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace

from console.app import CanaryApp
from console.engine.model import State
from tests.test_tui_support import fake_session, run_for, settle, start_all
from widgets.service_panel import ServicePanel


@asynccontextmanager
async def watching(size: tuple[int, int] = (120, 40)):
    """The fake world after 60 s under the app (every status drawn as it comes): yields (app, pilot)."""
    session, clock, _cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield app, pilot


async def test_a_panel_that_comes_to_need_a_person_recolours_its_edge_without_a_layout():
    """The left edge is always there (blank while the service is fine): a state that needs a person paints
    it instead of changing the padding, which laid out the whole screen on every such change."""
    async with watching() as (app, pilot):
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
