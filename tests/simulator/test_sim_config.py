"""Models file and fault validation: every problem named, nothing half-applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.simulator.config import SimulatorConfig
from services.simulator.faults import FaultSettings, parse_faults
from services.simulator.models import load_profiles
from switchyard.runtime.config import load_config
from switchyard.runtime.errors import InvalidArgument, StartupError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulator.yaml"


def test_example_fleet_matches_the_demo_truth() -> None:
    """The shipped example has the demo models with the qualities the docs promise."""
    profiles = load_profiles(EXAMPLE)
    assert {"small", "medium", "large", "code"} <= set(profiles)
    assert profiles["small"].quality == 0.75
    assert profiles["medium"].quality == 0.85
    assert profiles["large"].quality == 0.97
    assert profiles["code"].quality == 0.9
    assert profiles["code"].style == "code"
    assert profiles["small"].ttft_ms < profiles["large"].ttft_ms


def test_bad_models_file_names_every_field(tmp_path: Path) -> None:
    """Each bad setting appears in the one-line StartupError."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "models:\n  a:\n    quality: 1.5\n    error_status: 200\n    colour: red\n"
        "  b:\n    jitter: yes\n    style: poetry\n"
    )
    with pytest.raises(StartupError) as info:
        load_profiles(path)
    message = str(info.value)
    for field in (
        "models.a.quality",
        "models.a.error_status",
        "models.a.colour",
        "models.b.jitter",
        "models.b.style",
    ):
        assert field in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["", "models: []\n", "just text\n", "models:\n  a: 3\n"])
def test_models_file_shape_errors(tmp_path: Path, text: str) -> None:
    """Empty, non-mapping or wrongly shaped files are refused."""
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(StartupError):
        load_profiles(path)


def test_missing_models_file() -> None:
    """A missing file is a StartupError naming it."""
    with pytest.raises(StartupError, match=r"nope\.yaml"):
        load_profiles("nope.yaml")


def test_config_from_flags_and_env() -> None:
    """Flags and SWITCHYARD_SIMULATOR_* env build the frozen config; bad replay refused."""
    config = load_config(
        SimulatorConfig,
        env_prefix="SWITCHYARD_SIMULATOR_",
        argv=["--port", "0", "--seed", "5"],
        environ={"SWITCHYARD_SIMULATOR_MODELS_FILE": "x.yaml"},
    )
    assert (config.port, config.seed, config.models_file) == (0, 5, "x.yaml")
    with pytest.raises(StartupError, match="replay"):
        SimulatorConfig(replay="mmlu")


def test_replay_flag_repeats_and_env_takes_a_list() -> None:
    """`--replay` may repeat (or hold a comma list), in order; the env var holds a comma
    list; flags replace the env value, as for every setting."""
    config = load_config(
        SimulatorConfig,
        env_prefix="SWITCHYARD_SIMULATOR_",
        argv=["--replay", "a.jsonl", "--replay", "gsm8k,b.jsonl"],
        environ={"SWITCHYARD_SIMULATOR_REPLAY": "env.jsonl"},
    )
    assert config.replay == ("a.jsonl", "gsm8k", "b.jsonl")
    from_env = load_config(
        SimulatorConfig,
        env_prefix="SWITCHYARD_SIMULATOR_",
        argv=[],
        environ={"SWITCHYARD_SIMULATOR_REPLAY": "x.jsonl,routerarena"},
    )
    assert from_env.replay == ("x.jsonl", "routerarena")


def test_faults_accept_valid_body() -> None:
    """A full valid body becomes FaultSettings with those values."""
    faults = parse_faults(
        {
            "error_rate": 0.1,
            "error_status": 429,
            "retry_after_s": 2,
            "added_latency_ms": 5,
            "latency_multiplier": 2,
            "malformed_rate": 0.1,
            "truncated_rate": 0.1,
            "refusal_rate": 0.1,
            "empty_rate": 0.1,
        },
        base_error_rate=0.0,
    )
    assert faults.error_status == 429
    assert faults.latency_multiplier == 2.0
    assert faults.active
    assert not parse_faults({}, base_error_rate=0.0).active


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "high"}, "error_rate"),
        ({"error_status": 200}, "error_status"),
        ({"error_status": 503.5}, "error_status"),
        ({"latency_multiplier": -1}, "latency_multiplier"),
        ({"added_latency_ms": True}, "added_latency_ms"),
        ({"malformed_rate": 0.7, "empty_rate": 0.7}, "empty_rate"),
        ({"surprise": 1}, "surprise"),
        ([1, 2], "body"),
    ],
)
def test_faults_reject_bad_field(body: object, field: str) -> None:
    """Each bad body is refused with a violation naming the field."""
    with pytest.raises(InvalidArgument) as info:
        parse_faults(body, base_error_rate=0.0)
    assert field in [v.field for v in info.value.violations]


def test_fault_rates_include_profile_error_rate() -> None:
    """Rates plus the profile's own error rate may not exceed 1."""
    with pytest.raises(InvalidArgument, match="profile"):
        parse_faults({"malformed_rate": 0.95}, base_error_rate=0.1)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "error_rate": st.floats(0, 0.2),
            "malformed_rate": st.floats(0, 0.2),
            "refusal_rate": st.floats(0, 0.2),
            "latency_multiplier": st.floats(0, 100),
            "error_status": st.integers(400, 599),
        },
    )
)
def test_any_in_range_body_is_accepted(body: dict[str, float]) -> None:
    """Every combination of in-range values is accepted and kept as given."""
    faults = parse_faults(body, base_error_rate=0.0)
    for key, value in body.items():
        assert getattr(faults, key) == value
    assert isinstance(faults, FaultSettings)
