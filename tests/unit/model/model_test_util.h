// Helpers shared by the model tests: collecting and searching ValidationErrors.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "model/definition.h"

namespace trellis::model_test {

// DESIGN.md section 2, verbatim.
inline constexpr const char* kDesignYaml = R"(id: order-fulfilment
name: Order fulfilment
inputs: {orderId: {type: string, required: true}}
variables: {attempts: 0}
triggers:
  - {type: Webhook, path: orders, method: POST}
  - {type: Cron, schedule: "*/15 * * * *", timezone: Europe/Amsterdam}
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.example.com/orders/{{ input.orderId }}",
     retry: {maxAttempts: 5, backoff: exponential, initial: 1s}, timeout: 10s}
  - {id: big, type: If, condition: "{{ outputs.fetch.body.total > 1000 }}"}
  - {id: approve, type: WaitForEvent, event: order.approved, correlation: "{{ input.orderId }}", timeout: 48h}
  - {id: ship, type: HttpRequest, method: POST, url: "https://ship.example.com", body: "{{ outputs.fetch.body }}"}
connections:
  - {from: fetch, to: big}
  - {from: big, outcome: "True", to: approve}
  - {from: big, outcome: "False", to: ship}
  - {from: approve, to: ship}
)";

inline std::string Describe(const std::vector<ValidationError>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += "\n  " + (e.path.empty() ? std::string("(root)") : e.path) + ": " + e.message;
  return out.empty() ? "\n  (no errors)" : out;
}

// The errors reported at exactly this path.
inline std::vector<ValidationError> ErrorsAt(const std::vector<ValidationError>& errors,
                                             std::string_view path) {
  std::vector<ValidationError> out;
  for (const auto& e : errors) {
    if (e.path == path) out.push_back(e);
  }
  return out;
}

// True when an error at exactly `path` has a message containing `fragment`.
inline bool HasError(const std::vector<ValidationError>& errors, std::string_view path,
                     std::string_view fragment = "") {
  return std::any_of(errors.begin(), errors.end(), [&](const ValidationError& e) {
    return e.path == path && e.message.find(fragment) != std::string::npos;
  });
}

}  // namespace trellis::model_test

#define EXPECT_ERROR(errors, path, fragment)                                   \
  EXPECT_TRUE(::trellis::model_test::HasError((errors), (path), (fragment)))   \
      << "expected an error at '" << (path) << "' containing \"" << (fragment) \
      << "\"; got:" << ::trellis::model_test::Describe(errors)

#define EXPECT_NO_ERRORS(errors) \
  EXPECT_TRUE((errors).empty()) << "unexpected errors:" << ::trellis::model_test::Describe(errors)
