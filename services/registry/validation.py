"""Model profile validation: one FieldViolation per problem, nothing stored on any.

Pure functions over `registry_pb2.Model`, so they can be tested directly and with
hypothesis. Field paths in violations are relative to the request (`model.pricing...`).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlparse

from switchyard.registry.v1 import registry_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument

MODEL_ID_RE = re.compile(r"[a-z0-9-]{1,63}")
NAME_PREFIX = "models/"
TASK_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Label values must stay filterable with `labels.k=v AND ...`: no spaces, no '='.
LABEL_KEY_RE = re.compile(r"[a-z][a-z0-9_.\-/]{0,62}")
LABEL_VALUE_RE = re.compile(r"[A-Za-z0-9_.\-:/]{0,63}")
# A credential is referenced by environment variable name; anything else may be a pasted secret.
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_DISPLAY_NAME = 200
MAX_QUALITY_ENTRIES = 64
MAX_LABELS = 64

_KNOWN_KINDS = frozenset(registry_pb2.ProviderKind.values()) - {
    registry_pb2.PROVIDER_KIND_UNSPECIFIED
}
_KNOWN_CAPABILITIES = frozenset(registry_pb2.Capability.values()) - {
    registry_pb2.CAPABILITY_UNSPECIFIED
}
_KNOWN_HEALTH = frozenset(registry_pb2.HealthState.values()) - {
    registry_pb2.HEALTH_STATE_UNSPECIFIED
}


def model_name(model_id: str) -> str:
    return NAME_PREFIX + model_id


def model_id_violations(model_id: str, field: str = "model_id") -> list[FieldViolation]:
    if MODEL_ID_RE.fullmatch(model_id):
        return []
    return [
        FieldViolation(field, f"must be 1-63 characters of a-z, 0-9 and '-', got {model_id[:80]!r}")
    ]


def parse_model_name(name: str, field: str = "name") -> str:
    """`models/{model_id}` -> model_id, or InvalidArgument naming `field`."""
    if not name.startswith(NAME_PREFIX):
        raise InvalidArgument(
            [FieldViolation(field, f"must look like models/{{model_id}}, got {name[:80]!r}")]
        )
    model_id = name[len(NAME_PREFIX) :]
    violations = model_id_violations(model_id, field)
    if violations:
        raise InvalidArgument(violations)
    return model_id


def normalize(model: registry_pb2.Model) -> None:
    """Canonical form before storing: capabilities sorted and without repeats."""
    capabilities = sorted(set(model.capabilities))
    del model.capabilities[:]
    model.capabilities.extend(capabilities)


def profile_violations(model: registry_pb2.Model, prefix: str = "model.") -> list[FieldViolation]:
    """Every problem with a profile's operator-editable fields."""
    found: list[FieldViolation] = []

    def bad(field: str, description: str) -> None:
        found.append(FieldViolation(prefix + field, description))

    if len(model.display_name) > MAX_DISPLAY_NAME:
        bad("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")

    provider = model.provider
    if provider.kind == registry_pb2.PROVIDER_KIND_UNSPECIFIED:
        bad("provider.kind", "must be set (OPENAI_COMPATIBLE, ANTHROPIC or SIMULATOR)")
    elif provider.kind not in _KNOWN_KINDS:
        bad("provider.kind", f"unknown provider kind {provider.kind}")
    if not provider.endpoint.strip():
        bad("provider.endpoint", "must not be empty")
    else:
        url = urlparse(provider.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            bad("provider.endpoint", f"must be an http(s) URL, got {provider.endpoint[:120]!r}")
    if not provider.upstream_model.strip():
        bad("provider.upstream_model", "must name the model to request upstream")
    if provider.credential_env and not ENV_NAME_RE.fullmatch(provider.credential_env):
        bad(
            "provider.credential_env",
            "must be the NAME of an environment variable holding the key, never the key",
        )

    if model.pricing.input_micros_per_mtok < 0:
        bad("pricing.input_micros_per_mtok", "must not be negative")
    if model.pricing.output_micros_per_mtok < 0:
        bad("pricing.output_micros_per_mtok", "must not be negative")

    if model.max_output_tokens <= 0:
        bad("max_output_tokens", "must be greater than 0")
    if model.context_window <= 0:
        bad("context_window", "must be greater than 0")
    elif model.context_window < model.max_output_tokens:
        bad(
            "context_window",
            f"must be at least max_output_tokens ({model.max_output_tokens}), "
            f"got {model.context_window}",
        )

    for i, capability in enumerate(model.capabilities):
        if capability not in _KNOWN_CAPABILITIES:
            bad(f"capabilities[{i}]", f"unknown capability {capability}")

    if len(model.quality) > MAX_QUALITY_ENTRIES:
        bad("quality", f"at most {MAX_QUALITY_ENTRIES} task types")
    for task, quality in sorted(model.quality.items()):
        if not TASK_TYPE_RE.fullmatch(task):
            bad(f"quality[{task[:40]!r}]", "task type must be lowercase letters, digits and '_'")
        if not (math.isfinite(quality.score) and 0.0 <= quality.score <= 1.0):
            bad(f"quality[{task[:40]!r}].score", f"must be within 0..1, got {quality.score}")

    found.extend(_latency_violations(model.latency, prefix + "latency."))

    if len(model.labels) > MAX_LABELS:
        bad("labels", f"at most {MAX_LABELS} labels")
    for key, value in sorted(model.labels.items()):
        if not LABEL_KEY_RE.fullmatch(key):
            bad(f"labels[{key[:40]!r}]", "key must start with a-z and use a-z 0-9 _ . - /")
        elif not LABEL_VALUE_RE.fullmatch(value):
            bad(f"labels[{key!r}]", "value must be at most 63 of A-Z a-z 0-9 _ . - : /")

    if model.HasField("health") and model.health.state not in _KNOWN_HEALTH:
        bad("health.state", "must be UNKNOWN, SERVING, DEGRADED or DOWN")
    return found


def _latency_violations(latency: registry_pb2.LatencyProfile, prefix: str) -> list[FieldViolation]:
    found: list[FieldViolation] = []
    for series in ("ttft", "total"):
        # Zero means "not measured"; measured percentiles must not decrease.
        previous_name, previous = "", 0
        for pct in ("p50", "p95", "p99"):
            name = f"{series}_{pct}_ms"
            value = getattr(latency, name)
            if value < 0:
                found.append(FieldViolation(prefix + name, "must not be negative"))
            elif value and previous and value < previous:
                found.append(
                    FieldViolation(prefix + name, f"must be at least {previous_name} ({previous})")
                )
            if value > 0:
                previous_name, previous = name, value
    tps = latency.tokens_per_second
    if not (math.isfinite(tps) and tps >= 0):
        found.append(FieldViolation(prefix + "tokens_per_second", "must be a finite number >= 0"))
    return found


def health_violations(health: registry_pb2.Health, prefix: str = "health.") -> list[FieldViolation]:
    found: list[FieldViolation] = []
    if health.state not in _KNOWN_HEALTH:
        found.append(FieldViolation(prefix + "state", "must be UNKNOWN, SERVING, DEGRADED or DOWN"))
    if len(health.reason) > 1000:
        found.append(FieldViolation(prefix + "reason", "must be at most 1000 characters"))
    if len(health.source) > 200:
        found.append(FieldViolation(prefix + "source", "must be at most 200 characters"))
    return found
