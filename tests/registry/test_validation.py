"""Invalid profiles get INVALID_ARGUMENT with one field violation per problem."""

from __future__ import annotations

import grpc
import pytest

from services.registry.validation import profile_violations
from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import field_violations
from tests.registry.conftest import Registry
from tests.registry.profiles import valid_model


def test_valid_profile_has_no_violations() -> None:
    """The shared test profile is valid, so the other tests only see their own problems."""
    assert profile_violations(valid_model()) == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda m: setattr(m.pricing, "input_micros_per_mtok", -1),
            "model.pricing.input_micros_per_mtok",
        ),
        (lambda m: setattr(m.provider, "endpoint", ""), "model.provider.endpoint"),
        (lambda m: setattr(m.provider, "endpoint", "not a url"), "model.provider.endpoint"),
        (lambda m: setattr(m.provider, "kind", 0), "model.provider.kind"),
        (lambda m: setattr(m.provider, "kind", 42), "model.provider.kind"),
        (
            lambda m: setattr(m.provider, "credential_env", "sk-live-123"),
            "model.provider.credential_env",
        ),
        (lambda m: m.quality["chat"].__setattr__("score", 1.5), "model.quality['chat'].score"),
        (
            lambda m: m.quality["chat"].__setattr__("score", float("nan")),
            "model.quality['chat'].score",
        ),
        (lambda m: setattr(m, "context_window", 100), "model.context_window"),
        (lambda m: setattr(m, "max_output_tokens", 0), "model.max_output_tokens"),
        (lambda m: setattr(m.latency, "ttft_p99_ms", -3), "model.latency.ttft_p99_ms"),
        (lambda m: m.labels.__setitem__("Bad Key", "x"), "model.labels['Bad Key']"),
    ],
)
def test_each_problem_is_named(mutate: object, field: str) -> None:
    """Each kind of bad value produces exactly one violation naming its field."""
    model = valid_model()
    mutate(model)  # type: ignore[operator]
    assert [v.field for v in profile_violations(model)] == [field]


async def test_create_reports_every_problem_and_stores_nothing(registry: Registry) -> None:
    """A profile with four problems gets four field violations and leaves the fleet empty."""
    model = valid_model()
    model.pricing.input_micros_per_mtok = -1
    model.provider.endpoint = ""
    model.quality["math"].score = 2.0
    model.context_window = 10  # smaller than max_output_tokens
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub.CreateModel(
            registry_pb2.CreateModelRequest(model_id="Bad_ID", model=model)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = sorted(v.field for v in field_violations(err.value))
    assert fields == sorted(
        [
            "model_id",
            "model.pricing.input_micros_per_mtok",
            "model.provider.endpoint",
            "model.quality['math'].score",
            "model.context_window",
        ]
    )
    listed = await registry.stub.ListModels(registry_pb2.ListModelsRequest())
    assert list(listed.models) == []
    assert registry.store.revision == 0
