"""Typed errors for failed calls: one CallError subclass per status code, carrying the
google.rpc details (BadRequest, RetryInfo, QuotaFailure, ErrorInfo)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf import message as pb_message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from switchyard.runtime.errors import FieldViolation


@dataclass(frozen=True)
class QuotaViolation:
    subject: str
    description: str


class CallError(Exception):
    """A call failed with a gRPC status; the `google.rpc` details are unpacked."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay_s: float | None = None,
        quota_violations: Sequence[QuotaViolation] = (),
        reason: str = "",
        domain: str = "",
        error_metadata: Mapping[str, str] | None = None,
        has_status_details: bool = False,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = tuple(field_violations)
        # RetryInfo: how long the server asks the caller to wait, seconds.
        self.retry_delay_s = retry_delay_s
        self.quota_violations = tuple(quota_violations)
        # ErrorInfo: a machine-readable reason within the domain (switchyard.dev).
        self.reason = reason
        self.domain = domain
        self.error_metadata = MappingProxyType(dict(error_metadata or {}))
        # False for a status gRPC made up itself (no server answered with details).
        self.has_status_details = has_status_details

    @property
    def unreachable(self) -> bool:
        """The call never got an answer from a Switchyard server."""
        return (
            self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            and not self.has_status_details
        )


class InvalidArgumentError(CallError):
    """The request is wrong; `field_violations` names each field and what to fix."""


class UnauthenticatedError(CallError):
    pass


class PermissionDeniedError(CallError):
    pass


class NotFoundError(CallError):
    pass


class AlreadyExistsError(CallError):
    pass


class AbortedError(CallError):
    """A concurrent change won (an etag mismatch): re-read and retry."""


class FailedPreconditionError(CallError):
    pass


class ResourceExhaustedError(CallError):
    """A budget or quota ran out; `quota_violations` says which when the server tells."""


class DeadlineExceededError(CallError):
    pass


class UnavailableError(CallError):
    """No route could answer (or no server was reached); retry after `retry_delay_s`."""


_ERROR_CLASSES: dict[grpc.StatusCode, type[CallError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
}


def _unpack(detail: Any, message_type: type[pb_message.Message]) -> Any:
    unpacked = message_type()
    detail.Unpack(unpacked)
    return unpacked


def error_from_rpc(error: grpc.RpcError) -> CallError:
    """The typed error for a failed call (sync or asyncio), details unpacked."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    message: str = error.details() or ""  # type: ignore[attr-defined]
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:  # trailers disagree with the status line: ignore the details
        status = None
    fields: dict[str, Any] = {"has_status_details": status is not None}
    violations: list[FieldViolation] = []
    quota: list[QuotaViolation] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = _unpack(detail, error_details_pb2.BadRequest)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            fields["retry_delay_s"] = (
                _unpack(detail, error_details_pb2.RetryInfo).retry_delay.ToNanoseconds() / 1e9
            )
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            failure = _unpack(detail, error_details_pb2.QuotaFailure)
            quota += [QuotaViolation(v.subject, v.description) for v in failure.violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = _unpack(detail, error_details_pb2.ErrorInfo)
            fields.update(reason=info.reason, domain=info.domain, error_metadata=info.metadata)
    return _ERROR_CLASSES.get(code, CallError)(
        code, message, field_violations=violations, quota_violations=quota, **fields
    )


@contextlib.contextmanager
def raising_call_errors() -> Iterator[None]:
    """Turn `grpc.RpcError` raised inside (sync or awaited) into its `CallError`."""
    try:
        yield
    except grpc.RpcError as error:
        raise error_from_rpc(error) from error
