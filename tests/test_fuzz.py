"""Fuzz tests (hypothesis, a bounded number of examples): whatever bytes or structures reach the config loader
or the timeline parser, the answer is a Config / Timeline or the one documented error (ConfigError,
TimelineError) — never another exception, never a traceback (issue 13)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.engine.config import Config, ConfigError, load_config
from console.engine.timeline import Timeline, TimelineError, parse_timeline

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.sampled_from(["15m", "0s", "-1s", "1e400", "250ms", ".inf", "-canary", "", "perception"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)
FIELDS = ["check_interval", "window", "progress_deadline", "phases", "services", "criteria", "judging", "kube",
          "prometheus", "auto", "shadow", "theme", "journal"]
SUBFIELDS = {"kube": ["canary_suffix", "namespace", "lease_seconds", "promote_deadline", "image"],
             "prometheus": ["url", "timeout", "retries", "headers"],
             "criteria": ["error_rate_increase", "p95_increase", "min_success_rate"],
             "judging": ["alpha_fail", "min_requests", "latency_persistence"]}


@st.composite
def settings_trees(draw) -> dict:
    tree = {}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        if name in SUBFIELDS and draw(st.booleans()):
            tree[name] = {sub: draw(values) for sub in draw(st.lists(st.sampled_from(SUBFIELDS[name]),
                                                                        max_size=3, unique=True))}
        elif name == "phases" and draw(st.booleans()):
            tree[name] = draw(st.lists(st.fixed_dictionaries(
                {"name": st.text(max_size=8), "weight": values, "duration": values}), max_size=4))
        else:
            tree[name] = draw(values)
    return tree


def _loads_or_refuses(path: Path) -> None:
    try:
        config = load_config(path, env={})
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(config, Config)
    assert all(math.isfinite(v) and v > 0 for v in (config.check_interval, config.window,
                                                     config.progress_deadline, config.kube.lease_seconds))
    assert config.kube.canary_suffix and all(config.kube.canary_name(s) not in config.service_names
                                             for s in config.service_names)


@FUZZ
@given(tree=settings_trees())
def test_config_loader_on_structured_settings(tmp_path_factory, tree) -> None:
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True))
    _loads_or_refuses(path)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_config_loader_on_any_bytes(tmp_path_factory, raw) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_bytes(raw)
    _loads_or_refuses(path)


numbers = st.one_of(st.integers(min_value=-10**20, max_value=10**400), st.floats(allow_nan=True,
                                                                                 allow_infinity=True),
                    st.none(), st.text(max_size=5), st.booleans())
samples = st.fixed_dictionaries({"t": numbers, "service": st.sampled_from(["perception", "", "x\x1b", 5]),
                                 "track": st.sampled_from(["stable", "canary", "both", None]),
                                 "requests": numbers, "errors": numbers},
                                optional={"p95": numbers, "p99": numbers})


@FUZZ
@given(lines=st.lists(st.one_of(samples.map(lambda d: json.dumps(d)), st.text(max_size=40)), max_size=8))
def test_timeline_parser_on_any_lines(lines) -> None:
    try:
        timeline = parse_timeline(lines)
    except TimelineError as exc:
        assert str(exc)
        return
    assert isinstance(timeline, Timeline)
    for service in timeline.services:
        try:
            assert len(timeline.times(service)) <= 1_000_000
        except TimelineError:
            pass  # too many checks for its step: refused, as documented


@FUZZ
@given(ts=st.lists(st.floats(min_value=0, max_value=1e10), min_size=1, max_size=6))
def test_timeline_times_are_bounded_whatever_the_t(ts) -> None:
    lines = [json.dumps({"t": t, "service": "perception", "track": "canary", "requests": 1, "errors": 0})
             for t in ts]
    try:
        timeline = parse_timeline(lines)
        times = timeline.times("perception")
    except TimelineError:
        return
    assert len(times) <= 1_000_000
