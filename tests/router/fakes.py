"""Shared test doubles for the router's domain tests: a manual clock and model profiles."""

from __future__ import annotations

from services.router.fleet import ModelProfile


class Clock:
    """A clock tests move by hand; `sleep` advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def profile(
    model_id: str, price: int, *, context_window: int = 8000, latency_p50_ms: int = 100
) -> ModelProfile:
    """A simulated model charging `price` µUSD per Mtok in and out."""
    return ModelProfile(
        model_id=model_id,
        provider_kind="simulator",
        endpoint="http://sim",
        upstream_model=model_id,
        credential_env="",
        input_micros_per_mtok=price,
        output_micros_per_mtok=price,
        context_window=context_window,
        max_output_tokens=1000,
        latency_p50_ms=latency_p50_ms,
    )
