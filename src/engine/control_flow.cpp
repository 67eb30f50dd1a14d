// The control-flow activities the engine interprets itself: ForEach and While (iteration scopes),
// Fork, Join (all | any), Finish and Fail.
#include <algorithm>
#include <utility>

#include "core/strings.h"
#include "engine/engine.h"
#include "script/template.h"

namespace trellis {
namespace {

Token LoopToken(const Frame& loop) {
  Token t;
  t.activity = loop.owner;
  t.scope = loop.parent;
  t.attempt = loop.attempt;
  t.started_at = loop.started_at;
  return t;
}

}  // namespace

void Engine::RunControl(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a,
                        const Token& t, const Json& inputs) {
  using C = CompiledActivity::Control;
  TimePoint now = Now();
  switch (a.control) {
    case C::kForEach:
    case C::kWhile: StartLoop(wf, s, a, t, inputs); return;
    case C::kJoin: ArriveAtJoin(wf, s, a, t, inputs); return;
    case C::kFork: {
      std::vector<std::string> branches;
      if (auto it = inputs.find("branches"); it != inputs.end() && it->is_array() && !it->empty()) {
        for (const auto& b : *it) branches.push_back(b.get<std::string>());
      } else {
        for (const auto& e : a.out) {
          if (e.outcome != "Error" &&
              std::find(branches.begin(), branches.end(), e.outcome) == branches.end()) {
            branches.push_back(e.outcome);
          }
        }
      }
      std::string outcome;
      for (const auto& b : branches) outcome += (outcome.empty() ? "" : ",") + b;
      Journal(s, a, t, "Completed", outcome, now, nullptr, "");
      for (const auto& b : branches) Emit(s, a, b, t.scope);
      if (!s.joins.empty()) RecheckJoins(wf, s, t.scope);
      Release(wf, s, t.scope);
      return;
    }
    case C::kFinish: {
      Json out = inputs.contains("output") ? inputs.at("output") : Json();
      if (out.is_object()) {
        for (const auto& [k, v] : out.items()) s.output[k] = v;
      } else if (!out.is_null()) {
        s.output = out;
      }
      Journal(s, a, t, "Completed", "", now, out, "");
      ClearWork(wf, s, "stopped: Finish '" + a.def->id + "' completed the instance");
      EndInstance(s, InstanceStatus::kCompleted);
      return;
    }
    case C::kFail: {
      std::string message = "workflow failed at '" + a.def->id + "'";
      if (auto it = inputs.find("message"); it != inputs.end() && !it->is_null()) {
        message = it->is_string() ? it->get<std::string>() : it->dump();
      }
      HandleFailure(wf, s, t, message, false, "Fail");
      return;
    }
    case C::kNone: break;
  }
}

void Engine::StartLoop(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a,
                       const Token& t, const Json& inputs) {
  Frame loop;
  loop.id = s.next_frame_id++;
  loop.parent = t.scope;
  loop.kind = Frame::Kind::kLoop;
  loop.owner = a.index;
  loop.attempt = t.attempt;
  loop.started_at = t.started_at.value_or(Now());
  if (a.control == CompiledActivity::Control::kForEach) {
    Json items = inputs.contains("items") ? inputs.at("items") : Json::array();
    if (items.is_null()) items = Json::array();
    if (!items.is_array()) {
      HandleFailure(wf, s, t, std::string("ForEach items must be a list, not ") + JsonTypeName(items), false,
                    "ActivityFaulted");
      return;
    }
    const Json& parallel = inputs.contains("parallel") ? inputs.at("parallel") : Json(1);
    if (!parallel.is_number_integer() || parallel.get<int64_t>() < 1) {
      HandleFailure(wf, s, t, "ForEach parallel must be a whole number of at least 1", false,
                    "ActivityFaulted");
      return;
    }
    loop.items = std::move(items);
    loop.parallel = parallel.get<int64_t>();
    const Json& as = inputs.contains("as") ? inputs.at("as") : Json("item");
    loop.item = as.is_string() && !as.get<std::string>().empty() ? as : Json("item");
  } else {
    loop.is_while = true;
    const Json& max = inputs.contains("maxIterations") ? inputs.at("maxIterations") : Json(10000);
    loop.max_iterations = max.is_number_integer() ? max.get<int64_t>() : 10000;
  }
  uint64_t id = loop.id;
  s.frames.emplace(id, std::move(loop));
  AdvanceLoop(wf, s, id);
}

void Engine::AdvanceLoop(const CompiledWorkflow& wf, InstanceState& s, uint64_t loop_id) {
  const CompiledActivity& a = wf.activity(s.frames.at(loop_id).owner);
  auto start_iteration = [&](Frame& loop, Json item, int64_t index) {
    Frame it;
    it.id = s.next_frame_id++;
    it.parent = loop.id;
    it.kind = Frame::Kind::kIteration;
    it.owner = loop.owner;
    it.var_name = loop.is_while ? "iteration" : loop.item.get<std::string>();
    it.item = std::move(item);
    it.index = index;
    uint64_t id = it.id;
    s.frames.emplace(id, std::move(it));
    ++loop.next;
    if (Emit(s, a, "Iterate", id) == 0) {
      s.frames.erase(id);
      return false;
    }
    ++loop.active;
    return true;
  };
  auto finish = [&](Frame& loop, const std::string* error) {
    Token lt = LoopToken(loop);
    uint64_t parent = loop.parent;
    s.frames.erase(loop_id);
    if (error != nullptr) {
      HandleFailure(wf, s, lt, *error, false, "ActivityFaulted");
      return;
    }
    Journal(s, a, lt, "Completed", "Done", Now(), nullptr, "");
    Emit(s, a, "Done", parent);
    if (!s.joins.empty()) RecheckJoins(wf, s, parent);
    Release(wf, s, parent);
  };

  Frame& loop = s.frames.at(loop_id);
  if (!loop.is_while) {
    int64_t n = static_cast<int64_t>(loop.items.size());
    while (loop.active < loop.parallel && loop.next < n) {
      int64_t i = loop.next;
      start_iteration(loop, std::as_const(loop.items).at(static_cast<size_t>(i)), i);
    }
    if (loop.active == 0 && loop.next >= n) finish(loop, nullptr);
    return;
  }
  while (loop.active == 0) {
    Json merged, workflow;
    script::Scope scope = MakeScope(wf, s, loop.parent, &merged, &workflow);
    Json raw = a.inputs.contains("condition") ? a.inputs.at("condition") : Json(false);
    Result<Json> cond = Json(false);
    auto& lua = script::ScriptEngine::ForThisThread();
    lua.set_limits(services_.script_limits);
    if (raw.is_string() && !script::HasTemplate(raw.get<std::string>())) {
      cond = lua.EvaluateExpression(raw.get<std::string>(), scope);
    } else {
      cond = script::EvaluateValue(raw, lua, scope);
    }
    if (!cond.ok()) {
      std::string error = "While condition: " + cond.status().message();
      finish(loop, &error);
      return;
    }
    if (!IsTruthy(*cond)) {
      finish(loop, nullptr);
      return;
    }
    if (loop.next >= loop.max_iterations) {
      std::string error =
          "While '" + a.def->id + "' exceeded maxIterations (" + std::to_string(loop.max_iterations) + ")";
      finish(loop, &error);
      return;
    }
    start_iteration(loop, Json(loop.next), loop.next);
  }
}

void Engine::EndIteration(const CompiledWorkflow& wf, InstanceState& s, uint64_t iteration_id) {
  auto it = s.frames.find(iteration_id);
  if (it == s.frames.end()) return;
  uint64_t loop_id = it->second.parent;
  s.frames.erase(it);
  auto loop = s.frames.find(loop_id);
  if (loop == s.frames.end()) return;
  --loop->second.active;
  AdvanceLoop(wf, s, loop_id);
}

void Engine::ArriveAtJoin(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a,
                          const Token& t, const Json& inputs) {
  std::string mode =
      inputs.contains("mode") && inputs.at("mode").is_string() ? inputs.at("mode").get<std::string>() : "all";
  auto existing = std::find_if(s.joins.begin(), s.joins.end(), [&](const JoinState& j) {
    return j.activity == a.index && j.scope == t.scope;
  });
  if (mode == "any") {
    // The first branch wins; the others are cancelled (a race such as approval vs. timeout).
    if (existing != s.joins.end()) {
      s.joins.erase(existing);
      --Live(s, t.scope);
    }
    CancelReaching(wf, s, a, t.scope);
    Journal(s, a, t, "Completed", "Done", Now(), nullptr, "");
    Emit(s, a, "Done", t.scope);
    if (!s.joins.empty()) RecheckJoins(wf, s, t.scope);
    Release(wf, s, t.scope);
    return;
  }
  size_t index;
  if (existing == s.joins.end()) {
    s.joins.push_back({a.index, t.scope, {}});
    index = s.joins.size() - 1;  // the arriving token's unit now keeps the join alive
  } else {
    index = static_cast<size_t>(existing - s.joins.begin());
    --Live(s, t.scope);  // merged into the pending join
  }
  auto& arrived = s.joins[index].arrived;
  if (t.via >= 0 && std::find(arrived.begin(), arrived.end(), t.via) == arrived.end())
    arrived.push_back(t.via);
  bool all = std::all_of(a.inbound.begin(), a.inbound.end(), [&](int c) {
    return std::find(arrived.begin(), arrived.end(), c) != arrived.end();
  });
  if (all || !CanStillReach(s, a, t.scope)) FireJoin(wf, s, index);
}

void Engine::FireJoin(const CompiledWorkflow& wf, InstanceState& s, size_t join_index) {
  JoinState js = std::move(s.joins[join_index]);
  s.joins.erase(s.joins.begin() + static_cast<std::ptrdiff_t>(join_index));
  const CompiledActivity& a = wf.activity(js.activity);
  Token t;
  t.activity = js.activity;
  t.scope = js.scope;
  Journal(s, a, t, "Completed", "Done", Now(), nullptr, "");
  Emit(s, a, "Done", js.scope);
  Release(wf, s, js.scope);
}

bool Engine::CanStillReach(const InstanceState& s, const CompiledActivity& join, uint64_t scope) const {
  auto reaches = [&](int activity) {
    return activity != join.index && join.reaches[static_cast<size_t>(activity)];
  };
  for (size_t i = s.ready_head; i < s.ready.size(); ++i) {
    // A token queued at the join itself is an arrival not yet counted.
    const Token& t = s.ready[i];
    if (t.scope == scope && (t.activity == join.index || reaches(t.activity))) return true;
  }
  for (const auto& b : s.bookmarks) {
    if (b.token.scope == scope && reaches(b.token.activity)) return true;
  }
  for (const auto& [id, f] : s.frames) {
    if (f.kind == Frame::Kind::kLoop && f.parent == scope && reaches(f.owner)) return true;
  }
  for (const auto& j : s.joins) {
    if (j.scope == scope && reaches(j.activity)) return true;
  }
  return false;
}

void Engine::RecheckJoins(const CompiledWorkflow& wf, InstanceState& s, uint64_t scope) {
  for (size_t i = 0; i < s.joins.size();) {
    const JoinState& j = s.joins[i];
    if (j.scope == scope && !CanStillReach(s, wf.activity(j.activity), scope)) {
      FireJoin(wf, s, i);
      i = 0;  // firing changed the list
    } else {
      ++i;
    }
  }
}

void Engine::CancelReaching(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& join,
                            uint64_t scope) {
  auto reaches = [&](int activity) {
    return activity != join.index && join.reaches[static_cast<size_t>(activity)];
  };
  TimePoint now = Now();
  for (size_t i = s.ready_head; i < s.ready.size();) {
    // Includes tokens already queued at the join itself: the race is decided.
    if (s.ready[i].scope == scope && (s.ready[i].activity == join.index || reaches(s.ready[i].activity))) {
      s.ready.erase(s.ready.begin() + static_cast<std::ptrdiff_t>(i));
      --Live(s, scope);
    } else {
      ++i;
    }
  }
  for (size_t i = 0; i < s.bookmarks.size();) {
    const Bookmark& b = s.bookmarks[i];
    if (b.token.scope == scope && reaches(b.token.activity)) {
      if (b.kind == BookmarkKind::kChild && !b.child_id.empty()) {
        s.outbox.push_back({"cancelChild", {{"instanceId", b.child_id}}});
      }
      Journal(s, wf.activity(b.token.activity), b.token, "Cancelled", "", now, nullptr,
              "cancelled: another branch reached join '" + join.def->id + "' first");
      s.bookmarks.erase(s.bookmarks.begin() + static_cast<std::ptrdiff_t>(i));
      --Live(s, scope);
    } else {
      ++i;
    }
  }
  std::vector<uint64_t> loops;
  for (const auto& [id, f] : s.frames) {
    if (f.kind == Frame::Kind::kLoop && f.parent == scope && reaches(f.owner)) loops.push_back(id);
  }
  for (uint64_t id : loops) {
    DropScope(s, id);
    --Live(s, scope);
  }
  for (size_t i = 0; i < s.joins.size();) {
    if (s.joins[i].scope == scope && reaches(s.joins[i].activity)) {
      s.joins.erase(s.joins.begin() + static_cast<std::ptrdiff_t>(i));
      --Live(s, scope);
    } else {
      ++i;
    }
  }
}

void Engine::DropScope(InstanceState& s, uint64_t frame_id) {
  std::vector<uint64_t> drop{frame_id};
  for (size_t i = 0; i < drop.size(); ++i) {
    for (const auto& [id, f] : s.frames) {
      if (f.parent == drop[i] && id != drop[i]) drop.push_back(id);
    }
  }
  auto dropped = [&](uint64_t scope) { return std::find(drop.begin(), drop.end(), scope) != drop.end(); };
  s.ready.erase(std::remove_if(s.ready.begin() + static_cast<std::ptrdiff_t>(s.ready_head), s.ready.end(),
                               [&](const Token& t) { return dropped(t.scope); }),
                s.ready.end());
  for (const auto& b : s.bookmarks) {
    if (dropped(b.token.scope) && b.kind == BookmarkKind::kChild && !b.child_id.empty()) {
      s.outbox.push_back({"cancelChild", {{"instanceId", b.child_id}}});
    }
  }
  s.bookmarks.erase(std::remove_if(s.bookmarks.begin(), s.bookmarks.end(),
                                   [&](const Bookmark& b) { return dropped(b.token.scope); }),
                    s.bookmarks.end());
  s.joins.erase(
      std::remove_if(s.joins.begin(), s.joins.end(), [&](const JoinState& j) { return dropped(j.scope); }),
      s.joins.end());
  for (uint64_t id : drop) s.frames.erase(id);
}

}  // namespace trellis
