"""The registry's fleet metrics, read from a real store at scrape time."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.registry.__main__ import registrar
from services.registry.fleet_metrics import FLEET_METRICS
from services.registry.store import ModelStore
from services.registry.updates import new_profile
from switchyard.registry.v1 import registry_pb2
from tests.registry.profiles import valid_model


def samples() -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry()
    registry.register(FLEET_METRICS)
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_models_by_health_and_the_revision(tmp_path: Path) -> None:
    """Two models, one reported DOWN: one down, one unknown, zero serving; the revision
    is the store's."""
    store = await ModelStore.open(tmp_path / "registry.db")
    try:
        registrar(store)
        assert FLEET_METRICS.source is store
        await store.create(new_profile("a", valid_model()), actor="test")
        b = await store.create(new_profile("b", valid_model()), actor="test")
        down = registry_pb2.Health(state=registry_pb2.HEALTH_STATE_DOWN, reason="5xx")
        await store.report_health(b.name, down, actor="test")
        seen = samples()
        models = "switchyard_registry_models"
        assert seen[(models, frozenset({("health", "down")}))] == 1
        assert seen[(models, frozenset({("health", "unknown")}))] == 1
        assert seen[(models, frozenset({("health", "serving")}))] == 0
        assert seen[("switchyard_registry_revision", frozenset())] == store.revision
        assert seen[("switchyard_registry_watchers", frozenset())] == 0
    finally:
        await store.close()
