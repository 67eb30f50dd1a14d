#include "runtime/definitions.h"

#include "core/cron.h"
#include "engine/compiled_workflow.h"
#include "model/parser.h"

namespace trellis {
namespace {

Status InvalidDefinition(const std::vector<ValidationError>& errors) {
  std::string message = "the definition is invalid:";
  for (const auto& e : errors) message += "\n  " + e.path + ": " + e.message;
  return InvalidArgument(message);
}

}  // namespace

Status IndexTriggers(const WorkflowDefinition& def, int version, TimePoint now,
                     std::vector<ScheduleRow>* schedules, std::vector<TriggerRow>* triggers) {
  for (size_t i = 0; i < def.triggers.size(); ++i) {
    const Trigger& t = def.triggers[i];
    if (t.type == "Cron") {
      ScheduleRow row;
      row.id = def.id + "#" + std::to_string(i);
      row.workflow_id = def.id;
      row.version = version;
      row.cron = t.config.value("schedule", "");
      row.timezone = t.config.value("timezone", "UTC");
      row.misfire = t.config.value("misfire", "skip");
      row.input = t.config.value("input", Json::object());
      auto cron = CronSchedule::Parse(row.cron, row.timezone);
      if (!cron.ok())
        return InvalidArgument("triggers[" + std::to_string(i) + "].schedule: " + cron.status().message());
      auto next = cron->Next(now);
      if (!next) continue;  // never fires again
      row.next_run_at = *next;
      schedules->push_back(std::move(row));
    } else if (t.type == "Event" || t.type == "Webhook") {
      TriggerRow row;
      row.workflow_id = def.id;
      row.version = version;
      row.type = t.type;
      if (t.type == "Event") {
        row.key = t.config.value("event", "");
      } else {
        row.key = t.config.value("path", "");
        while (!row.key.empty() && row.key.front() == '/') row.key.erase(0, 1);
        row.method = t.config.value("method", "");
      }
      row.config = t.config;
      triggers->push_back(std::move(row));
    }
  }
  return Status::Ok();
}

Status PublishWorkflow(Store& store, const std::string& id, int version, TimePoint now) {
  auto record = store.GetDefinition(id, version);
  if (!record.ok()) return record.status();
  std::vector<ValidationError> errors;
  WorkflowDefinition def = DefinitionFromJson(record->definition, &errors);
  if (!errors.empty()) return InvalidDefinition(errors);
  def.id = id;
  std::vector<ScheduleRow> schedules;
  std::vector<TriggerRow> triggers;
  if (Status s = IndexTriggers(def, version, now, &schedules, &triggers); !s.ok()) return s;
  return store.PublishDefinition(id, version, schedules, triggers, now);
}

std::vector<ValidationError> ValidateWorkflowJson(const ActivityRegistry& registry, const Json& definition,
                                                  bool require_id) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = DefinitionFromJson(definition, &errors);
  if (errors.empty() && require_id && def.id.empty())
    errors.push_back({"id", "is required to store a definition"});
  if (errors.empty()) CompiledWorkflow::Compile(def, registry, &errors);
  return errors;
}

Result<DefinitionRecord> SaveWorkflow(Store& store, const ActivityRegistry& registry, const Json& definition,
                                      bool publish, TimePoint now) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = DefinitionFromJson(definition, &errors);
  if (errors.empty() && def.id.empty()) errors.push_back({"id", "is required to store a definition"});
  if (!errors.empty()) return InvalidDefinition(errors);
  if (!CompiledWorkflow::Compile(def, registry, &errors)) return InvalidDefinition(errors);

  // Two saves racing for the same new version: the loser sees Conflict and tries again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto versions = store.ListDefinitionVersions(def.id);
    if (!versions.ok() && versions.status().code() != StatusCode::kNotFound) return versions.status();
    const DefinitionRecord* newest = nullptr;
    if (versions.ok()) {
      for (const auto& v : *versions) {
        if (!newest || v.version > newest->version) newest = &v;
      }
    }
    DefinitionRecord record;
    record.id = def.id;
    record.name = def.name;
    record.created_at = record.updated_at = now;
    Status written;
    if (newest && !newest->frozen) {
      record.version = newest->version;
      record.created_at = newest->created_at;
      def.version = record.version;
      record.definition = DefinitionToJson(def);
      written = store.UpdateDefinitionDraft(def.id, record.version, record.definition, def.name, now);
    } else {
      record.version = newest ? newest->version + 1 : 1;
      def.version = record.version;
      record.definition = DefinitionToJson(def);
      written = store.InsertDefinition(record);
    }
    if (written.code() == StatusCode::kConflict || written.code() == StatusCode::kFailedPrecondition)
      continue;
    if (!written.ok()) return written;
    if (publish) {
      if (Status s = PublishWorkflow(store, def.id, record.version, now); !s.ok()) return s;
      record.published = record.frozen = true;
    }
    return record;
  }
  return Conflict("definition " + def.id + " is being changed concurrently; try again");
}

}  // namespace trellis
