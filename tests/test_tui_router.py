"""Test room: the detail screen says which traffic router and object carry a service's weight (the
snapshot's ``router``), and says nothing extra where the cluster does not tell (the simulated world)."""

from __future__ import annotations

from dataclasses import replace

from screens.detail import ServiceDetailScreen
from tests.test_tui import observed
from tests.test_tui_support import settle


async def test_the_detail_screen_names_the_router_and_its_object():
    async with observed(size=(160, 48)) as (app, pilot, session, clock, cluster):
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, ServiceDetailScreen)
        title = detail.query_one("#pods-title")
        assert str(title.render()) == "Pods"  # the fakes name no router
        status = session.controllers[detail.service].status
        routed = replace(status, snapshot=replace(status.snapshot, router="gateway: HTTPRoute perception"))
        detail.show_statuses([routed])
        await settle(app, pilot)
        assert str(title.render()) == "Pods · traffic: gateway: HTTPRoute perception"
