// The row a new instance is stored as, from the state Engine::Start made.
#pragma once

#include "engine/compiled_workflow.h"
#include "engine/instance_state.h"
#include "store/store.h"

namespace trellis {

inline NewInstance NewInstanceFrom(const InstanceState& state, const CompiledWorkflow& wf) {
  NewInstance n;
  n.id = state.id;
  n.workflow_id = state.workflow_id;
  n.version = state.version;
  n.status = state.status;
  n.correlation_id = state.correlation_id;
  n.parent_id = state.parent_id;
  n.state_text = StateToJson(state, wf.ids()).dump(-1, ' ', false, Json::error_handler_t::replace);
  n.created_at = state.created_at;
  n.finished_at = state.finished_at;
  return n;
}

}  // namespace trellis
