#include "switchyard/client.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace switchyard {
namespace {

namespace rpc = ::google::rpc;
namespace v1 = ::switchyard::router::v1;

// Every service the retry policy names (the same list as the Python client's).
constexpr const char* kServices[] = {
    "switchyard.router.v1.RouterService",
    "switchyard.registry.v1.RegistryService",
    "switchyard.verifier.v1.VerifierService",
    "switchyard.controlplane.v1.ControlPlaneService",
};

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

std::string Seconds(double seconds) {
  std::ostringstream out;
  out << seconds << "s";
  return out.str();
}

}  // namespace

std::string RetryPolicy::ServiceConfigJson() const {
  std::ostringstream json;
  json << R"({"methodConfig":[{"name":[)";
  for (size_t i = 0; i < std::size(kServices); ++i) {
    json << (i ? "," : "") << R"({"service":")" << kServices[i] << R"("})";
  }
  json << R"(],"retryPolicy":{"maxAttempts":)" << max_attempts << R"(,"initialBackoff":")"
       << Seconds(initial_backoff_s) << R"(","maxBackoff":")" << Seconds(max_backoff_s)
       << R"(","backoffMultiplier":)" << backoff_multiplier << R"(,"retryableStatusCodes":[)";
  for (size_t i = 0; i < retryable_codes.size(); ++i) {
    json << (i ? "," : "") << '"' << retryable_codes[i] << '"';
  }
  json << R"(]}}],"retryThrottling":{"maxTokens":)" << throttle_max_tokens
       << R"(,"tokenRatio":)" << throttle_token_ratio << "}}";
  return json.str();
}

CallError::CallError(const grpc::Status& status)
    : std::runtime_error(std::string(CodeName(status.error_code())) + ": " +
                         status.error_message()),
      code_(status.error_code()),
      code_name_(CodeName(status.error_code())),
      message_(status.error_message()) {
  // The server's google.rpc.Status travels in the grpc-status-details-bin trailer.
  rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return;
  }
  has_details_ = true;
  for (const auto& any : details.details()) {
    rpc::BadRequest bad_request;
    rpc::RetryInfo retry_info;
    rpc::QuotaFailure quota_failure;
    rpc::ErrorInfo error_info;
    if (any.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        field_violations_.push_back({v.field(), v.description()});
      }
    } else if (any.UnpackTo(&retry_info)) {
      const auto& delay = retry_info.retry_delay();
      retry_delay_ = std::chrono::milliseconds(delay.seconds() * 1000 + delay.nanos() / 1000000);
    } else if (any.UnpackTo(&quota_failure)) {
      for (const auto& v : quota_failure.violations()) {
        quota_violations_.push_back({v.subject(), v.description()});
      }
    } else if (any.UnpackTo(&error_info)) {
      reason_ = error_info.reason();
      domain_ = error_info.domain();
    }
  }
}

bool CallError::unreachable() const {
  return (code_ == grpc::UNAVAILABLE || code_ == grpc::DEADLINE_EXCEEDED) && !has_details_;
}

void ThrowIfFailed(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::OK: return;
    case grpc::INVALID_ARGUMENT: throw InvalidArgumentError(status);
    case grpc::UNAVAILABLE: throw UnavailableError(status);
    case grpc::RESOURCE_EXHAUSTED: throw ResourceExhaustedError(status);
    case grpc::DEADLINE_EXCEEDED: throw DeadlineExceededError(status);
    case grpc::NOT_FOUND: throw NotFoundError(status);
    case grpc::PERMISSION_DENIED: throw PermissionDeniedError(status);
    case grpc::UNAUTHENTICATED: throw UnauthenticatedError(status);
    default: throw CallError(status);
  }
}

bool IsLoopback(const std::string& address) {
  std::string host = address;
  for (const char* scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (host.rfind(scheme, 0) == 0) {
      host = host.substr(std::strlen(scheme));
      break;
    }
  }
  if (host.rfind("unix:", 0) == 0 || host.rfind("unix-abstract:", 0) == 0) return true;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::shared_ptr<grpc::Channel> OpenChannel(const ClientOptions& options) {
  if (!options.token.empty() && !options.tls && !IsLoopback(options.address)) {
    throw std::invalid_argument("refusing to send a bearer token in plaintext to " +
                                options.address +
                                ": it is not a loopback address; set options.tls");
  }
  grpc::ChannelArguments args;
  if (options.retry) {
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetServiceConfigJSON(options.retry->ServiceConfigJson());
  } else {
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->root_certificates_pem;
    ssl.pem_cert_chain = options.tls->client_certificate_pem;
    ssl.pem_private_key = options.tls->client_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls->server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls->server_name);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

std::unique_ptr<grpc::ClientContext> NewContext(const ClientOptions& options,
                                                std::optional<std::chrono::milliseconds> timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout.value_or(options.timeout));
  if (!options.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.token);
  }
  return context;
}

v1::RouteRequest MakeRouteRequest(const std::string& prompt) {
  v1::RouteRequest request;
  auto* message = request.add_messages();
  message->set_role("user");
  message->set_content(prompt);
  return request;
}

RouterClient::RouterClient(ClientOptions options)
    : options_(std::move(options)), stub_(v1::RouterService::NewStub(OpenChannel(options_))) {}

v1::RouteResponse RouterClient::Route(const v1::RouteRequest& request,
                                      std::optional<std::chrono::milliseconds> timeout) {
  auto context = NewContext(options_, timeout);
  v1::RouteResponse response;
  ThrowIfFailed(stub_->Route(context.get(), request, &response));
  return response;
}

v1::PlanResponse RouterClient::Plan(const v1::RouteRequest& request,
                                    std::optional<std::chrono::milliseconds> timeout) {
  auto context = NewContext(options_, timeout);
  v1::PlanRequest plan_request;
  *plan_request.mutable_request() = request;
  v1::PlanResponse response;
  ThrowIfFailed(stub_->Plan(context.get(), plan_request, &response));
  return response;
}

}  // namespace switchyard
