"""Test room: requests to the driver of a service driven elsewhere (issue 14), on the virtual clock.

Two sessions share one in-memory cluster: the *driver* (a controller replica, told to drive every service)
and a *person's* console that drives nothing. The person's keys and intents become requests in an
in-memory RequestBox (the Kubernetes one is tested on the real control plane in test_real_controller.py);
the driver serves them at its next check through the same intent rules, and the person sees the answer."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from console.app import CanaryApp
from console.engine.model import Event, EventKind, State
from console.engine.requests import DONE, PENDING, Request
from console.engine.session import Session
from tests.test_tui_support import fake_session, run_for, screen_text, settle

DRIVER = "controller-0"


class MemoryBox:
    """A RequestBox in memory: the same contract as adapters/kube_requests.KubeRequestBox."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.items: dict[str, Request] = {}

    async def submit(self, service: str, action: str, actor: str, args: dict[str, Any]) -> Request:
        request = Request(f"req-{len(self.items)}", service, action, actor, self.clock.now(), dict(args))
        self.items[request.name] = request
        return request

    async def get(self, name: str) -> Request | None:
        return self.items.get(name)

    async def pending(self, services: list[str]) -> list[Request]:
        return [r for r in self.items.values() if r.service in services and r.result == PENDING]

    async def acknowledge(self, request: Request, result: str, reason: str, by: str) -> None:
        self.items[request.name] = replace(request, result=result, reason=reason, handled_by=by)


class PersonView:
    """The same cluster seen by another identity (a person's console beside the controller)."""

    def __init__(self, cluster, identity: str) -> None:
        self._cluster, self.identity = cluster, identity

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)


async def two_consoles():
    driver, clock, cluster = fake_session()
    cluster.identity = DRIVER
    box = MemoryBox(clock)
    driver = Session(driver.config, cluster, driver.metrics, clock, actor=DRIVER, drive="all", requests=box)
    person = Session(driver.config, PersonView(cluster, "alice"), driver.metrics, clock, actor="alice",
                     requests=box)
    for service in driver.config.service_names:
        cluster.services[service].driver = DRIVER  # the Lease holder, as the snapshot reports it
    await driver.intent("perception", "start", version="1.2.4")
    return driver, person, clock, box


async def step_both(driver: Session, person: Session, clock, seconds: float) -> None:
    end = clock.now() + seconds
    while clock.now() < end:
        await driver.step()
        await person.step()
        await clock.advance(1.0)


async def test_a_pause_from_a_person_is_served_by_the_driver_and_answered():
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 60)
    assert driver.controllers["perception"].state is State.OBSERVING
    result = await person.intent("perception", "pause")
    assert result.ok and "pending" in result.message
    assert [r.result for r in box.items.values()] == [PENDING]
    await step_both(driver, person, clock, 5)
    assert driver.controllers["perception"].state is State.PAUSED
    (answered,) = box.items.values()
    assert answered.result == DONE and answered.handled_by == DRIVER
    assert "alice via controller-0" in driver.controllers["perception"].reason


async def test_a_request_is_refused_by_the_drivers_own_rules():
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 60)
    result = await person.request("perception", "approve", wait=False)  # not awaiting approval
    assert result.ok
    await step_both(driver, person, clock, 5)
    (answered,) = box.items.values()
    assert answered.result == "refused" and answered.reason


async def test_no_driver_is_answered_at_once_and_nothing_is_written():
    driver, person, clock, box = await two_consoles()
    driver.cluster.services["nexus"].driver = None
    await step_both(driver, person, clock, 5)
    result = await person.request("nexus", "start", version="1.2.4")
    assert not result.ok and "no driver" in result.message
    assert not box.items


async def test_a_request_nobody_answers_is_reported_unanswered():
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 30)
    seen = []
    person.bus.subscribe(seen.append)
    await person.intent("perception", "pause")
    for _ in range(int(person.request_deadline) + 5):  # the driver is gone: only the person steps
        await person.step()
        await clock.advance(1.0)
    assert any("unanswered" in e.message for e in seen)
    assert driver.controllers["perception"].state is State.OBSERVING


async def test_the_dashboard_offers_the_keys_on_a_service_driven_elsewhere_and_shows_the_answer():
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 60)
    app = CanaryApp(person, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_service == "perception"
        assert app.check_action("pause", ()) and app.check_action("rollback", ())
        assert not app.check_action("start", ())
        await pilot.press("p")
        await settle(app, pilot)
        assert any("pending" in n.message for n in app._notifications)
        await step_both(driver, person, clock, 5)
        await settle(app, pilot)
        assert driver.controllers["perception"].state is State.PAUSED
        assert any("pause done" in n.message for n in app._notifications), [n.message for n in app._notifications]
        assert "perception" in screen_text(app)


class Held:
    """One of the cluster's calls (``save_record`` unless named), of which the next call waits until
    ``release()`` (a write in flight)."""

    def __init__(self, cluster, name: str = "save_record") -> None:
        self.call = getattr(cluster, name)
        self.gate: asyncio.Event | None = None
        self.waiting: asyncio.Event | None = None
        setattr(cluster, name, self)

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.waiting is not None
        self.waiting.set()

    async def __call__(self, *args):
        gate, self.gate = self.gate, None
        if gate is not None:
            self.waiting = gate
            await gate.wait()
        return await self.call(*args)


async def until(condition, what: str, rounds: int = 1000) -> None:
    """Let the loop run until ``condition()`` holds (bounded in turns of the loop, not in time)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never saw {what}")


async def test_a_key_pressed_while_a_request_is_served_is_the_drivers_own_not_the_requesters():
    """The driving console's own key (an advance whose weight write is in flight) and a person's request
    served meanwhile (a pause, waiting for that write): each action is announced under its own name. A served
    request that swapped the controller's actor made the key's advance the requester's."""
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 60)
    actions: list[Event] = []
    driver.bus.subscribe(lambda e: actions.append(e) if e.kind is EventKind.ACTION else None)
    await person.intent("perception", "pause")
    held = Held(driver.cluster, "set_weight")
    held.hold()
    key = asyncio.ensure_future(driver.intent("perception", "advance"))  # the driving console's key
    await until(lambda: held.waiting is not None, "the key's weight write in flight")
    serving = asyncio.ensure_future(driver.step())  # serves alice's pause meanwhile
    controller = driver.controllers["perception"]
    await until(lambda: controller.state is State.PAUSED, "the served pause under way")
    held.release()
    await asyncio.gather(serving, key)
    by = {e.data["what"]: e.data["actor"] for e in actions}
    assert by == {"set_weight": DRIVER, "pause": f"alice via {DRIVER}"}
    assert controller.actor == DRIVER


async def test_the_answer_to_a_request_is_an_audit_event_through_the_sinks_and_a_failure_to_record_it_is_said():
    driver, person, clock, box = await two_consoles()
    await step_both(driver, person, clock, 60)
    record = driver.cluster.record_event

    async def refusing_answers(service: str, reason: str, message: str) -> None:
        if reason.startswith("CanaryRequest"):
            raise RuntimeError("events are forbidden (HTTP 403)")
        await record(service, reason, message)

    errors: list[Event] = []
    driver.bus.subscribe(lambda e: errors.append(e) if e.kind is EventKind.ERROR else None)
    driver.cluster.record_event = refusing_answers
    await person.intent("perception", "pause")
    await step_both(driver, person, clock, 2)
    await driver.drain()
    assert [e.message for e in errors] == ["recording the Kubernetes Event failed: events are forbidden (HTTP 403)"]
    driver.cluster.record_event = record
    await person.intent("perception", "resume")
    await step_both(driver, person, clock, 2)
    await driver.drain()
    answers = [(reason, message.split(":")[0]) for _, reason, message in driver.cluster.events
               if reason.startswith("CanaryRequest")]
    assert answers == [("CanaryRequestDone", "resume requested by alice")], answers


async def test_the_pending_answer_comes_before_the_drivers_name_which_a_toast_would_clip():
    driver, person, clock, box = await two_consoles()
    long_name = "alice as system:serviceaccount:butterfly:canary-console-controller on node-7:4242-beef"
    driver.cluster.services["perception"].driver = long_name  # a controller replica's Lease holder
    await step_both(driver, person, clock, 60)
    seen: list[Event] = []
    person.bus.subscribe(seen.append)
    result = await person.intent("perception", "pause")
    assert result.ok and result.message == f"perception: pause pending: asked of {long_name}", result.message
    assert [e.message for e in seen if e.data.get("result") == "pending"] == [f"pause pending: asked of {long_name}"]
