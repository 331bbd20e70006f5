"""One error hierarchy for every service, mapped to gRPC status with rich details.

Domain code raises these; the server interceptor turns them into a status with
`google.rpc` details (BadRequest, QuotaFailure, RetryInfo, ErrorInfo) so clients in any language
can read what to fix. Anything else is an internal fault: logged, never leaked.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "switchyard.dev"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class SwitchyardError(Exception):
    """Base of every error a client may see; `code` picks the gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN)
        packed = any_pb2.Any()
        packed.Pack(info)
        return [packed]

    def to_status(self) -> grpc.Status:
        status = status_pb2.Status(
            code=getattr(code_pb2, self.code.name),
            message=self.message,
            details=self.details(),
        )
        return rpc_status.to_status(status)


class InvalidArgument(SwitchyardError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        self.violations = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")

    def details(self) -> list[any_pb2.Any]:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in self.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        return [packed, *super().details()]


class NotFound(SwitchyardError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(SwitchyardError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class Aborted(SwitchyardError):
    """A concurrent change won: e.g. an etag mismatch. Re-read and retry."""

    code = grpc.StatusCode.ABORTED
    reason = "CONFLICT"


class FailedPrecondition(SwitchyardError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class Unauthenticated(SwitchyardError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(SwitchyardError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class ResourceExhausted(SwitchyardError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "BUDGET_EXHAUSTED"


@dataclass(frozen=True)
class QuotaViolation:
    subject: str
    description: str


class QuotaExhausted(ResourceExhausted):
    """A quota ran out until `reset_at_s` (Unix time): QuotaFailure names what, RetryInfo
    says when to come back, ErrorInfo's metadata carries `reset_time` (RFC 3339)."""

    reason = "QUOTA_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        violations: list[QuotaViolation],
        reset_at_s: float,
        now_s: float,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.violations = list(violations)
        self.reset_at_s = reset_at_s
        self.retry_after_s = max(0.0, reset_at_s - now_s)
        reset = datetime.datetime.fromtimestamp(reset_at_s, tz=datetime.UTC)
        self.metadata = {**(metadata or {}), "reset_time": reset.isoformat()}

    def details(self) -> list[any_pb2.Any]:
        quota = error_details_pb2.QuotaFailure(
            violations=[
                error_details_pb2.QuotaFailure.Violation(
                    subject=v.subject, description=v.description
                )
                for v in self.violations
            ]
        )
        seconds = int(self.retry_after_s)
        retry = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(
                seconds=seconds, nanos=int((self.retry_after_s - seconds) * 1e9)
            )
        )
        info = error_details_pb2.ErrorInfo(
            reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
        )
        return [_pack(quota), _pack(retry), _pack(info)]


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


class DeadlineExceeded(SwitchyardError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


class Unavailable(SwitchyardError):
    """No route could answer; `retry_after_s` tells the client when to try again."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "NO_ROUTE_AVAILABLE"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def details(self) -> list[any_pb2.Any]:
        seconds = int(self.retry_after_s)
        nanos = int((self.retry_after_s - seconds) * 1e9)
        retry = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos)
        )
        packed = any_pb2.Any()
        packed.Pack(retry)
        return [packed, *super().details()]


class StartupError(Exception):
    """The service cannot start (port taken, database unreadable): one line, exit non-zero."""


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """Client-side helper: the BadRequest field violations carried by an error."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    found: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return found
