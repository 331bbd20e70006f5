"""Router settings: where its upstreams are and how it verifies."""

from __future__ import annotations

from dataclasses import dataclass

from services.router.concurrency import LimitSettings, TierShares
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError
from switchyard.runtime.tls import (
    PlaintextTokenError,
    TlsConfig,
    check_registry_token_transport,
    check_token_transport,
    configured_upstream_tls,
)

VERIFIER_MODES = ("remote", "embedded")
# Where the limit starts when concurrency_limit_initial is 0, within [min, max].
DEFAULT_INITIAL_LIMIT = 512


@dataclass(frozen=True)
class RouterConfig(ServerConfig):
    port: int = 50051
    registry_address: str = "127.0.0.1:50052"
    verifier_address: str = "127.0.0.1:50053"
    controlplane_address: str = "127.0.0.1:50054"
    # remote: call the verifier service (falls back to embedded checks if it is down);
    # embedded: run the same checks in this process, for the latency-critical path.
    verifier_mode: str = "remote"
    # The quality scorer of the embedded verification (embedded mode, and the fallback
    # when the verifier does not answer); give it the verifier's `scorer_path` so both
    # score alike. Empty: the packaged artefact; "none": deterministic checks only.
    scorer_path: str = ""
    # Token for the registry watch (a read-only token is enough).
    registry_token: str = ""
    # Router-scope token for the control plane (config stream, reports, artefacts).
    controlplane_token: str = ""
    router_id: str = ""
    # Where the last good policy and fleet snapshots are kept across restarts.
    state_dir: str = "var/router"
    # Where relative `predictor.artefact` paths in policies resolve.
    artefacts_dir: str = "artefacts"
    # Control-plane artefacts (sha256: in a policy): the largest this router downloads,
    # and how long one download may take. Kept under state_dir/artefacts.
    artefact_max_bytes: int = 64 * 1024 * 1024
    artefact_fetch_timeout_s: float = 30.0
    # How often the per-version figures go to the control plane (canary guard), seconds.
    rollout_report_interval_s: float = 2.0
    # Active health checks of models whose breaker is OPEN, every this many ms (±20 %);
    # 0 turns them off (recovery then waits for the breaker's open_wait).
    health_probe_interval_ms: int = 500
    # Label the cost and tenant-budget metrics with the tenant, for at most this many
    # tenants (the first seen; later ones are "other"); 0: no tenant label. Off by
    # default: every tenant is a series in every cost metric (docs/observability.md).
    metrics_tenants: int = 0
    # Log prompt text in decision events (off: prompts may hold personal data).
    log_prompts: bool = False
    # The decision log (docs/observability.md#decision-log): one record per Route() in an
    # SQLite file, written off the request path. On by default; off without a state_dir
    # and no decision_log_path.
    decision_log: bool = True
    # Empty: state_dir/decisions.db. Rotated files sit beside it (decisions.1.db, ...).
    decision_log_path: str = ""
    # The bound over the active and rotated files together (each gets an equal share).
    decision_log_max_mb: int = 256
    # Rotated files kept beside the active one (0: a full file starts afresh).
    decision_log_rotations: int = 3
    # Store prompt and answer text (off: prompts may hold personal data); captured text
    # goes through the built-in redaction patterns, the ones below, then the redactor.
    decision_log_capture_text: bool = False
    decision_log_redact: tuple[str, ...] = ()
    # A Python callable "module:function" (str -> str) run last on captured text.
    decision_log_redactor: str = ""
    # The SQLite file every router process on this host shares: tenant spend ledger and
    # idempotency keys. Empty: state_dir/ledger.db (give routers that share a port the
    # same path, or each enforces tenant limits alone).
    ledger_path: str = ""
    # How long a stored response answers repeats of its idempotency key, seconds.
    idempotency_ttl_s: int = 86_400
    # Callers' bearer tokens -> tenant and allowed tiers (YAML, docs/security.md). Empty:
    # no authentication, the request's tenant and tier are believed (development only).
    tenant_tokens_file: str = ""
    # Routers sharing a port on one host: each also listens on DIR/<router id>.sock and
    # asks the others there for feedback on a request it did not answer (empty: off).
    peer_dir: str = ""
    # Routers on other hosts (host:port of their service ports): asked, as the routers in
    # peer_dir are, for feedback this router cannot place. The list may name this router.
    feedback_peers: tuple[str, ...] = ()
    # Adaptive concurrency limit on Route()/Plan() calls in flight (docs/router.md,
    # "Overload"): moved between min and max by latency (Netflix Gradient2); initial 0
    # starts at 512 within [min, max]; max 0 turns it off (min == max: a fixed limit).
    concurrency_limit_min: int = 256
    concurrency_limit_max: int = 4096
    concurrency_limit_initial: int = 0
    # The limit moves once per window: at least this long and 10 finished calls.
    concurrency_window_ms: int = 1000
    # tier=share: a tier is admitted while in-flight < share x limit, so lower shares are
    # shed first; a tier not listed (or none) gets the lowest share.
    tier_shares: tuple[str, ...] = ("free=0.5", "pro=0.75", "enterprise=1.0")
    # TLS towards each upstream: the CA that signed its certificate (TLS on when set)
    # and, for mutual TLS, this router's client certificate and key.
    registry_tls_ca_file: str = ""
    registry_tls_cert_file: str = ""
    registry_tls_key_file: str = ""
    verifier_tls_ca_file: str = ""
    verifier_tls_cert_file: str = ""
    verifier_tls_key_file: str = ""
    controlplane_tls_ca_file: str = ""
    controlplane_tls_cert_file: str = ""
    controlplane_tls_key_file: str = ""
    # TLS towards the feedback_peers: the CA of the routers' service certificates and,
    # for mutual TLS, this router's client certificate and key.
    peer_tls_ca_file: str = ""
    peer_tls_cert_file: str = ""
    peer_tls_key_file: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.health_probe_interval_ms < 0:
            raise StartupError("health_probe_interval_ms must be >= 0 (0 = off)")
        if self.metrics_tenants < 0:
            raise StartupError("metrics_tenants must be >= 0 (0 = no tenant label)")
        if not 0.05 <= self.rollout_report_interval_s <= 3600:
            raise StartupError("rollout_report_interval_s must be in [0.05, 3600]")
        if self.artefact_max_bytes < 1 or self.artefact_fetch_timeout_s <= 0:
            raise StartupError("artefact_max_bytes must be >= 1 and artefact_fetch_timeout_s > 0")
        if self.idempotency_ttl_s < 1:
            raise StartupError("idempotency_ttl_s must be >= 1 second")
        if not 0 <= self.decision_log_rotations <= 99:
            raise StartupError("decision_log_rotations must be 0..99")
        if self.decision_log_max_mb < self.decision_log_rotations + 1:
            raise StartupError(
                "decision_log_max_mb must be at least 1 per file "
                f"({self.decision_log_rotations + 1} with {self.decision_log_rotations} rotations)"
            )
        if self.verifier_mode not in VERIFIER_MODES:
            raise StartupError(f"verifier_mode must be one of {VERIFIER_MODES}")
        # Each property checks its settings; the registry token never goes out in plaintext.
        _ = (self.verifier_tls, self.controlplane_tls, self.concurrency_limit, self.tiers)
        check_registry_token_transport(self)
        for peer in self.feedback_peers:
            try:
                # A relayed call carries its caller's bearer token.
                check_token_transport(
                    peer,
                    secure=self.peer_tls is not None,
                    sends_token=bool(self.tenant_tokens_file),
                )
            except PlaintextTokenError as exc:
                raise StartupError(f"feedback_peers: {exc} (peer_tls_ca_file)") from exc
        try:
            check_token_transport(
                self.controlplane_address,
                secure=self.controlplane_tls is not None,
                sends_token=bool(self.controlplane_token),
            )
        except PlaintextTokenError as exc:
            raise StartupError(f"controlplane_token: {exc} (controlplane_tls_ca_file)") from exc

    @property
    def registry_tls(self) -> TlsConfig | None:
        return configured_upstream_tls(self, "registry")

    @property
    def verifier_tls(self) -> TlsConfig | None:
        return configured_upstream_tls(self, "verifier")

    @property
    def controlplane_tls(self) -> TlsConfig | None:
        return configured_upstream_tls(self, "controlplane")

    @property
    def peer_tls(self) -> TlsConfig | None:
        return configured_upstream_tls(self, "peer")

    @property
    def concurrency_limit(self) -> LimitSettings | None:
        """The adaptive limit's settings; None when `concurrency_limit_max` is 0 (off)."""
        if self.concurrency_limit_max == 0:
            return None
        initial = self.concurrency_limit_initial or min(
            self.concurrency_limit_max, max(self.concurrency_limit_min, DEFAULT_INITIAL_LIMIT)
        )
        if self.concurrency_window_ms < 1:
            raise StartupError("concurrency_window_ms must be >= 1")
        try:
            return LimitSettings(
                initial_limit=initial,
                min_limit=self.concurrency_limit_min,
                max_limit=self.concurrency_limit_max,
                window_s=self.concurrency_window_ms / 1000,
            )
        except ValueError as exc:
            raise StartupError(f"concurrency_limit_*: {exc}") from exc

    @property
    def tiers(self) -> TierShares:
        try:
            return TierShares.parse(self.tier_shares)
        except ValueError as exc:
            raise StartupError(f"tier_shares: {exc}") from exc
