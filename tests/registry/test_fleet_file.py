"""Fleet files: YAML with friendly keys and ${VAR} expansion -> Model protos."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.registry.validation import profile_violations
from switchyard.fleet import FleetError, changed_fields, diff_fleet, load_fleet, parse_fleet
from switchyard.registry.v1 import registry_pb2

REPO = Path(__file__).resolve().parents[2]


def test_demo_fleet_loads_and_is_valid() -> None:
    """examples/fleet.yaml holds small/medium/large/code, all valid simulator profiles."""
    models = load_fleet(REPO / "examples" / "fleet.yaml", environ={})
    assert [m.name for m in models] == [
        "models/small",
        "models/medium",
        "models/large",
        "models/code",
    ]
    for model in models:
        assert profile_violations(model) == [], model.name
        assert model.provider.kind == registry_pb2.PROVIDER_KIND_SIMULATOR
        assert model.provider.upstream_model == model.name.removeprefix("models/")
        assert model.provider.endpoint == "http://127.0.0.1:8090/v1"
    by_id = {m.name: m for m in models}
    assert by_id["models/small"].pricing.input_micros_per_mtok == 150_000
    assert by_id["models/large"].pricing.output_micros_per_mtok == 15_000_000
    assert registry_pb2.CAPABILITY_CODE in by_id["models/code"].capabilities


def test_endpoint_follows_the_environment() -> None:
    """${SWITCHYARD_SIMULATOR_URL:-...} takes the environment value when it is set."""
    models = load_fleet(
        REPO / "examples" / "fleet.yaml",
        environ={"SWITCHYARD_SIMULATOR_URL": "http://127.0.0.1:9911"},
    )
    assert {m.provider.endpoint for m in models} == {"http://127.0.0.1:9911/v1"}


def test_friendly_keys_map_to_proto_fields() -> None:
    """Pricing, quality details, latency, capabilities and labels land in the right fields."""
    text = """
- id: m1
  provider: {kind: openai_compatible, endpoint: "${HOST}/v1", credential_env: OPENAI_API_KEY}
  pricing: {input_per_mtok_micros: 1_000, output_per_mtok_micros: 2000}
  context_window: 8192
  max_output_tokens: 1024
  capabilities: [code, json_mode, code]
  quality:
    math: {score: 0.64, dataset: gsm8k, measured: 2024-06-01}
    chat: 0.9
  latency: {ttft_p50_ms: 100, tokens_per_second: 55.5}
  labels: {team: infra}
"""
    [model] = parse_fleet(text, environ={"HOST": "https://api.example.com"})
    assert model.provider.endpoint == "https://api.example.com/v1"
    assert model.provider.upstream_model == "m1"
    assert model.provider.credential_env == "OPENAI_API_KEY"
    assert model.pricing.input_micros_per_mtok == 1000
    assert list(model.capabilities) == [
        registry_pb2.CAPABILITY_JSON_MODE,
        registry_pb2.CAPABILITY_CODE,
    ]
    assert model.quality["math"].dataset == "gsm8k"
    assert model.quality["math"].measure_time.ToDatetime().year == 2024
    assert model.quality["chat"].score == pytest.approx(0.9)
    assert model.latency.tokens_per_second == pytest.approx(55.5)
    assert model.labels["team"] == "infra"


def test_file_problems_are_all_reported_with_their_location() -> None:
    """Unknown keys, bad types, unknown kinds, unset variables and duplicate ids are listed."""
    text = """
- id: a
  provider: {kind: telepathy, endpoint: "${MISSING}"}
  pricing: {input_per_mtok_micros: cheap}
  colour: blue
- id: a
  provider: {kind: simulator, endpoint: http://x/v1}
"""
    with pytest.raises(FleetError) as err:
        parse_fleet(text, source="f.yaml", environ={})
    problems = "\n".join(err.value.problems)
    assert "models[0].provider.kind" in problems
    assert "MISSING is not set" in problems
    assert "models[0].pricing.input_per_mtok_micros: expected an integer" in problems
    assert "unknown keys ['colour']" in problems
    assert "models[1].id: duplicate id 'a'" in problems


def test_diff_names_changed_fields() -> None:
    """diff_fleet plans creates, updates with their changed fields, and unchanged models."""
    [a, b] = parse_fleet(
        """
- {id: a, provider: {kind: simulator, endpoint: http://x/v1}, context_window: 10}
- {id: b, provider: {kind: simulator, endpoint: http://x/v1}}
""",
        environ={},
    )
    held_a = registry_pb2.Model()
    held_a.CopyFrom(a)
    held_a.context_window = 20
    held_a.labels["x"] = "y"
    held_a.etag = "e1"
    plan = diff_fleet([held_a], [a, b])
    assert [(c.model_id, c.action) for c in plan] == [("a", "update"), ("b", "create")]
    assert plan[0].changed_fields == ("context_window", "labels.x")
    assert plan[0].etag == "e1"
    assert changed_fields(a, a) == []
