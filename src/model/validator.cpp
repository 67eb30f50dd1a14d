#include "model/validator.h"

#include <map>
#include <set>

#include "core/duration.h"
#include "core/strings.h"
#include "script/template.h"

namespace trellis {
namespace {

void CheckTemplates(const Json& value, const std::string& path, std::vector<ValidationError>* errors) {
  for (auto& e : script::CheckValue(value, script::ScriptEngine::ForThisThread())) {
    errors->push_back({path + e.path, e.message});
  }
}

void CheckInputValue(const InputDescriptor& in, const Json& value, const std::string& path,
                     std::vector<ValidationError>* errors) {
  auto& engine = script::ScriptEngine::ForThisThread();
  bool templated = script::ValueHasTemplate(value);
  if (in.type == "expression") {
    if (value.is_string() && !templated) {
      Status s = engine.CheckExpression(value.get<std::string>());
      if (!s.ok()) errors->push_back({path, "expression does not compile: " + s.message()});
    } else if (templated) {
      // "{{ input.total }} > 1000" would interpolate to a string, which Lua holds true.
      if (value.is_string() && !script::IsWholeTemplate(value.get<std::string>())) {
        errors->push_back({path,
                           "a condition must be bare Lua or one whole {{ }} template: write "
                           "`input.total > 1000` or `{{ input.total > 1000 }}`, not a mix"});
        return;
      }
      CheckTemplates(value, path, errors);
    }
    return;
  }
  if (in.type == "cases") return;  // checked case by case in CheckDynamicOutcomes
  if (in.type == "code") {
    if (!value.is_string()) {
      errors->push_back({path, "must be a string of Lua code"});
    } else {
      Status s = engine.CheckChunk(value.get<std::string>());
      if (!s.ok()) errors->push_back({path, "Lua does not compile: " + s.message()});
    }
    return;
  }
  if (templated) {
    CheckTemplates(value, path, errors);
    if (value.is_string()) return;  // the type is only known once evaluated
  }
  if (!in.one_of.empty() && value.is_string()) {
    const auto& v = value.get<std::string>();
    if (std::find(in.one_of.begin(), in.one_of.end(), v) == in.one_of.end()) {
      std::string list;
      for (const auto& o : in.one_of) list += (list.empty() ? "" : ", ") + o;
      errors->push_back({path, "'" + v + "' is not one of " + list + DidYouMean(v, in.one_of)});
    }
  }
  auto mismatch = [&](const char* want) {
    errors->push_back({path, std::string("must be ") + want + ", not " + JsonTypeName(value)});
  };
  if (in.type == "string" || in.type == "text") {
    if (!value.is_string() && !value.is_number() && !value.is_boolean()) mismatch("a string");
  } else if (in.type == "integer") {
    if (!value.is_number_integer()) mismatch("an integer");
  } else if (in.type == "number") {
    if (!value.is_number()) mismatch("a number");
  } else if (in.type == "boolean") {
    if (!value.is_boolean()) mismatch("true or false");
  } else if (in.type == "object") {
    if (!value.is_object()) mismatch("an object");
  } else if (in.type == "array") {
    if (!value.is_array()) mismatch("a list");
  } else if (in.type == "duration") {
    if (value.is_number_integer()) {
      if (value.get<int64_t>() < 0) errors->push_back({path, "a duration must not be negative"});
    } else if (!value.is_string()) {
      mismatch("a duration such as 10s");
    } else if (auto d = ParseDuration(value.get<std::string>()); !d.ok()) {
      errors->push_back({path, d.status().message()});
    }
  }
}

void CheckDynamicOutcomes(const ActivityDefinition& a, const std::string& path,
                          std::vector<ValidationError>* errors) {
  if (a.type == "Switch") {
    auto it = a.inputs.find("cases");
    if (it == a.inputs.end()) return;
    if (!it->is_array()) {
      errors->push_back({path + ".inputs.cases", "must be a list of {name, condition}"});
      return;
    }
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& c = (*it)[i];
      std::string cpath = path + ".inputs.cases[" + std::to_string(i) + "]";
      if (!c.is_object()) {
        errors->push_back({cpath, "a case must be an object {name, condition}"});
        continue;
      }
      auto name = c.find("name");
      if (name == c.end() || !name->is_string() || name->get<std::string>().empty()) {
        errors->push_back({cpath + ".name", "is required"});
      } else if (!names.insert(name->get<std::string>()).second) {
        errors->push_back({cpath + ".name", "duplicate case name '" + name->get<std::string>() + "'"});
      }
      auto cond = c.find("condition");
      if (cond == c.end()) {
        errors->push_back({cpath + ".condition", "is required"});
      } else {
        CheckInputValue({.name = "condition", .type = "expression"}, *cond, cpath + ".condition", errors);
      }
    }
  } else if (a.type == "Fork") {
    auto it = a.inputs.find("branches");
    if (it == a.inputs.end()) return;
    if (!it->is_array()) return;  // the input's type check reports it
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        errors->push_back({path + ".inputs.branches[" + std::to_string(i) + "]", "must be a branch name"});
      }
    }
  }
}

}  // namespace

std::vector<std::string> OutcomesOf(const ActivityDefinition& a, const ActivityDescriptor& d) {
  std::vector<std::string> out = d.outcomes;
  if (a.type == "Switch") {
    if (auto it = a.inputs.find("cases"); it != a.inputs.end() && it->is_array()) {
      for (const auto& c : *it) {
        if (c.is_object() && c.contains("name") && c["name"].is_string()) out.push_back(c["name"]);
      }
    }
  } else if (a.type == "Fork") {
    if (auto it = a.inputs.find("branches"); it != a.inputs.end() && it->is_array()) {
      for (const auto& b : *it) {
        if (b.is_string()) out.push_back(b);
      }
    }
  }
  out.emplace_back("Error");
  return out;
}

void ValidateDefinition(const WorkflowDefinition& def, const DescriptorLookup& lookup,
                        const std::vector<std::string>& known_types, std::vector<ValidationError>* errors) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < def.activities.size(); ++i) {
    const auto& a = def.activities[i];
    std::string path = "activities[" + std::to_string(i) + "]";
    if (!a.id.empty() && !index.emplace(a.id, i).second) {
      errors->push_back({path + ".id", "duplicate activity id '" + a.id + "' (also activities[" +
                                           std::to_string(index[a.id]) + "])"});
    }
    if (a.type.empty()) continue;
    const ActivityDescriptor* d = lookup(a.type);
    if (d == nullptr) {
      errors->push_back(
          {path + ".type", "unknown activity type '" + a.type + "'" + DidYouMean(a.type, known_types)});
      continue;
    }
    std::vector<std::string> input_names;
    for (const auto& in : d->inputs) input_names.push_back(in.name);
    for (const auto& [key, value] : a.inputs.items()) {
      const InputDescriptor* in = d->FindInput(key);
      if (in == nullptr && key == "name") continue;  // the display name
      if (in == nullptr && key == "timeout" && d->control_flow) {
        errors->push_back(
            {path + ".timeout", a.type + " does not take a timeout (put it on the activities inside)"});
        continue;
      }
      if (in == nullptr && key == "timeout") {
        // The activity-level timeout: a fixed duration string, no templates.
        if (!value.is_string()) {
          errors->push_back(
              {path + ".timeout", std::string("must be a duration such as 10s, not ") + JsonTypeName(value)});
        } else if (script::ValueHasTemplate(value)) {
          errors->push_back({path + ".timeout", "an activity timeout cannot use templates"});
        } else {
          CheckInputValue({.name = "timeout", .type = "duration"}, value, path + ".timeout", errors);
        }
        continue;
      }
      if (in == nullptr) {
        errors->push_back({path + ".inputs." + key,
                           "unknown input '" + key + "' for " + a.type + DidYouMean(key, input_names)});
        continue;
      }
      CheckInputValue(*in, value, path + ".inputs." + key, errors);
    }
    for (const auto& in : d->inputs) {
      if (in.required && !a.inputs.contains(in.name)) {
        errors->push_back({path + ".inputs." + in.name, "is required for " + a.type});
      }
    }
    CheckDynamicOutcomes(a, path, errors);
  }
  std::vector<std::string> ids;
  for (const auto& a : def.activities) ids.push_back(a.id);
  for (size_t i = 0; i < def.connections.size(); ++i) {
    const auto& c = def.connections[i];
    std::string path = "connections[" + std::to_string(i) + "]";
    auto from = index.find(c.from);
    if (!c.from.empty() && from == index.end()) {
      errors->push_back({path + ".from", "unknown activity id '" + c.from + "'" + DidYouMean(c.from, ids)});
    }
    if (!c.to.empty() && !index.contains(c.to)) {
      errors->push_back({path + ".to", "unknown activity id '" + c.to + "'" + DidYouMean(c.to, ids)});
    }
    if (from != index.end()) {
      const auto& a = def.activities[from->second];
      const ActivityDescriptor* d = lookup(a.type);
      bool any_outcome = a.type == "Fork" && !a.inputs.contains("branches");  // each connection is a branch
      if (d != nullptr && !any_outcome) {
        auto outcomes = OutcomesOf(a, *d);
        if (std::find(outcomes.begin(), outcomes.end(), c.outcome) == outcomes.end()) {
          std::string known;
          for (const auto& o : outcomes) known += (known.empty() ? "" : ", ") + o;
          errors->push_back({path + ".outcome", "activity '" + a.id + "' (" + a.type + ") has no outcome '" +
                                                    c.outcome + "'" + DidYouMean(c.outcome, outcomes) +
                                                    " (it has: " + known + ")"});
        }
      }
    }
  }
  if (def.has_connections && !def.activities.empty()) {
    std::set<std::string> targets;
    for (const auto& c : def.connections) targets.insert(c.to);
    bool any_start = false;
    for (const auto& a : def.activities) any_start |= !targets.contains(a.id);
    if (!any_start) {
      errors->push_back(
          {"connections", "every activity has an incoming connection, so none can start the workflow"});
    }
  }
}

}  // namespace trellis
