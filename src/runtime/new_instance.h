// The row a new instance is stored as, from the state Engine::Start made.
#pragma once

#include "engine/compiled_workflow.h"
#include "engine/instance_state.h"
#include "store/store.h"

namespace trellis {

// `state_json`, when given, receives the state as JSON (the row's text is its dump).
inline NewInstance NewInstanceFrom(const InstanceState& state, const CompiledWorkflow& wf,
                                   Json* state_json = nullptr) {
  NewInstance n;
  n.id = state.id;
  n.workflow_id = state.workflow_id;
  n.version = state.version;
  n.status = state.status;
  n.correlation_id = state.correlation_id;
  n.parent_id = state.parent_id;
  Json json = StateToJson(state, wf.ids());
  n.state_text = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (state_json != nullptr) *state_json = std::move(json);
  n.created_at = state.created_at;
  n.finished_at = state.finished_at;
  return n;
}

}  // namespace trellis
