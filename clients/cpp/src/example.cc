// Example: one Route(), one Plan() and one invalid request against a running router.
//
//   clients/cpp/build/switchyard_route_example [--router HOST:PORT] [--token T] [--json]
//
// The token: --token, else $SWITCHYARD_TOKEN, else `make run`'s dev token
// (examples/tenants.yaml) when the router is on this machine.
// --json prints what it saw as one JSON document (tests/clients/test_cpp.py reads it);
// without it, a short readable summary. Exit status: 0 done, 1 failed, 3 unreachable.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "switchyard/client.h"

namespace {

namespace v1 = ::switchyard::router::v1;
using google::protobuf::Struct;
using google::protobuf::Value;

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string LongPrompt() {
  std::string prompt;
  for (int i = 0; i < 20; ++i) prompt += "Please consider the following planning notes carefully. ";
  return prompt + "Summarise them.";
}

// What the invalid request raised, as a JSON object.
Struct Describe(const switchyard::CallError& error, bool is_invalid_argument) {
  Struct out;
  auto& fields = *out.mutable_fields();
  fields["raised"].set_bool_value(true);
  fields["is_invalid_argument"].set_bool_value(is_invalid_argument);
  fields["code"].set_string_value(error.code_name());
  fields["reason"].set_string_value(error.reason());
  fields["domain"].set_string_value(error.domain());
  auto* violations = fields["field_violations"].mutable_list_value();
  for (const auto& v : error.field_violations()) {
    Value entry;
    auto& entry_fields = *entry.mutable_struct_value()->mutable_fields();
    entry_fields["field"].set_string_value(v.field);
    entry_fields["description"].set_string_value(v.description);
    *violations->add_values() = entry;
  }
  return out;
}

constexpr const char* kDevTenantToken = "dev-tenant-token";

}  // namespace

int main(int argc, char** argv) {
  switchyard::ClientOptions options;
  if (const char* env = std::getenv("SWITCHYARD_ROUTER")) options.address = env;
  std::optional<std::string> token;
  if (const char* env = std::getenv("SWITCHYARD_TOKEN")) token = env;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--router") == 0 && i + 1 < argc) {
      options.address = argv[++i];
    } else if (std::strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
      token = argv[++i];
    } else if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::cerr << "usage: " << argv[0] << " [--router HOST:PORT] [--token T] [--json]\n";
      return 2;
    }
  }
  if (token) {
    options.token = *token;
  } else if (switchyard::IsLoopback(options.address)) {
    options.token = kDevTenantToken;
  }
  options.timeout = std::chrono::milliseconds(20000);
  switchyard::RouterClient router(options);
  try {
    v1::RouteRequest request = switchyard::MakeRouteRequest("What is a B-tree?");
    request.set_task_type("chat");
    request.set_tier("pro");
    request.set_budget_micros(5000);
    const v1::RouteResponse reply = router.Route(request);

    v1::RouteRequest long_request = switchyard::MakeRouteRequest(LongPrompt());
    long_request.set_task_type("math");
    const v1::PlanResponse plan = router.Plan(long_request);

    Struct invalid;
    (*invalid.mutable_fields())["raised"].set_bool_value(false);
    v1::RouteRequest bad;
    bad.set_task_type("astrology");
    bad.set_budget_micros(-5);
    try {
      router.Route(bad);
    } catch (const switchyard::InvalidArgumentError& error) {
      invalid = Describe(error, true);
    } catch (const switchyard::CallError& error) {
      invalid = Describe(error, false);
    }

    if (json) {
      std::cout << R"({"route":)" << ToJson(reply) << R"(,"plan":)" << ToJson(plan)
                << R"(,"invalid":)" << ToJson(invalid) << "}\n";
      return 0;
    }
    std::cout << reply.answer() << "\n\nmodel " << reply.model_id() << ", rule " << reply.rule()
              << ", strategy " << reply.strategy() << ", cost " << reply.total_cost_micros()
              << " µUSD, " << reply.total_latency_ms() << " ms\n";
    for (const auto& a : reply.attempts()) {
      std::cout << "  stage " << a.stage() << " retry " << a.retry() << " " << a.model_id()
                << ": " << v1::AttemptOutcome_Name(a.outcome()) << ", "
                << v1::AttemptVerdict_Name(a.verdict()) << ", " << a.latency_ms() << " ms, "
                << a.cost_micros() << " µUSD\n";
    }
    std::cout << "\nplan: rule " << plan.rule() << ", selector " << plan.selector()
              << ", expected " << plan.expected_cost_micros() << " µUSD / "
              << plan.expected_latency_ms() << " ms / quality " << plan.expected_quality()
              << ", " << plan.cascades_size() << " cascades weighed\n";
    std::cout << "\ninvalid request: " << ToJson(invalid) << "\n";
    return 0;
  } catch (const switchyard::CallError& error) {
    if (error.unreachable()) {
      std::cerr << "cannot reach the router at " << options.address << ": " << error.message()
                << "\n";
      return 3;
    }
    std::cerr << error.what() << "\n";
    return 1;
  }
}
