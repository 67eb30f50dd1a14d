#include "engine/compiled_workflow.h"

#include "model/validator.h"
#include "script/template.h"

namespace trellis {
namespace {

CompiledActivity::Control ControlOf(std::string_view type) {
  using C = CompiledActivity::Control;
  if (type == "ForEach") return C::kForEach;
  if (type == "While") return C::kWhile;
  if (type == "Fork") return C::kFork;
  if (type == "Join") return C::kJoin;
  if (type == "Finish") return C::kFinish;
  if (type == "Fail") return C::kFail;
  return C::kNone;
}

}  // namespace

std::shared_ptr<const CompiledWorkflow> CompiledWorkflow::Compile(WorkflowDefinition def,
                                                                  const ActivityRegistry& registry,
                                                                  std::vector<ValidationError>* errors) {
  size_t before = errors->size();
  ValidateDefinition(def, registry.Lookup(), registry.Types(), errors);
  if (errors->size() != before) return nullptr;

  auto wf = std::shared_ptr<CompiledWorkflow>(new CompiledWorkflow());
  wf->def_ = std::move(def);
  const auto& d = wf->def_;
  wf->activities_.resize(d.activities.size());
  for (size_t i = 0; i < d.activities.size(); ++i) {
    auto& ca = wf->activities_[i];
    ca.index = static_cast<int>(i);
    ca.workflow = wf.get();
    ca.def = &d.activities[i];
    ca.descriptor = registry.FindDescriptor(ca.def->type);
    ca.impl = registry.Find(ca.def->type);
    ca.control = ControlOf(ca.def->type);
    ca.external = ca.descriptor->effect == ActivityEffect::kExternal ||
                  (d.options.commit_every_activity && ca.control == CompiledActivity::Control::kNone);
    ca.timed = ca.external || ca.def->type == "Script";
    ca.inputs = ca.def->inputs;
    if (ca.descriptor->FindInput("name") == nullptr) ca.inputs.erase("name");  // only a display name
    if (ca.descriptor->FindInput("timeout") == nullptr) {
      ca.inputs.erase("timeout");
      ca.timeout = ca.def->timeout;
    }
    for (const auto& in : ca.descriptor->inputs) {
      if (!ca.inputs.contains(in.name) && !in.default_value.is_null()) ca.inputs[in.name] = in.default_value;
      if (in.type == "expression" || in.type == "code" || in.type == "cases") {
        ca.raw_inputs.push_back(in.name);
      } else if (auto it = ca.inputs.find(in.name); it != ca.inputs.end() && script::ValueHasTemplate(*it)) {
        ca.templated = true;
      }
    }
    wf->ids_.push_back(ca.def->id);
    wf->index_[ca.def->id] = static_cast<int>(i);
  }

  std::vector<Connection> conns = d.connections;
  if (!d.has_connections) {
    // The short form: each activity's Done leads to the next one.
    for (size_t i = 0; i + 1 < d.activities.size(); ++i) {
      conns.push_back({d.activities[i].id, "Done", d.activities[i + 1].id});
    }
  }
  std::vector<char> has_inbound(d.activities.size(), 0);
  std::vector<std::vector<int>> preds(d.activities.size());
  for (size_t c = 0; c < conns.size(); ++c) {
    int from = wf->index_.at(conns[c].from);
    int to = wf->index_.at(conns[c].to);
    auto& src = wf->activities_[static_cast<size_t>(from)];
    src.out.push_back({conns[c].outcome, to, static_cast<int>(c)});
    if (conns[c].outcome == "Error") src.has_error_edge = true;
    wf->activities_[static_cast<size_t>(to)].inbound.push_back(static_cast<int>(c));
    has_inbound[static_cast<size_t>(to)] = 1;
    preds[static_cast<size_t>(to)].push_back(from);
  }
  for (size_t i = 0; i < d.activities.size(); ++i) {
    if (!has_inbound[i]) wf->start_.push_back(static_cast<int>(i));
  }
  // For joins: which activities can reach them (reverse breadth-first search).
  for (auto& ca : wf->activities_) {
    if (ca.control != CompiledActivity::Control::kJoin) continue;
    ca.reaches.assign(d.activities.size(), 0);
    std::vector<int> stack = preds[static_cast<size_t>(ca.index)];
    while (!stack.empty()) {
      int p = stack.back();
      stack.pop_back();
      if (ca.reaches[static_cast<size_t>(p)]) continue;
      ca.reaches[static_cast<size_t>(p)] = 1;
      for (int q : preds[static_cast<size_t>(p)]) stack.push_back(q);
    }
  }
  // For loops: the body is everything reachable from the Iterate edges.
  for (auto& ca : wf->activities_) {
    if (ca.control != CompiledActivity::Control::kForEach && ca.control != CompiledActivity::Control::kWhile)
      continue;
    std::vector<char> seen(d.activities.size(), 0);
    std::vector<int> stack;
    for (const auto& e : ca.out) {
      if (e.outcome == "Iterate") stack.push_back(e.to);
    }
    while (!stack.empty()) {
      int n = stack.back();
      stack.pop_back();
      if (n == ca.index || seen[static_cast<size_t>(n)]) continue;
      seen[static_cast<size_t>(n)] = 1;
      ca.loop_body.push_back(n);
      for (const auto& e : wf->activities_[static_cast<size_t>(n)].out) stack.push_back(e.to);
    }
  }
  return wf;
}

int CompiledWorkflow::IndexOf(std::string_view id) const {
  auto it = index_.find(std::string(id));
  return it == index_.end() ? -1 : it->second;
}

}  // namespace trellis
