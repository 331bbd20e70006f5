// Switchyard C++ client: RouterService's Route() and Plan() with a deadline on every
// call, an optional bearer token and TLS, gRFC A6 retries from a service config handed
// to the channel, and typed exceptions carrying the google.rpc details.
#ifndef SWITCHYARD_CLIENT_H_
#define SWITCHYARD_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "switchyard/router/v1/router.grpc.pb.h"

namespace switchyard {

inline constexpr const char* kDefaultRouter = "127.0.0.1:50051";

// gRFC A6 retry policy and throttling, applied by gRPC core from the service config.
struct RetryPolicy {
  int max_attempts = 3;  // 2..5, first attempt included
  double initial_backoff_s = 0.2;
  double max_backoff_s = 2.0;
  double backoff_multiplier = 2.0;
  std::vector<std::string> retryable_codes = {"UNAVAILABLE"};
  int throttle_max_tokens = 10;
  double throttle_token_ratio = 0.1;

  // The channel's service config JSON for every Switchyard service.
  std::string ServiceConfigJson() const;
};

struct TlsOptions {
  std::string root_certificates_pem;  // empty: the system roots
  std::string client_certificate_pem;  // both set: mutual TLS
  std::string client_key_pem;
  std::string server_name;  // expected certificate name, when not the host
};

struct ClientOptions {
  std::string address = kDefaultRouter;
  // Deadline for every call that sets none.
  std::chrono::milliseconds timeout{10000};
  // Sent as `authorization: Bearer <token>`; empty sends none. Needs `tls` unless the
  // address is loopback.
  std::string token;
  std::optional<TlsOptions> tls;
  // std::nullopt turns retries off.
  std::optional<RetryPolicy> retry = RetryPolicy{};
};

struct FieldViolation {
  std::string field;
  std::string description;
};

struct QuotaViolation {
  std::string subject;
  std::string description;
};

// A call that failed with a gRPC status; the google.rpc details are unpacked.
class CallError : public std::runtime_error {
 public:
  explicit CallError(const grpc::Status& status);

  grpc::StatusCode code() const { return code_; }
  // The status code's name, e.g. "INVALID_ARGUMENT".
  const std::string& code_name() const { return code_name_; }
  const std::string& message() const { return message_; }
  // BadRequest: each bad field of the request and what to fix.
  const std::vector<FieldViolation>& field_violations() const { return field_violations_; }
  // RetryInfo: how long the server asks the caller to wait.
  const std::optional<std::chrono::milliseconds>& retry_delay() const { return retry_delay_; }
  // QuotaFailure: which quotas ran out.
  const std::vector<QuotaViolation>& quota_violations() const { return quota_violations_; }
  // ErrorInfo: a machine-readable reason within the domain (switchyard.dev).
  const std::string& reason() const { return reason_; }
  const std::string& domain() const { return domain_; }
  // True when no Switchyard server answered (no status details came back).
  bool unreachable() const;

 private:
  grpc::StatusCode code_;
  std::string code_name_;
  std::string message_;
  std::vector<FieldViolation> field_violations_;
  std::optional<std::chrono::milliseconds> retry_delay_;
  std::vector<QuotaViolation> quota_violations_;
  std::string reason_;
  std::string domain_;
  bool has_details_ = false;
};

// One subclass per status code a caller is expected to handle.
class InvalidArgumentError : public CallError {
  using CallError::CallError;
};
class UnavailableError : public CallError {
  using CallError::CallError;
};
class ResourceExhaustedError : public CallError {
  using CallError::CallError;
};
class DeadlineExceededError : public CallError {
  using CallError::CallError;
};
class NotFoundError : public CallError {
  using CallError::CallError;
};
class PermissionDeniedError : public CallError {
  using CallError::CallError;
};
class UnauthenticatedError : public CallError {
  using CallError::CallError;
};

// Throws the CallError subclass for a failed status; returns for OK.
void ThrowIfFailed(const grpc::Status& status);

// Whether a gRPC target stays on this machine (127.x, ::1, localhost, unix:).
bool IsLoopback(const std::string& address);

// A channel with the options' TLS and retry service config (for any service's stub).
// Throws std::invalid_argument for a token without TLS to an address not loopback:
// a bearer token never travels in plaintext across the network.
std::shared_ptr<grpc::Channel> OpenChannel(const ClientOptions& options);

// A ClientContext with the options' deadline and token.
std::unique_ptr<grpc::ClientContext> NewContext(
    const ClientOptions& options, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// A RouteRequest with one user message.
switchyard::router::v1::RouteRequest MakeRouteRequest(const std::string& prompt);

class RouterClient {
 public:
  explicit RouterClient(ClientOptions options = {});

  // Answer the request; throws a CallError subclass on failure.
  switchyard::router::v1::RouteResponse Route(
      const switchyard::router::v1::RouteRequest& request,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // The decision Route would take, without calling any model.
  switchyard::router::v1::PlanResponse Plan(
      const switchyard::router::v1::RouteRequest& request,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  ClientOptions options_;
  std::unique_ptr<switchyard::router::v1::RouterService::Stub> stub_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_CLIENT_H_
