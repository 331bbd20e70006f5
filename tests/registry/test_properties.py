"""Property-based tests (hypothesis) against a real registry over gRPC.

The registry runs on its own event loop in a background thread, so hypothesis can
drive it with plain synchronous stubs, many examples per test, one server per module.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.registry.__main__ import start_registry
from services.registry.config import RegistryConfig
from services.registry.listing import list_page
from services.registry.store import ModelStore
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.runtime.errors import field_violations

_unique = itertools.count()


@dataclass
class ThreadedRegistry:
    stub: registry_pb2_grpc.RegistryServiceStub
    store: ModelStore


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedRegistry]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    db_path = tmp_path_factory.mktemp("props") / "r.db"
    config = RegistryConfig(port=0, db_path=str(db_path))
    running, store = asyncio.run_coroutine_threadsafe(start_registry(config), loop).result(20)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield ThreadedRegistry(registry_pb2_grpc.RegistryServiceStub(channel), store)
    finally:
        channel.close()

        async def stop() -> None:
            await store.close()
            await running.stop(0.5)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


# Each strategy yields (value, violation field or None): the oracle is the spec's rules,
# written independently of services/registry/validation.py.
# Each field is valid 8 times in 9, so about a third of the profiles are fully valid.
def _valid_or_not(valid: st.SearchStrategy, invalid: st.SearchStrategy, field: str):  # type: ignore[no-untyped-def]
    return st.sampled_from([True] * 8 + [False]).flatmap(
        lambda ok: valid.map(lambda v: (v, None)) if ok else invalid.map(lambda v: (v, field))
    )


prices = _valid_or_not(st.integers(0, 10**9), st.integers(-(10**9), -1), "")
kinds = _valid_or_not(
    st.sampled_from([1, 2, 3]), st.sampled_from([0, 4, 17, 99]), "model.provider.kind"
)
endpoints = _valid_or_not(
    st.sampled_from(["http://127.0.0.1:8090/v1", "https://api.example.com/v1"]),
    st.sampled_from(["", "   ", "ftp://files/v1", "localhost:8090", "not a url"]),
    "model.provider.endpoint",
)
scores = _valid_or_not(
    st.floats(0.0, 1.0),
    st.one_of(
        st.floats(min_value=1.0, exclude_min=True, allow_infinity=True),
        st.floats(max_value=0.0, exclude_max=True, allow_infinity=True),
        st.just(math.nan),
    ),
    "",
)
model_ids = _valid_or_not(
    st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True),
    st.one_of(
        st.just(""),
        st.from_regex(r"[a-z]{0,5}[A-Z_./ ][a-z]{0,5}", fullmatch=True),
        st.from_regex(r"[a-z]{64,70}", fullmatch=True),
    ),
    "model_id",
)


@st.composite
def profiles(draw: st.DrawFn) -> tuple[str, registry_pb2.Model, set[str]]:
    """A CreateModel request and the set of fields the spec says are wrong with it."""
    expected: set[str] = set()
    model_id, bad = draw(model_ids)
    if bad is None:
        model_id = f"{model_id[:20]}-{next(_unique)}"  # unique across examples
    else:
        expected.add(bad)
    model = registry_pb2.Model(display_name=draw(st.text(max_size=20)))
    model.provider.kind, bad = draw(kinds)
    expected.add(bad) if bad else None
    model.provider.endpoint, bad = draw(endpoints)
    expected.add(bad) if bad else None
    model.provider.upstream_model = "m"
    for side in ("input", "output"):
        value, bad = draw(prices)
        setattr(model.pricing, f"{side}_micros_per_mtok", value)
        if value < 0:
            expected.add(f"model.pricing.{side}_micros_per_mtok")
    max_output = draw(st.one_of(st.integers(1, 8192), st.integers(-5, 0)))
    context = draw(st.one_of(st.integers(8192, 200_000), st.integers(-5, 200_000)))
    model.max_output_tokens, model.context_window = max_output, context
    if max_output <= 0:
        expected.add("model.max_output_tokens")
    if context <= 0 or context < max_output:
        expected.add("model.context_window")
    tasks = draw(st.lists(st.sampled_from(["chat", "math", "code_generation"]), unique=True))
    for task in tasks:
        score, _ = draw(scores)
        model.quality[task].score = score
        if not 0.0 <= score <= 1.0:  # NaN fails both comparisons
            expected.add(f"model.quality[{task!r}].score")
    return model_id, model, expected


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=profiles())
def test_exactly_the_valid_profiles_are_stored(
    threaded: ThreadedRegistry, case: tuple[str, registry_pb2.Model, set[str]]
) -> None:
    """A valid profile is stored as sent; an invalid one is INVALID_ARGUMENT naming exactly
    the wrong fields, and the registry's revision does not move."""
    model_id, model, expected = case
    event("valid" if not expected else "invalid")
    before = threaded.store.revision
    request = registry_pb2.CreateModelRequest(model_id=model_id, model=model)
    if not expected:
        created = threaded.stub.CreateModel(request, timeout=10).model
        stored = threaded.stub.GetModel(
            registry_pb2.GetModelRequest(name=f"models/{model_id}"), timeout=10
        ).model
        assert stored == created
        assert stored.pricing == model.pricing and stored.provider == model.provider
        assert threaded.store.revision == before + 1
        return
    with pytest.raises(grpc.RpcError) as err:
        threaded.stub.CreateModel(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert {v.field for v in field_violations(err.value)} == expected
    assert threaded.store.revision == before
    if model_id and "model_id" not in expected:
        assert threaded.store.find(f"models/{model_id}") is None


def _names(count: int) -> list[str]:
    return [f"models/m{i:03d}" for i in range(count)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(page_size=st.integers(1, 40))
def test_pagination_over_grpc_returns_every_model_once(
    threaded: ThreadedRegistry, page_size: int
) -> None:
    """For any page size, paging ListModels (label filter) yields each model exactly once."""
    stub = threaded.stub
    model = registry_pb2.Model(
        provider=registry_pb2.Provider(kind=3, endpoint="http://h/v1", upstream_model="m"),
        context_window=10,
        max_output_tokens=5,
        labels={"suite": "paging"},
    )
    if threaded.store.find("models/paging-000") is None:
        for i in range(33):
            stub.CreateModel(
                registry_pb2.CreateModelRequest(model_id=f"paging-{i:03d}", model=model)
            )
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListModels(
            registry_pb2.ListModelsRequest(
                page_size=page_size, page_token=token, filter="labels.suite=paging"
            ),
            timeout=10,
        )
        assert 0 < len(page.models) <= page_size
        seen.extend(m.name for m in page.models)
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"models/paging-{i:03d}" for i in range(33)]


@given(
    count=st.integers(0, 60),
    page_size=st.integers(0, 70),
    churn=st.lists(st.tuples(st.booleans(), st.integers(0, 99)), max_size=30),
)
def test_pagination_survives_creates_and_deletes_between_pages(
    count: int, page_size: int, churn: list[tuple[bool, int]]
) -> None:
    """Models present for the whole listing appear exactly once, whatever changes between
    pages, and nothing appears twice."""
    fleet = {name: registry_pb2.Model(name=name) for name in _names(count)}
    always_present = set(fleet)
    changes = iter(churn)
    seen: list[str] = []
    token = ""
    while True:
        models = [fleet[name] for name in sorted(fleet)]
        page, token = list_page(models, page_size=page_size, page_token=token, filter_text="")
        seen.extend(m.name for m in page)
        if not token:
            break
        add, index = next(changes, (False, -1))
        if index >= 0:
            name = f"models/m{index:03d}"
            if add:
                fleet[name] = registry_pb2.Model(name=name)
            else:
                fleet.pop(name, None)
                always_present.discard(name)
    assert len(seen) == len(set(seen))
    assert always_present <= set(seen)
