"""Fleet files: a YAML list of model profiles with friendly keys <-> `registry_pb2.Model`.

Strings support `${VAR}` (an error when unset) and `${VAR:-default}` expansion from the
environment given (os.environ by default); `$$` is a literal `$`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from switchyard.fleet.diff import SPEC_FIELDS
from switchyard.registry.v1 import registry_pb2

Model = registry_pb2.Model

PROVIDER_KINDS = {
    "simulator": registry_pb2.PROVIDER_KIND_SIMULATOR,
    "openai_compatible": registry_pb2.PROVIDER_KIND_OPENAI_COMPATIBLE,
    "anthropic": registry_pb2.PROVIDER_KIND_ANTHROPIC,
}
CAPABILITIES = {
    name.removeprefix("CAPABILITY_").lower(): number
    for name, number in registry_pb2.Capability.items()
    if number != registry_pb2.CAPABILITY_UNSPECIFIED
}
_PRICING_KEYS = {
    "input_per_mtok_micros": "input_micros_per_mtok",
    "output_per_mtok_micros": "output_micros_per_mtok",
}
_LATENCY_INT_KEYS = (
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "total_p50_ms",
    "total_p95_ms",
    "total_p99_ms",
)
# A fleet file entry: the model id plus the operator-editable fields.
_MODEL_KEYS = {"id", *SPEC_FIELDS}
_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class FleetError(ValueError):
    """A fleet file that cannot be read; `problems` lists each one with its location."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


def load_fleet(path: str | Path, environ: Mapping[str, str] | None = None) -> list[Model]:
    """Read a fleet YAML file into Model protos (name, spec fields; no server fields)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FleetError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    return parse_fleet(text, source=str(path), environ=environ)


def parse_fleet(
    text: str, *, source: str = "<fleet>", environ: Mapping[str, str] | None = None
) -> list[Model]:
    environ = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FleetError(source, [f"not valid YAML: {exc}"]) from exc
    if isinstance(document, dict) and set(document) == {"models"}:
        document = document["models"]
    if document is None:
        return []
    if not isinstance(document, list):
        raise FleetError(source, ["expected a list of models (or a mapping with 'models:')"])
    reader = _FleetReader(environ)
    models: list[Model] = []
    seen: set[str] = set()
    for index, entry in enumerate(document):
        model = reader.model(entry, f"models[{index}]")
        if model is None:
            continue
        if model.name in seen:
            reader.problems.append(f"models[{index}].id: duplicate id {model.name[7:]!r}")
        seen.add(model.name)
        models.append(model)
    if reader.problems:
        raise FleetError(source, reader.problems)
    return models


class _FleetReader:
    """Turns YAML values into protos, collecting every problem instead of stopping."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def expand(self, value: str, where: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            found = self.environ.get(name, "")
            if found:
                return found
            if default is not None:
                return default
            self.problems.append(f"{where}: environment variable {name} is not set")
            return ""

        return _VAR_RE.sub(substitute, value)

    def string(self, raw: Any, where: str) -> str:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            self.problems.append(f"{where}: expected a string")
            return ""
        return self.expand(str(raw), where)

    def integer(self, raw: Any, where: str) -> int:
        if isinstance(raw, str):
            raw = self.expand(raw, where).replace("_", "")
            try:
                return int(raw)
            except ValueError:
                pass
        elif isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        self.problems.append(f"{where}: expected an integer")
        return 0

    def number(self, raw: Any, where: str) -> float:
        if isinstance(raw, str):
            raw = self.expand(raw, where)
            try:
                return float(raw)
            except ValueError:
                pass
        elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        self.problems.append(f"{where}: expected a number")
        return 0.0

    def mapping(self, raw: Any, where: str, allowed: Iterable[str] | None = None) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.problems.append(f"{where}: expected a mapping")
            return {}
        if allowed is not None:
            unknown = sorted(str(k) for k in set(raw) - set(allowed))
            if unknown:
                self.problems.append(f"{where}: unknown keys {unknown}")
        return {str(k): v for k, v in raw.items()}

    def model(self, raw: Any, where: str) -> Model | None:
        entry = self.mapping(raw, where, _MODEL_KEYS)
        if not entry:
            return None
        if "id" not in entry:
            self.problems.append(f"{where}.id: required")
            return None
        model_id = self.string(entry["id"], f"{where}.id")
        model = Model(name=f"models/{model_id}")
        if "display_name" in entry:
            model.display_name = self.string(entry["display_name"], f"{where}.display_name")
        self.provider(model, entry.get("provider"), f"{where}.provider", model_id)
        if "pricing" in entry:
            pricing = self.mapping(entry["pricing"], f"{where}.pricing", _PRICING_KEYS)
            for key, proto_field in _PRICING_KEYS.items():
                if key in pricing:
                    value = self.integer(pricing[key], f"{where}.pricing.{key}")
                    setattr(model.pricing, proto_field, value)
        for key in ("context_window", "max_output_tokens"):
            if key in entry:
                setattr(model, key, self.integer(entry[key], f"{where}.{key}"))
        self.capabilities(model, entry.get("capabilities", []), f"{where}.capabilities")
        self.quality(model, entry.get("quality", {}), f"{where}.quality")
        if "latency" in entry:
            allowed = (*_LATENCY_INT_KEYS, "tokens_per_second")
            latency = self.mapping(entry["latency"], f"{where}.latency", allowed)
            for key in _LATENCY_INT_KEYS:
                if key in latency:
                    setattr(
                        model.latency, key, self.integer(latency[key], f"{where}.latency.{key}")
                    )
            if "tokens_per_second" in latency:
                model.latency.tokens_per_second = self.number(
                    latency["tokens_per_second"], f"{where}.latency.tokens_per_second"
                )
        for key, value in self.mapping(entry.get("labels", {}), f"{where}.labels").items():
            model.labels[key] = self.string(value, f"{where}.labels.{key}")
        return model

    def provider(self, model: Model, raw: Any, where: str, model_id: str) -> None:
        if raw is None:
            self.problems.append(f"{where}: required")
            return
        allowed = ("kind", "endpoint", "upstream_model", "credential_env")
        provider = self.mapping(raw, where, allowed)
        kind = self.string(provider.get("kind", ""), f"{where}.kind").lower()
        if kind not in PROVIDER_KINDS:
            self.problems.append(f"{where}.kind: must be one of {sorted(PROVIDER_KINDS)}")
        else:
            model.provider.kind = PROVIDER_KINDS[kind]
        if "endpoint" in provider:
            model.provider.endpoint = self.string(provider["endpoint"], f"{where}.endpoint")
        # Convenience: most deployments serve a model under its own id.
        upstream = provider.get("upstream_model", model_id)
        model.provider.upstream_model = self.string(upstream, f"{where}.upstream_model")
        if "credential_env" in provider:
            env = self.string(provider["credential_env"], f"{where}.credential_env")
            model.provider.credential_env = env

    def capabilities(self, model: Model, raw: Any, where: str) -> None:
        if not isinstance(raw, list):
            self.problems.append(f"{where}: expected a list")
            return
        found: set[int] = set()
        for i, item in enumerate(raw):
            name = self.string(item, f"{where}[{i}]").lower()
            if name not in CAPABILITIES:
                self.problems.append(
                    f"{where}[{i}]: unknown capability {name!r}, "
                    f"expected one of {sorted(CAPABILITIES)}"
                )
            else:
                found.add(CAPABILITIES[name])
        model.capabilities.extend(sorted(found))

    def quality(self, model: Model, raw: Any, where: str) -> None:
        for task, value in self.mapping(raw, where).items():
            entry = model.quality[task]
            if isinstance(value, dict):
                detail = self.mapping(value, f"{where}.{task}", ("score", "dataset", "measured"))
                entry.score = self.number(detail.get("score"), f"{where}.{task}.score")
                if "dataset" in detail:
                    entry.dataset = self.string(detail["dataset"], f"{where}.{task}.dataset")
                if "measured" in detail:
                    self.measured(entry, detail["measured"], f"{where}.{task}.measured")
            else:
                entry.score = self.number(value, f"{where}.{task}")

    def measured(self, entry: registry_pb2.TaskQuality, raw: Any, where: str) -> None:
        if isinstance(raw, dt.datetime):
            moment = raw if raw.tzinfo else raw.replace(tzinfo=dt.UTC)
        elif isinstance(raw, dt.date):
            moment = dt.datetime(raw.year, raw.month, raw.day, tzinfo=dt.UTC)
        else:
            try:
                moment = dt.datetime.fromisoformat(self.string(raw, where))
            except ValueError:
                self.problems.append(f"{where}: expected a date like 2024-06-01")
                return
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        entry.measure_time.FromDatetime(moment)


def model_to_fleet_entry(model: Model) -> dict[str, Any]:
    """The inverse of the loader, for `switchyard models get -o yaml`."""
    kinds = {number: name for name, number in PROVIDER_KINDS.items()}
    capability_names = {number: name for name, number in CAPABILITIES.items()}
    entry: dict[str, Any] = {"id": model.name.removeprefix("models/")}
    if model.display_name:
        entry["display_name"] = model.display_name
    provider: dict[str, Any] = {"kind": kinds.get(model.provider.kind, "unspecified")}
    for key in ("endpoint", "upstream_model", "credential_env"):
        if getattr(model.provider, key):
            provider[key] = getattr(model.provider, key)
    entry["provider"] = provider
    entry["pricing"] = {
        key: getattr(model.pricing, proto_field) for key, proto_field in _PRICING_KEYS.items()
    }
    entry["context_window"] = model.context_window
    entry["max_output_tokens"] = model.max_output_tokens
    entry["capabilities"] = [capability_names.get(c, str(c)) for c in model.capabilities]
    quality: dict[str, Any] = {}
    for task, item in sorted(model.quality.items()):
        if item.dataset or item.HasField("measure_time"):
            detail: dict[str, Any] = {"score": item.score}
            if item.dataset:
                detail["dataset"] = item.dataset
            if item.HasField("measure_time"):
                detail["measured"] = item.measure_time.ToDatetime().date().isoformat()
            quality[task] = detail
        else:
            quality[task] = item.score
    entry["quality"] = quality
    latency = {f.name: v for f, v in model.latency.ListFields()}
    if latency:
        entry["latency"] = latency
    if model.labels:
        entry["labels"] = dict(sorted(model.labels.items()))
    return entry
