#include "model/parser.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "core/cron.h"
#include "core/duration.h"
#include "core/strings.h"
#include "script/utf8.h"

namespace trellis {
namespace {

// A plain scalar that looks like a number but does not fit a double (1e999) stays text: JSON has
// no infinity, and the value is then reported where a number is expected.
Json ParseNumber(const std::string& s, bool integer) {
  errno = 0;
  char* end = nullptr;
  if (integer) {
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0) return v;
    errno = 0;
  }
  double d = std::strtod(s.c_str(), &end);
  if (errno == ERANGE || !std::isfinite(d)) return s;
  return d;
}

// YAML 1.2 core schema for plain scalars; "yes"/"no"/"on" stay strings.
Json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, kInt)) return ParseNumber(s, true);
  if (std::regex_match(s, kFloat)) return ParseNumber(s, false);
  return s;
}

// Aliases are expanded into copies; the budget stops a small document from expanding into a huge
// one ("billion laughs").
constexpr size_t kMaxNodes = 1'000'000;

Json NodeToJson(const YAML::Node& node, int depth, size_t* budget) {
  if (depth > 200) throw YAML::Exception(node.Mark(), "nesting deeper than 200 levels");
  if ((*budget)-- == 0) {
    throw YAML::Exception(node.Mark(), "the document expands to more than " + std::to_string(kMaxNodes) +
                                           " values (aliases that repeat too much?)");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp passes bytes through; JSON text (and so the store) needs UTF-8.
      if (!script::IsValidUtf8(node.Scalar()))
        throw YAML::Exception(node.Mark(), "the text is not valid UTF-8");
      return node.Tag() == "?" ? PlainScalar(node.Scalar()) : Json(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) arr.push_back(NodeToJson(item, depth + 1, budget));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        auto key = kv.first.as<std::string>();
        if (!script::IsValidUtf8(key)) throw YAML::Exception(kv.first.Mark(), "the key is not valid UTF-8");
        if (obj.contains(key)) throw YAML::Exception(kv.first.Mark(), "duplicate key '" + key + "'");
        obj[key] = NodeToJson(kv.second, depth + 1, budget);
      }
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

namespace {

class Reader {
 public:
  explicit Reader(std::vector<ValidationError>* errors) : errors_(errors) {}

  void Error(const std::string& path, const std::string& message) { errors_->push_back({path, message}); }

  std::optional<std::string> String(const Json& obj, const std::string& key, const std::string& path,
                                    bool required) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) Error(path + key, "is required");
      return std::nullopt;
    }
    if (it->is_string()) {
      if (required && it->get_ref<const std::string&>().empty()) Error(path + key, "must not be empty");
      return it->get<std::string>();
    }
    if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
    Error(path + key, std::string("must be a string, not ") + JsonTypeName(*it));
    return std::nullopt;
  }

  std::optional<std::chrono::milliseconds> Duration(const Json& value, const std::string& path) {
    if (!value.is_string()) {
      Error(path, std::string("must be a duration string such as 10s, not ") + JsonTypeName(value));
      return std::nullopt;
    }
    auto d = ParseDuration(value.get<std::string>());
    if (!d.ok()) {
      Error(path, d.status().message());
      return std::nullopt;
    }
    return *d;
  }

  void CheckKeys(const Json& obj, const std::vector<std::string>& allowed, const std::string& path) {
    for (const auto& [key, _] : obj.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(path + key, "unknown field '" + key + "'" + DidYouMean(key, allowed));
      }
    }
  }

  std::optional<RetryPolicy> Retry(const Json& value, const std::string& path) {
    if (!value.is_object()) {
      Error(path, "must be an object such as {maxAttempts: 3, backoff: exponential, initial: 1s}");
      return std::nullopt;
    }
    CheckKeys(value, {"maxAttempts", "backoff", "initial", "max", "jitter"}, path + ".");
    RetryPolicy policy;
    policy.max_attempts = 3;
    if (auto it = value.find("maxAttempts"); it != value.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1000) {
        Error(path + ".maxAttempts", "must be an integer from 1 to 1000");
      } else {
        policy.max_attempts = it->get<int>();
      }
    }
    if (auto it = value.find("backoff"); it != value.end()) {
      if (*it == "fixed")
        policy.backoff = RetryPolicy::Backoff::kFixed;
      else if (*it == "exponential")
        policy.backoff = RetryPolicy::Backoff::kExponential;
      else
        Error(path + ".backoff", "must be 'fixed' or 'exponential'");
    }
    if (auto it = value.find("initial"); it != value.end()) {
      if (auto d = Duration(*it, path + ".initial")) policy.initial = *d;
    }
    if (auto it = value.find("max"); it != value.end()) {
      if (auto d = Duration(*it, path + ".max")) policy.max = *d;
    }
    if (auto it = value.find("jitter"); it != value.end()) {
      if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1) {
        Error(path + ".jitter", "must be a number from 0 to 1");
      } else {
        policy.jitter = it->get<double>();
      }
    }
    return policy;
  }

  ActivityDefinition Activity(const Json& value, const std::string& path) {
    ActivityDefinition a;
    if (!value.is_object()) {
      Error(path, std::string("an activity must be an object, not ") + JsonTypeName(value));
      return a;
    }
    a.id = String(value, "id", path + ".", true).value_or("");
    a.type = String(value, "type", path + ".", true).value_or("");
    // `name` is the display name, unless the type has an input called name (SetVariable,
    // SetOutput): then it is that input too, and `displayName` can name the activity instead.
    a.name = String(value, "name", path + ".", false).value_or("");
    if (auto it = value.find("name"); it != value.end()) a.inputs["name"] = *it;
    if (auto it = value.find("displayName"); it != value.end())
      a.name = String(value, "displayName", path + ".", false).value_or("");
    for (const auto& [key, field] : value.items()) {
      if (key == "id" || key == "type" || key == "name" || key == "displayName") continue;
      if (key == "retry") {
        a.retry = Retry(field, path + ".retry");
      } else if (key == "timeout") {
        // Either the activity's own timeout, or (WaitForEvent, HttpRequest) an input of that name;
        // the validator knows which and checks it. Kept raw in inputs either way.
        a.inputs["timeout"] = field;
        if (field.is_string() && field.get<std::string>().find("{{") == std::string::npos) {
          if (auto d = ParseDuration(field.get<std::string>()); d.ok()) a.timeout = *d;
        }
      } else if (key == "inputs" && field.is_object()) {
        for (const auto& [k, v] : field.items()) a.inputs[k] = v;
      } else {
        a.inputs[key] = field;
      }
    }
    return a;
  }

  Trigger TriggerAt(const Json& value, const std::string& path) {
    Trigger t;
    if (!value.is_object()) {
      Error(path, "a trigger must be an object such as {type: Webhook, path: orders}");
      return t;
    }
    t.type = String(value, "type", path + ".", true).value_or("");
    for (const auto& [k, v] : value.items()) {
      if (k != "type") t.config[k] = v;
    }
    if (t.type == "Webhook") {
      CheckKeys(t.config, {"path", "method", "response", "signature", "secret", "timeout"}, path + ".");
      auto p = String(t.config, "path", path + ".", true);
      if (p && p->find_first_of(" ?#") != std::string::npos)
        Error(path + ".path", "must not contain spaces, '?' or '#'");
    } else if (t.type == "Cron") {
      CheckKeys(t.config, {"schedule", "timezone", "misfire", "input"}, path + ".");
      auto schedule = String(t.config, "schedule", path + ".", true);
      auto tz = String(t.config, "timezone", path + ".", false).value_or("UTC");
      if (schedule) {
        auto parsed = CronSchedule::Parse(*schedule, tz);
        if (!parsed.ok()) Error(path + ".schedule", parsed.status().message());
      }
      if (auto m = t.config.find("misfire"); m != t.config.end() && *m != "skip" && *m != "catch-up") {
        Error(path + ".misfire", "must be 'skip' or 'catch-up'");
      }
    } else if (t.type == "Event") {
      CheckKeys(t.config, {"event", "correlation", "input"}, path + ".");
      String(t.config, "event", path + ".", true);
    } else if (!t.type.empty()) {
      Error(path + ".type", "unknown trigger type '" + t.type + "'" +
                                DidYouMean(t.type, {"Webhook", "Cron", "Event"}) +
                                " (known: Webhook, Cron, Event)");
    }
    return t;
  }

  void Inputs(const Json& value, WorkflowDefinition* def) {
    if (!value.is_object()) {
      Error("inputs", "must be an object mapping each input name to its declaration");
      return;
    }
    for (const auto& [name, decl] : value.items()) {
      std::string path = "inputs." + name;
      InputDeclaration in;
      in.name = name;
      if (decl.is_string()) {
        in.type = decl.get<std::string>();
      } else if (decl.is_object()) {
        CheckKeys(decl, {"type", "required", "default", "description"}, path + ".");
        if (auto t = decl.find("type"); t != decl.end()) {
          if (t->is_string())
            in.type = t->get<std::string>();
          else
            Error(path + ".type", "must be a string");
        }
        if (auto r = decl.find("required"); r != decl.end()) {
          if (r->is_boolean())
            in.required = r->get<bool>();
          else
            Error(path + ".required", "must be true or false");
        }
        if (auto d = decl.find("default"); d != decl.end()) in.default_value = *d;
        if (auto d = decl.find("description"); d != decl.end() && d->is_string()) in.description = *d;
      } else if (!decl.is_null()) {
        Error(path, "must be a type name or an object such as {type: string, required: true}");
        continue;
      }
      if (!IsKnownInputType(in.type)) {
        Error(path + ".type", "unknown input type '" + in.type +
                                  "' (known: string, number, integer, boolean, object, array, any)");
      } else if (in.default_value && !JsonMatchesType(*in.default_value, in.type)) {
        Error(path + ".default", "default value is " + std::string(JsonTypeName(*in.default_value)) +
                                     ", but the input's type is " + in.type);
      }
      if (in.required && in.default_value)
        Error(path + ".required", "a required input cannot have a default");
      def->inputs.push_back(std::move(in));
    }
  }

 private:
  std::vector<ValidationError>* errors_;
};

}  // namespace

bool IsKnownInputType(std::string_view t) {
  return t == "string" || t == "number" || t == "integer" || t == "boolean" || t == "object" ||
         t == "array" || t == "any";
}

bool JsonMatchesType(const Json& v, std::string_view t) {
  if (t == "any") return true;
  if (t == "string") return v.is_string();
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::abs(d) < 9.0e15 && d == std::floor(d);
  }
  if (t == "boolean") return v.is_boolean();
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  return false;
}

bool YamlToJson(std::string_view text, Json* out, std::string* error) {
  try {
    YAML::Node node = YAML::Load(std::string(text));
    size_t budget = kMaxNodes;
    *out = NodeToJson(node, 0, &budget);
    return true;
  } catch (const YAML::Exception& e) {
    if (error) {
      *error = e.mark.is_null() ? e.msg
                                : "line " + std::to_string(e.mark.line + 1) + ", column " +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg;
    }
    return false;
  }
}

WorkflowDefinition DefinitionFromJson(const Json& doc, std::vector<ValidationError>* errors) {
  Reader r(errors);
  WorkflowDefinition def;
  if (!doc.is_object()) {
    r.Error("", std::string("a workflow definition must be an object, not ") + JsonTypeName(doc));
    return def;
  }
  r.CheckKeys(doc,
              {"id", "name", "description", "version", "inputs", "variables", "triggers", "activities",
               "connections", "options"},
              "");
  def.id = r.String(doc, "id", "", false).value_or("");
  def.name = r.String(doc, "name", "", false).value_or("");
  def.description = r.String(doc, "description", "", false).value_or("");
  if (auto v = doc.find("version"); v != doc.end() && v->is_number_integer()) def.version = v->get<int>();
  if (auto it = doc.find("inputs"); it != doc.end() && !it->is_null()) r.Inputs(*it, &def);
  if (auto it = doc.find("variables"); it != doc.end() && !it->is_null()) {
    if (it->is_object())
      def.variables = *it;
    else
      r.Error("variables", "must be an object of name: initial value");
  }
  if (auto it = doc.find("triggers"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) {
      r.Error("triggers", "must be a list");
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        def.triggers.push_back(r.TriggerAt((*it)[i], "triggers[" + std::to_string(i) + "]"));
      }
    }
  }
  auto acts = doc.find("activities");
  if (acts == doc.end() || acts->is_null()) {
    r.Error("activities", "is required: a workflow needs at least one activity");
  } else if (!acts->is_array()) {
    r.Error("activities", "must be a list of activities");
  } else {
    if (acts->empty()) r.Error("activities", "must contain at least one activity");
    for (size_t i = 0; i < acts->size(); ++i) {
      def.activities.push_back(r.Activity((*acts)[i], "activities[" + std::to_string(i) + "]"));
    }
  }
  if (auto it = doc.find("connections"); it != doc.end() && !it->is_null()) {
    def.has_connections = true;
    if (!it->is_array()) {
      r.Error("connections", "must be a list of {from, outcome, to}");
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        std::string path = "connections[" + std::to_string(i) + "]";
        const Json& c = (*it)[i];
        if (!c.is_object()) {
          r.Error(path, "a connection must be an object such as {from: a, to: b}");
          continue;
        }
        r.CheckKeys(c, {"from", "to", "outcome"}, path + ".");
        Connection conn;
        conn.from = r.String(c, "from", path + ".", true).value_or("");
        conn.to = r.String(c, "to", path + ".", true).value_or("");
        conn.outcome = r.String(c, "outcome", path + ".", false).value_or("Done");
        def.connections.push_back(std::move(conn));
      }
    }
  }
  if (auto it = doc.find("options"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      r.Error("options", "must be an object");
    } else {
      r.CheckKeys(*it, {"maxExecutionTime", "commit"}, "options.");
      if (auto m = it->find("maxExecutionTime"); m != it->end()) {
        def.options.max_execution_time = r.Duration(*m, "options.maxExecutionTime");
      }
      if (auto c = it->find("commit"); c != it->end()) {
        if (*c == "activity") {
          def.options.commit_every_activity = true;
        } else if (*c != "effects") {
          r.Error("options.commit",
                  "must be 'effects' (commit after external effects, the default) or "
                  "'activity' (commit after every activity)");
        }
      }
    }
  }
  return def;
}

WorkflowDefinition ParseDefinition(std::string_view text, std::vector<ValidationError>* errors) {
  Json doc;
  std::string error;
  if (!YamlToJson(text, &doc, &error)) {
    errors->push_back({"", "not valid YAML or JSON: " + error});
    return {};
  }
  return DefinitionFromJson(doc, errors);
}

namespace {

Json RetryToJson(const RetryPolicy& p) {
  Json j = Json::object();
  j["maxAttempts"] = p.max_attempts;
  j["backoff"] = p.backoff == RetryPolicy::Backoff::kFixed ? "fixed" : "exponential";
  j["initial"] = FormatDuration(p.initial);
  j["max"] = FormatDuration(p.max);
  j["jitter"] = p.jitter;
  return j;
}

}  // namespace

Json DefinitionToJson(const WorkflowDefinition& def) {
  Json j = Json::object();
  if (!def.id.empty()) j["id"] = def.id;
  if (!def.name.empty()) j["name"] = def.name;
  if (!def.description.empty()) j["description"] = def.description;
  if (def.version > 0) j["version"] = def.version;
  if (!def.inputs.empty()) {
    Json inputs = Json::object();
    for (const auto& in : def.inputs) {
      Json d = {{"type", in.type}};
      if (in.required) d["required"] = true;
      if (in.default_value) d["default"] = *in.default_value;
      if (!in.description.empty()) d["description"] = in.description;
      inputs[in.name] = d;
    }
    j["inputs"] = inputs;
  }
  if (!def.variables.empty()) j["variables"] = def.variables;
  if (!def.triggers.empty()) {
    Json triggers = Json::array();
    for (const auto& t : def.triggers) {
      Json tj = {{"type", t.type}};
      for (const auto& [k, v] : t.config.items()) tj[k] = v;
      triggers.push_back(tj);
    }
    j["triggers"] = triggers;
  }
  Json acts = Json::array();
  for (const auto& a : def.activities) {
    Json aj = {{"id", a.id}, {"type", a.type}};
    if (!a.name.empty()) aj["name"] = a.name;
    for (const auto& [k, v] : a.inputs.items()) aj[k] = v;
    if (a.inputs.contains("name") && a.inputs["name"] != Json(a.name) && !a.name.empty())
      aj["displayName"] = a.name;
    if (a.retry) aj["retry"] = RetryToJson(*a.retry);
    acts.push_back(aj);
  }
  j["activities"] = acts;
  if (def.has_connections) {
    Json conns = Json::array();
    for (const auto& c : def.connections) {
      Json cj = {{"from", c.from}};
      if (c.outcome != "Done") cj["outcome"] = c.outcome;
      cj["to"] = c.to;
      conns.push_back(cj);
    }
    j["connections"] = conns;
  }
  if (def.options.max_execution_time) {
    j["options"]["maxExecutionTime"] = FormatDuration(*def.options.max_execution_time);
  }
  if (def.options.commit_every_activity) j["options"]["commit"] = "activity";
  return j;
}

}  // namespace trellis
