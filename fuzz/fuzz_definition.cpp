// Fuzzes definition parsing and validation: the bytes are read as YAML (YamlToJson) and as JSON,
// and each document that results goes through DefinitionFromJson and ValidateWorkflowJson with the
// built-in activity catalogue, which is what `trellis validate`, `trellis apply` and the API's
// POST /api/workflows do. Invariants, checked with __builtin_trap so that libFuzzer keeps the input:
//   * nothing throws (exceptions do not cross module boundaries: CONVENTIONS.md);
//   * a document ValidateWorkflowJson accepts has no structural errors from DefinitionFromJson;
//     (today ValidateWorkflowJson starts with DefinitionFromJson; this keeps them from drifting);
//   * a valid definition survives DefinitionToJson: the JSON validates again, parses to the same
//     JSON a second time (a fixed point), and can be serialised (what the store does with it).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "activities/builtin.h"
#include "core/log.h"
#include "model/parser.h"
#include "runtime/definitions.h"

namespace {

using trellis::Json;
using trellis::ValidationError;

[[noreturn]] void Violated(const char* what, const Json& doc, const std::vector<ValidationError>& errors) {
  std::fprintf(stderr, "fuzz_definition: invariant violated: %s\n", what);
  for (const auto& e : errors) std::fprintf(stderr, "  %s: %s\n", e.path.c_str(), e.message.c_str());
  std::fprintf(stderr, "  document: %s\n", doc.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
  __builtin_trap();
}

void CheckDocument(const Json& doc) {
  const auto& registry = trellis::BuiltinActivities();
  std::vector<ValidationError> structural;
  trellis::WorkflowDefinition def = trellis::DefinitionFromJson(doc, &structural);
  if (!trellis::ValidateWorkflowJson(registry, doc, false).empty()) return;
  if (!structural.empty())
    Violated("ValidateWorkflowJson accepted what DefinitionFromJson rejected", doc, structural);

  Json back = trellis::DefinitionToJson(def);
  std::vector<ValidationError> again = trellis::ValidateWorkflowJson(registry, back, false);
  if (!again.empty()) Violated("DefinitionToJson of a valid definition does not validate", back, again);

  std::vector<ValidationError> reparse_errors;
  trellis::WorkflowDefinition def2 = trellis::DefinitionFromJson(back, &reparse_errors);
  if (!reparse_errors.empty())
    Violated("DefinitionToJson of a valid definition does not parse", back, reparse_errors);
  if (trellis::DefinitionToJson(def2) != back) Violated("DefinitionToJson is not a fixed point", back, {});

  // The store keeps the definition as JSON text: a valid one must serialise (nlohmann throws on
  // invalid UTF-8 in strict mode) and read back to the same value.
  std::string text = back.dump();
  Json read = Json::parse(text, nullptr, false);
  if (read.is_discarded() || read != back)
    Violated("the stored text of a valid definition does not read back", back, {});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trellis::SetLogSink([](std::string_view) {});
  (void)trellis::BuiltinActivities();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  Json yaml;
  std::string error;
  if (trellis::YamlToJson(text, &yaml, &error)) CheckDocument(yaml);

  Json json = Json::parse(text, nullptr, false);
  if (!json.is_discarded()) CheckDocument(json);

  // The text entry point (YAML or JSON) must agree with YamlToJson about syntax errors.
  std::vector<ValidationError> parse_errors;
  trellis::ParseDefinition(text, &parse_errors);
  return 0;
}
