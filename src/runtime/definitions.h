// Storing workflow definitions: validation first, then a new version (or the draft updated in
// place), and on publish the cron schedules and Event/Webhook triggers indexed in the same
// transaction. Used by the API, `trellis apply` and tests.
#pragma once

#include "engine/registry.h"
#include "model/definition.h"
#include "store/store.h"

namespace trellis {

// Saves `definition` (the JSON form) as the draft of its id: a new version when the newest is
// frozen or none exists, else the draft replaced. With `publish`, that version becomes the published
// one. InvalidArgument lists every validation error.
Result<DefinitionRecord> SaveWorkflow(Store& store, const ActivityRegistry& registry, const Json& definition,
                                      bool publish, TimePoint now);

// Every error that would stop SaveWorkflow storing `definition` (parse, validation, compilation),
// each with its path. `require_id`: a definition without an id is an error.
std::vector<ValidationError> ValidateWorkflowJson(const ActivityRegistry& registry, const Json& definition,
                                                  bool require_id);

// Publishes a stored version (schedules and triggers follow it).
Status PublishWorkflow(Store& store, const std::string& id, int version, TimePoint now);

// The schedules and triggers a definition declares. A schedule's first run is the first tick
// after `now`.
Status IndexTriggers(const WorkflowDefinition& def, int version, TimePoint now,
                     std::vector<ScheduleRow>* schedules, std::vector<TriggerRow>* triggers);

}  // namespace trellis
