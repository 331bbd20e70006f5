// RouterClient: Route() and Plan() over gRPC (HTTP/2) with a deadline on every call,
// an optional bearer token and TLS, bounded retries of UNAVAILABLE with backoff and
// retry throttling, and typed errors (errors.ts) instead of bare ConnectErrors.

import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type CallOptions,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import {
  RouterService,
  type PlanResponse,
  type RouteRequest,
  type RouteRequestSchema,
  type RouteResponse,
} from "./gen/switchyard/router/v1/router_pb.js";
import { toCallError } from "./errors.js";

/** A RouteRequest as plain fields; omitted fields take their zero value (policy default). */
export type RouteRequestInit = MessageInitShape<typeof RouteRequestSchema>;

export const DEFAULT_ROUTER = "127.0.0.1:50051";

/** Retries of retryable codes, the same shape as gRFC A6's retry policy and throttling. */
export interface RetryPolicy {
  /** Attempts in all, first one included; 2..5. Default 3. */
  maxAttempts?: number;
  /** Backoff before the first retry is random in [0, initialBackoffMs). Default 200. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  backoffMultiplier?: number;
  /** Default: UNAVAILABLE only. */
  retryableCodes?: readonly Code[];
  /** Token bucket: failures cost 1, successes refund tokenRatio; no retries at half. */
  throttleMaxTokens?: number;
  throttleTokenRatio?: number;
}

export interface TlsOptions {
  /** PEM root certificates to verify the server with (default: Node's). */
  ca?: string | Buffer;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Expected name in the server's certificate, when it differs from the host. */
  servername?: string;
}

export interface ClientOptions {
  /** host:port, or a URL (http://host:port; https:// turns TLS on). */
  address?: string;
  /** Deadline for every call that sets none, ms. Default 10000. */
  timeoutMs?: number;
  /** Sent as `authorization: Bearer <token>` on every call; needs TLS unless loopback. */
  token?: string;
  tls?: TlsOptions;
  /** false turns retries off. */
  retry?: RetryPolicy | false;
}

function baseUrl(address: string, tls: boolean): string {
  if (/^https?:\/\//.test(address)) {
    return address;
  }
  return `${tls ? "https" : "http"}://${address}`;
}

function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Unary calls are re-sent on a retryable code while attempts and the throttle allow;
 * the wait is the larger of a jittered exponential backoff and the server's RetryInfo.
 * The call's deadline spans every attempt (its signal aborts them all).
 */
function retrying(policy: RetryPolicy): Interceptor {
  const maxAttempts = Math.min(5, Math.max(1, policy.maxAttempts ?? 3));
  const multiplier = policy.backoffMultiplier ?? 2;
  const maxBackoffMs = policy.maxBackoffMs ?? 2000;
  const retryable = new Set(policy.retryableCodes ?? [Code.Unavailable]);
  const maxTokens = policy.throttleMaxTokens ?? 10;
  const ratio = policy.throttleTokenRatio ?? 0.1;
  let tokens = maxTokens;
  return (next) => async (request) => {
    if (request.stream) {
      return next(request);
    }
    let backoffMs = policy.initialBackoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await next(request);
        tokens = Math.min(maxTokens, tokens + ratio);
        return response;
      } catch (reason) {
        const error = ConnectError.from(reason);
        if (!retryable.has(error.code)) {
          throw reason;
        }
        tokens = Math.max(0, tokens - 1);
        if (attempt >= maxAttempts || tokens <= maxTokens / 2 || request.signal.aborted) {
          throw reason;
        }
        const hint = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
        const hintMs = hint ? Number(hint.seconds) * 1000 + hint.nanos / 1e6 : 0;
        await sleep(Math.max(hintMs, Math.random() * backoffMs), request.signal);
        backoffMs = Math.min(backoffMs * multiplier, maxBackoffMs);
      }
    }
  };
}

/** Whether a URL's host stays on this machine: 127.x, ::1 or localhost. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * A gRPC transport with the options' TLS, token, default deadline and retries. Throws
 * for a token without TLS to an address that is not loopback: a bearer token never
 * travels in plaintext across the network.
 */
export function createTransport(options: ClientOptions = {}): {
  transport: Transport;
  close: () => void;
} {
  const url = baseUrl(options.address ?? DEFAULT_ROUTER, options.tls !== undefined);
  if (options.token && url.startsWith("http://") && !isLoopback(url)) {
    throw new Error(
      `refusing to send a bearer token in plaintext to ${url}: it is not a loopback ` +
        "address; set tls (or an https:// address)",
    );
  }
  const session = new Http2SessionManager(url, {}, options.tls ?? {});
  const interceptors: Interceptor[] = [];
  if (options.retry !== false) {
    interceptors.push(retrying(options.retry ?? {}));
  }
  if (options.token) {
    interceptors.push(bearer(options.token));
  }
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager: session,
    interceptors,
    defaultTimeoutMs: options.timeoutMs ?? 10_000,
  });
  return { transport, close: () => session.abort() };
}

/** Switchyard's RouterService: `route()` and `plan()`; `close()` when done. */
export class RouterClient {
  private readonly client: Client<typeof RouterService>;
  private readonly closeTransport: () => void;

  constructor(options: ClientOptions = {}) {
    const { transport, close } = createTransport(options);
    this.client = createClient(RouterService, transport);
    this.closeTransport = close;
  }

  /** Answer the request; rejects with a CallError subclass on failure. */
  async route(request: RouteRequestInit, call?: CallOptions): Promise<RouteResponse> {
    try {
      return await this.client.route(request, call);
    } catch (reason) {
      throw toCallError(reason);
    }
  }

  /** The decision route() would take, without calling any model. */
  async plan(request: RouteRequestInit, call?: CallOptions): Promise<PlanResponse> {
    try {
      return await this.client.plan({ request }, call);
    } catch (reason) {
      throw toCallError(reason);
    }
  }

  close(): void {
    this.closeTransport();
  }
}

/** RouteRequest fields other than the conversation, as plain values. */
export type RouteFields = Omit<Exclude<RouteRequestInit, RouteRequest>, "messages" | "$typeName">;

/** A RouteRequest from one user prompt and any other fields. */
export function routeRequest(prompt: string, fields: RouteFields = {}): RouteRequestInit {
  return { ...fields, messages: [{ role: "user", content: prompt }] };
}
