"""Configuration as frozen dataclasses, built once from YAML, environment and flags.

Precedence (later wins): dataclass defaults < YAML file (--config) < a standard
variable where one exists (STANDARD_ENV: OTEL_EXPORTER_OTLP_ENDPOINT) < environment
(SWITCHYARD_<SERVICE>_<FIELD>) < command-line flags (--field-name). Nothing deeper in
the code reads the environment: the built config is passed down.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from switchyard.runtime.config_help import field_help
from switchyard.runtime.errors import StartupError
from switchyard.runtime.tls import check_server_tls_files

C = TypeVar("C")

# Settings that also answer to an environment variable a whole ecosystem uses; the
# service's own variable and flag still win. The traces-specific name beats the
# general one, as the OpenTelemetry SDK orders them.
STANDARD_ENV: Mapping[str, tuple[str, ...]] = {
    "otlp_endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
}


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """What every gRPC service shares: where it listens and how it stops."""

    host: str = "127.0.0.1"
    port: int = 0
    # Written with the bound port once the server is ready (useful with port 0).
    port_file: str = ""
    grace_s: float = 5.0
    log_level: str = "info"
    # Prometheus metrics HTTP port; 0 disables the endpoint.
    metrics_port: int = 0
    # SO_REUSEPORT: lets several router processes share one port.
    reuse_port: bool = False
    # Largest request or response message; a bigger request is RESOURCE_EXHAUSTED with
    # both sizes in the message ("Received message larger than max (N vs. LIMIT)").
    max_message_bytes: int = 4 * 1024 * 1024
    # TLS: the server's certificate chain and key (PEM files); empty serves plaintext.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # Mutual TLS: every client must present a certificate signed by this CA (PEM).
    tls_client_ca_file: str = ""
    # OpenTelemetry traces go to this OTLP/gRPC collector (`http://host:4317`); empty
    # (the default) traces nothing. Also read from OTEL_EXPORTER_OTLP_ENDPOINT.
    otlp_endpoint: str = ""

    def __post_init__(self) -> None:
        check_server_tls_files(
            cert_file=self.tls_cert_file,
            key_file=self.tls_key_file,
            client_ca_file=self.tls_client_ca_file,
        )
        if not 0 <= self.port <= 65535:
            raise StartupError(f"port must be 0..65535, got {self.port}")
        if not 1024 <= self.max_message_bytes <= 1024**3:
            raise StartupError(
                f"max_message_bytes must be 1024..{1024**3}, got {self.max_message_bytes}"
            )
        if self.grace_s < 0:
            raise StartupError(f"grace_s must be >= 0, got {self.grace_s}")

    @property
    def transport(self) -> str:
        """What clients must speak: plaintext, tls or mtls (logged at start)."""
        if not self.tls_cert_file:
            return "plaintext"
        return "mtls" if self.tls_client_ca_file else "tls"


def _field_type(tp: Any) -> Any:
    """Reduce `X | None` to X; other annotations pass through."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def _convert(name: str, raw: Any, tp: Any) -> Any:
    tp = _field_type(tp)
    try:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if tp in (int, float, str):
            return tp(raw)
        if typing.get_origin(tp) is tuple:
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(i).strip() for i in items if str(i).strip())
    except (TypeError, ValueError) as exc:
        raise StartupError(f"config {name}: cannot read {raw!r} as {tp}") from exc
    return raw


def _help(text: str, env_name: str, f: dataclasses.Field[Any]) -> str:
    default = f.default if f.default is not dataclasses.MISSING else None
    if default is None and f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    shown = ",".join(default) if isinstance(default, tuple) else default
    where = f"env {env_name}; default {shown!r}"
    # argparse formats help with %: a literal one is doubled.
    return (f"{text} ({where})" if text else where).replace("%", "%%")


def load_config(
    cls: type[C],
    *,
    env_prefix: str,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    description: str = "",
) -> C:
    """Build `cls` (a frozen dataclass) from defaults, --config YAML, env and flags."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="YAML file with settings")
    helps = field_help(cls)
    for f in fields:
        # A tuple setting's flag may repeat (`--replay a.jsonl --replay b.jsonl`) or hold
        # a comma-separated list, as its environment variable does.
        repeats = typing.get_origin(_field_type(hints[f.name])) is tuple
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=None,
            action="append" if repeats else "store",
            help=_help(helps.get(f.name, ""), f"{env_prefix}{f.name.upper()}", f),
        )
    args = parser.parse_args(list(argv) if argv is not None else None)

    values: dict[str, Any] = {}
    if args.config:
        try:
            loaded = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise StartupError(f"cannot read config file {args.config}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise StartupError(f"config file {args.config} must hold a mapping")
        known = {f.name for f in fields}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise StartupError(f"config file {args.config}: unknown settings {unknown}")
        values.update(loaded)
    for f in fields:
        for standard in STANDARD_ENV.get(f.name, ()):
            if environ.get(standard):
                values[f.name] = environ[standard]
        env_name = f"{env_prefix}{f.name.upper()}"
        if env_name in environ:
            values[f.name] = environ[env_name]
        flag = getattr(args, f.name)
        if flag is not None:
            values[f.name] = ",".join(flag) if isinstance(flag, list) else flag
    converted = {k: _convert(k, v, hints[k]) for k, v in values.items()}
    try:
        return cls(**converted)
    except TypeError as exc:
        raise StartupError(f"invalid configuration: {exc}") from exc
