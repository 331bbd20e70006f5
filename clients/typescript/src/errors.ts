// Typed errors for failed calls: one class per gRPC status code, carrying the
// google.rpc details the Switchyard services attach (BadRequest, RetryInfo,
// QuotaFailure, ErrorInfo), decoded from the grpc-status-details-bin trailer.

import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  QuotaFailureSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** One bad field of the request, and what to fix. */
export interface FieldViolation {
  /** Path of the field in the request, e.g. `messages[0].content`. */
  readonly field: string;
  readonly description: string;
}

/** One quota or budget that ran out. */
export interface QuotaViolation {
  readonly subject: string;
  readonly description: string;
}

/** A call that failed with a gRPC status; `google.rpc` details are unpacked. */
export class CallError extends Error {
  override readonly name: string = "CallError";
  /** The status code (Connect's Code enum; same numbers as gRPC's). */
  readonly code: Code;
  /** The status code's gRPC name, e.g. `INVALID_ARGUMENT`. */
  readonly codeName: string;
  /** BadRequest: each bad field (INVALID_ARGUMENT). */
  readonly fieldViolations: readonly FieldViolation[];
  /** RetryInfo: how long the server asks the caller to wait, ms (undefined: not sent). */
  readonly retryDelayMs: number | undefined;
  /** QuotaFailure: which quotas ran out (RESOURCE_EXHAUSTED). */
  readonly quotaViolations: readonly QuotaViolation[];
  /** ErrorInfo: machine-readable reason within `domain` (switchyard.dev). */
  readonly reason: string;
  readonly domain: string;
  /** The server's message, without the "[code]" prefix Connect adds. */
  readonly rawMessage: string;
  /** False when no server attached details (e.g. it could not be reached). */
  readonly hasStatusDetails: boolean;

  constructor(error: ConnectError) {
    super(`${codeNameOf(error.code)}: ${error.rawMessage}`, { cause: error });
    this.code = error.code;
    this.codeName = codeNameOf(error.code);
    this.rawMessage = error.rawMessage;
    this.hasStatusDetails = error.details.length > 0;
    this.fieldViolations = error
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations)
      .map((v) => ({ field: v.field, description: v.description }));
    const retry = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
    this.retryDelayMs =
      retry === undefined ? undefined : Number(retry.seconds) * 1000 + retry.nanos / 1e6;
    this.quotaViolations = error
      .findDetails(QuotaFailureSchema)
      .flatMap((failure) => failure.violations)
      .map((v) => ({ subject: v.subject, description: v.description }));
    const info = error.findDetails(ErrorInfoSchema)[0];
    this.reason = info?.reason ?? "";
    this.domain = info?.domain ?? "";
  }

  /** True when the call never got an answer from a Switchyard server. */
  get unreachable(): boolean {
    return (
      (this.code === Code.Unavailable || this.code === Code.DeadlineExceeded) &&
      !this.hasStatusDetails
    );
  }
}

/** The request is wrong; `fieldViolations` names each field and what to fix. */
export class InvalidArgumentError extends CallError {
  override readonly name = "InvalidArgumentError";
}
/** No route could answer (or no server was reached); retry after `retryDelayMs`. */
export class UnavailableError extends CallError {
  override readonly name = "UnavailableError";
}
/** A budget or quota ran out; `quotaViolations` says which when the server tells. */
export class ResourceExhaustedError extends CallError {
  override readonly name = "ResourceExhaustedError";
}
export class DeadlineExceededError extends CallError {
  override readonly name = "DeadlineExceededError";
}
export class NotFoundError extends CallError {
  override readonly name = "NotFoundError";
}
export class AlreadyExistsError extends CallError {
  override readonly name = "AlreadyExistsError";
}
/** A concurrent change won (an etag mismatch): re-read and retry. */
export class AbortedError extends CallError {
  override readonly name = "AbortedError";
}
export class FailedPreconditionError extends CallError {
  override readonly name = "FailedPreconditionError";
}
export class UnauthenticatedError extends CallError {
  override readonly name = "UnauthenticatedError";
}
export class PermissionDeniedError extends CallError {
  override readonly name = "PermissionDeniedError";
}

const ERROR_CLASSES: Partial<Record<Code, new (error: ConnectError) => CallError>> = {
  [Code.InvalidArgument]: InvalidArgumentError,
  [Code.Unavailable]: UnavailableError,
  [Code.ResourceExhausted]: ResourceExhaustedError,
  [Code.DeadlineExceeded]: DeadlineExceededError,
  [Code.NotFound]: NotFoundError,
  [Code.AlreadyExists]: AlreadyExistsError,
  [Code.Aborted]: AbortedError,
  [Code.FailedPrecondition]: FailedPreconditionError,
  [Code.Unauthenticated]: UnauthenticatedError,
  [Code.PermissionDenied]: PermissionDeniedError,
};

function codeNameOf(code: Code): string {
  // Connect's enum names are CamelCase (InvalidArgument); gRPC's are INVALID_ARGUMENT.
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The typed error for anything a call threw (non-RPC errors become UNKNOWN). */
export function toCallError(reason: unknown): CallError {
  if (reason instanceof CallError) {
    return reason;
  }
  const error = ConnectError.from(reason);
  const ErrorClass = ERROR_CLASSES[error.code] ?? CallError;
  return new ErrorClass(error);
}
