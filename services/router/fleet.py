"""The router's local copy of the model fleet, fed by the registry's watch stream.

Route() reads only this copy; the registry is never called per request, and the copy
stays usable (last known good) while the registry is down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from switchyard.registry.v1 import registry_pb2

_PROVIDER_KINDS = {
    registry_pb2.PROVIDER_KIND_OPENAI_COMPATIBLE: "openai_compatible",
    registry_pb2.PROVIDER_KIND_SIMULATOR: "simulator",
    registry_pb2.PROVIDER_KIND_ANTHROPIC: "anthropic",
}
_HEALTH = {
    registry_pb2.HEALTH_STATE_SERVING: "serving",
    registry_pb2.HEALTH_STATE_DEGRADED: "degraded",
    registry_pb2.HEALTH_STATE_DOWN: "down",
}


@dataclass(frozen=True)
class ModelProfile:
    model_id: str
    provider_kind: str
    endpoint: str
    upstream_model: str
    credential_env: str
    input_micros_per_mtok: int
    output_micros_per_mtok: int
    context_window: int
    max_output_tokens: int
    capabilities: frozenset[str] = frozenset()
    quality: Mapping[str, float] = field(default_factory=dict)
    latency_p50_ms: int = 0
    latency_p95_ms: int = 0
    health: str = "unknown"

    def cost_micros(self, input_tokens: int, output_tokens: int) -> int:
        """Integer micro-USD, rounded up so a paid call never costs 0."""
        total = (
            input_tokens * self.input_micros_per_mtok + output_tokens * self.output_micros_per_mtok
        )
        return -(-total // 1_000_000)


def profile_from_proto(model: registry_pb2.Model) -> ModelProfile:
    model_id = model.name.removeprefix("models/")
    return ModelProfile(
        model_id=model_id,
        provider_kind=_PROVIDER_KINDS.get(model.provider.kind, "unknown"),
        endpoint=model.provider.endpoint,
        upstream_model=model.provider.upstream_model or model_id,
        credential_env=model.provider.credential_env,
        input_micros_per_mtok=model.pricing.input_micros_per_mtok,
        output_micros_per_mtok=model.pricing.output_micros_per_mtok,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        capabilities=frozenset(
            registry_pb2.Capability.Name(c).removeprefix("CAPABILITY_").lower()
            for c in model.capabilities
        ),
        quality={task: q.score for task, q in model.quality.items()},
        latency_p50_ms=model.latency.total_p50_ms,
        latency_p95_ms=model.latency.total_p95_ms,
        health=_HEALTH.get(model.health.state, "unknown"),
    )


class FleetView:
    """Model profiles by id, plus the registry revision they reflect."""

    def __init__(self, profiles: Iterable[ModelProfile] = (), revision: int = 0) -> None:
        self._profiles: dict[str, ModelProfile] = {p.model_id: p for p in profiles}
        self.revision = revision

    def get(self, model_id: str) -> ModelProfile | None:
        return self._profiles.get(model_id)

    def __len__(self) -> int:
        return len(self._profiles)

    def replace_all(self, profiles: Iterable[ModelProfile], revision: int) -> None:
        self._profiles = {p.model_id: p for p in profiles}
        self.revision = revision

    def upsert(self, profile: ModelProfile, revision: int) -> None:
        self._profiles[profile.model_id] = profile
        self.revision = max(self.revision, revision)

    def remove(self, model_id: str, revision: int) -> None:
        self._profiles.pop(model_id, None)
        self.revision = max(self.revision, revision)
