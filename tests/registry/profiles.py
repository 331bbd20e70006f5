"""Profiles shared by the registry tests."""

from __future__ import annotations

from switchyard.registry.v1 import registry_pb2


def valid_model(upstream: str = "test") -> registry_pb2.Model:
    """A profile that passes validation; tests mutate the copy they get."""
    return registry_pb2.Model(
        display_name="Test model",
        provider=registry_pb2.Provider(
            kind=registry_pb2.PROVIDER_KIND_SIMULATOR,
            endpoint="http://127.0.0.1:8090/v1",
            upstream_model=upstream,
        ),
        pricing=registry_pb2.Pricing(input_micros_per_mtok=150_000, output_micros_per_mtok=600_000),
        context_window=16384,
        max_output_tokens=4096,
        capabilities=[registry_pb2.CAPABILITY_JSON_MODE],
        quality={"chat": registry_pb2.TaskQuality(score=0.8)},
        labels={"tier": "small"},
    )
