#include "engine/instance_state.h"

#include <array>

namespace trellis {
namespace {

constexpr std::array<const char*, 6> kStatusNames = {"Pending",   "Running", "Suspended",
                                                     "Completed", "Faulted", "Cancelled"};
constexpr std::array<const char*, 5> kBookmarkNames = {"Timer", "Event", "Webhook", "Child", "Retry"};
constexpr std::array<const char*, 4> kReasonNames = {"Timer", "Event", "Webhook", "Child"};

template <typename E, size_t N>
std::optional<E> FromName(const std::array<const char*, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

Json Time(const std::optional<TimePoint>& t) {
  return t ? Json(FormatTime(*t)) : Json();
}

// Reads fields and remembers the first problem, so that FromJson reports one clear error.
class Reader {
 public:
  Status status;

  std::optional<TimePoint> OptTime(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return Fail<TimePoint>(key);
    auto t = ParseTime(it->get<std::string>());
    if (!t.ok()) return Fail<TimePoint>(key);
    return *t;
  }
  TimePoint Time(const Json& j, const char* key) { return OptTime(j, key).value_or(TimePoint{}); }
  std::string Str(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    if (!it->is_string()) return Fail<std::string>(key).value_or("");
    return it->get<std::string>();
  }
  int64_t Int(const Json& j, const char* key, int64_t fallback = 0) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) return Fail<int64_t>(key).value_or(fallback);
    return it->get<int64_t>();
  }
  Json Any(const Json& j, const char* key, Json fallback = nullptr) {
    auto it = j.find(key);
    return it == j.end() ? fallback : *it;
  }
  int Activity(const Json& j, const char* key, const std::vector<std::string>& ids) {
    std::string id = Str(j, key);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return static_cast<int>(i);
    }
    if (status.ok())
      status = InvalidArgument("state names activity '" + id + "', which the definition does not have");
    return -1;
  }

 private:
  template <typename T>
  std::optional<T> Fail(const char* key) {
    if (status.ok()) status = InvalidArgument(std::string("state field '") + key + "' is malformed");
    return std::nullopt;
  }
};

Json TokenToJson(const Token& t, const std::vector<std::string>& ids) {
  Json j = {{"id", t.id},
            {"activity", ids.at(static_cast<size_t>(t.activity))},
            {"scope", t.scope},
            {"attempt", t.attempt},
            {"via", t.via}};
  if (t.started_at) j["startedAt"] = FormatTime(*t.started_at);
  if (t.resume) {
    j["resume"] = {{"reason", ResumeReasonName(t.resume->reason)},
                   {"payload", t.resume->payload},
                   {"data", t.resume->data},
                   {"bookmarkId", t.resume->bookmark_id}};
  }
  return j;
}

Token TokenFromJson(const Json& j, const std::vector<std::string>& ids, Reader& r) {
  Token t;
  t.id = static_cast<uint64_t>(r.Int(j, "id"));
  t.activity = r.Activity(j, "activity", ids);
  t.scope = static_cast<uint64_t>(r.Int(j, "scope"));
  t.attempt = static_cast<int>(r.Int(j, "attempt", 1));
  t.via = static_cast<int>(r.Int(j, "via", -1));
  t.started_at = r.OptTime(j, "startedAt");
  if (auto it = j.find("resume"); it != j.end() && it->is_object()) {
    Resume res;
    auto reason = FromName<ResumeReason>(kReasonNames, r.Str(*it, "reason"));
    if (!reason && r.status.ok()) r.status = InvalidArgument("unknown resume reason");
    res.reason = reason.value_or(ResumeReason::kTimer);
    res.payload = r.Any(*it, "payload");
    res.data = r.Any(*it, "data");
    res.bookmark_id = r.Str(*it, "bookmarkId");
    t.resume = std::move(res);
  }
  return t;
}

}  // namespace

const char* InstanceStatusName(InstanceStatus s) {
  return kStatusNames[static_cast<size_t>(s)];
}
std::optional<InstanceStatus> ParseInstanceStatus(std::string_view s) {
  return FromName<InstanceStatus>(kStatusNames, s);
}
const char* BookmarkKindName(BookmarkKind k) {
  return kBookmarkNames[static_cast<size_t>(k)];
}
const char* ResumeReasonName(ResumeReason r) {
  return kReasonNames[static_cast<size_t>(r)];
}

Json IncidentToJson(const Incident& i) {
  return {{"activityId", i.activity_id},
          {"activityType", i.activity_type},
          {"kind", i.kind},
          {"message", i.message},
          {"attempt", i.attempt},
          {"at", FormatTime(i.at)}};
}

Json BookmarkSummaryToJson(const Bookmark& b) {
  Json j = {{"id", b.id}, {"kind", BookmarkKindName(b.kind)}, {"activityId", b.activity_id}};
  if (!b.event.empty()) j["event"] = b.event;
  if (!b.correlation.empty()) j["correlation"] = b.correlation;
  if (!b.path.empty()) j["path"] = b.path;
  if (!b.method.empty()) j["method"] = b.method;
  if (b.due_at) j["dueAt"] = FormatTime(*b.due_at);
  if (b.deadline) j["deadline"] = FormatTime(*b.deadline);
  if (!b.child_id.empty()) j["childId"] = b.child_id;
  return j;
}

Json JournalRecordToJson(const JournalRecord& r) {
  Json j = {{"sequence", r.sequence},
            {"activityId", r.activity_id},
            {"type", r.activity_type},
            {"status", r.status},
            {"attempt", r.attempt},
            {"startedAt", FormatTime(r.started_at)},
            {"finishedAt", FormatTime(r.finished_at)}};
  if (!r.outcome.empty()) j["outcome"] = r.outcome;
  if (!r.error.empty())
    j["error"] = r.error;
  else if (!r.output.is_null())
    j["output"] = r.output;
  return j;
}

Json StateToJson(const InstanceState& s, const std::vector<std::string>& ids) {
  Json ready = Json::array();
  for (size_t i = s.ready_head; i < s.ready.size(); ++i) ready.push_back(TokenToJson(s.ready[i], ids));
  Json bookmarks = Json::array();
  for (const auto& b : s.bookmarks) {
    Json bj = BookmarkSummaryToJson(b);
    if (!b.data.is_null()) bj["data"] = b.data;
    bj["createdAt"] = FormatTime(b.created_at);
    bj["token"] = TokenToJson(b.token, ids);
    bookmarks.push_back(std::move(bj));
  }
  Json frames = Json::array();
  for (const auto& [id, f] : s.frames) {
    Json fj = {{"id", f.id},
               {"parent", f.parent},
               {"kind", f.kind == Frame::Kind::kLoop ? "loop" : "iteration"},
               {"owner", ids.at(static_cast<size_t>(f.owner))},
               {"live", f.live}};
    if (f.kind == Frame::Kind::kLoop) {
      fj.update({{"while", f.is_while},
                 {"items", f.items},
                 {"next", f.next},
                 {"parallel", f.parallel},
                 {"active", f.active},
                 {"maxIterations", f.max_iterations},
                 {"attempt", f.attempt},
                 {"startedAt", FormatTime(f.started_at)},
                 {"as", f.item}});
    } else {
      fj.update({{"var", f.var_name}, {"item", f.item}, {"index", f.index}, {"outputs", f.outputs}});
    }
    frames.push_back(std::move(fj));
  }
  Json joins = Json::array();
  for (const auto& js : s.joins) {
    joins.push_back({{"activity", ids.at(static_cast<size_t>(js.activity))},
                     {"scope", js.scope},
                     {"arrived", js.arrived}});
  }
  Json incidents = Json::array();
  for (const auto& i : s.incidents) incidents.push_back(IncidentToJson(i));
  Json j = {{"id", s.id},
            {"workflowId", s.workflow_id},
            {"version", s.version},
            {"status", InstanceStatusName(s.status)},
            {"input", s.input},
            {"output", s.output},
            {"variables", s.variables},
            {"outputs", s.outputs},
            {"correlationId", s.correlation_id},
            {"parentId", s.parent_id},
            {"createdAt", FormatTime(s.created_at)},
            {"updatedAt", FormatTime(s.updated_at)},
            {"finishedAt", Time(s.finished_at)},
            {"deadline", Time(s.deadline)},
            {"ready", ready},
            {"bookmarks", bookmarks},
            {"frames", frames},
            {"joins", joins},
            {"rootLive", s.root_live},
            {"nextTokenId", s.next_token_id},
            {"nextFrameId", s.next_frame_id},
            {"journalSequence", s.journal_sequence},
            {"incidents", incidents},
            {"faultMessage", s.fault_message}};
  if (s.faulted_token) j["faultedToken"] = TokenToJson(*s.faulted_token, ids);
  if (!s.traceparent.empty()) j["traceparent"] = s.traceparent;
  return j;
}

namespace {

Result<InstanceState> ReadState(const Json& j, const std::vector<std::string>& ids);

// Every scope a token, bookmark, frame or join names must exist, or the engine would fault later.
Status CheckScopes(const InstanceState& s) {
  auto known = [&](uint64_t scope) { return scope == 0 || s.frames.contains(scope); };
  for (size_t i = s.ready_head; i < s.ready.size(); ++i) {
    if (!known(s.ready[i].scope))
      return InvalidArgument("state has a token in unknown scope " + std::to_string(s.ready[i].scope));
  }
  for (const auto& b : s.bookmarks) {
    if (!known(b.token.scope))
      return InvalidArgument("state has a bookmark in unknown scope " + std::to_string(b.token.scope));
  }
  for (const auto& [id, f] : s.frames) {
    if (!known(f.parent)) return InvalidArgument("state has a frame whose parent scope is unknown");
  }
  for (const auto& js : s.joins) {
    if (!known(js.scope)) return InvalidArgument("state has a join in unknown scope");
  }
  if (s.faulted_token && !known(s.faulted_token->scope))
    return InvalidArgument("state has a faulted token in unknown scope");
  return Status::Ok();
}

}  // namespace

Result<InstanceState> StateFromJson(const Json& j, const std::vector<std::string>& ids) {
  // The reader checks what it reads; a value of the wrong type deep inside (a stored state that
  // was edited or corrupted) surfaces as a JSON type error, which is reported, never thrown.
  try {
    auto s = ReadState(j, ids);
    if (!s.ok()) return s;
    Status scopes = CheckScopes(*s);
    if (!scopes.ok()) return scopes;
    return s;
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string("instance state is malformed: ") + e.what());
  }
}

namespace {

Result<InstanceState> ReadState(const Json& j, const std::vector<std::string>& ids) {
  if (!j.is_object()) return InvalidArgument("instance state must be a JSON object");
  Reader r;
  InstanceState s;
  s.id = r.Str(j, "id");
  s.workflow_id = r.Str(j, "workflowId");
  s.version = static_cast<int>(r.Int(j, "version"));
  auto status = ParseInstanceStatus(r.Str(j, "status"));
  if (!status) return InvalidArgument("instance state has an unknown status");
  s.status = *status;
  s.input = r.Any(j, "input", Json::object());
  s.output = r.Any(j, "output", Json::object());
  s.variables = r.Any(j, "variables", Json::object());
  s.outputs = r.Any(j, "outputs", Json::object());
  if (!s.input.is_object() || !s.variables.is_object() || !s.outputs.is_object()) {
    return InvalidArgument("state fields 'input', 'variables' and 'outputs' must be objects");
  }
  s.correlation_id = r.Str(j, "correlationId");
  s.parent_id = r.Str(j, "parentId");
  s.traceparent = r.Str(j, "traceparent");  // absent in states written before tracing
  s.created_at = r.Time(j, "createdAt");
  s.updated_at = r.Time(j, "updatedAt");
  s.finished_at = r.OptTime(j, "finishedAt");
  s.deadline = r.OptTime(j, "deadline");
  for (const auto& t : r.Any(j, "ready", Json::array())) s.ready.push_back(TokenFromJson(t, ids, r));
  for (const auto& bj : r.Any(j, "bookmarks", Json::array())) {
    Bookmark b;
    b.id = r.Str(bj, "id");
    auto kind = FromName<BookmarkKind>(kBookmarkNames, r.Str(bj, "kind"));
    if (!kind) return InvalidArgument("instance state has a bookmark of unknown kind");
    b.kind = *kind;
    b.activity_id = r.Str(bj, "activityId");
    b.due_at = r.OptTime(bj, "dueAt");
    b.deadline = r.OptTime(bj, "deadline");
    b.event = r.Str(bj, "event");
    b.correlation = r.Str(bj, "correlation");
    b.path = r.Str(bj, "path");
    b.method = r.Str(bj, "method");
    b.child_id = r.Str(bj, "childId");
    b.data = r.Any(bj, "data");
    b.created_at = r.Time(bj, "createdAt");
    b.token = TokenFromJson(r.Any(bj, "token", Json::object()), ids, r);
    s.bookmarks.push_back(std::move(b));
  }
  for (const auto& fj : r.Any(j, "frames", Json::array())) {
    Frame f;
    f.id = static_cast<uint64_t>(r.Int(fj, "id"));
    f.parent = static_cast<uint64_t>(r.Int(fj, "parent"));
    f.kind = r.Str(fj, "kind") == "loop" ? Frame::Kind::kLoop : Frame::Kind::kIteration;
    f.owner = r.Activity(fj, "owner", ids);
    f.live = static_cast<int>(r.Int(fj, "live"));
    if (f.kind == Frame::Kind::kLoop) {
      f.is_while = r.Any(fj, "while", false).get<bool>();
      f.items = r.Any(fj, "items");
      f.next = r.Int(fj, "next");
      f.parallel = r.Int(fj, "parallel", 1);
      f.active = r.Int(fj, "active");
      f.max_iterations = r.Int(fj, "maxIterations");
      f.attempt = static_cast<int>(r.Int(fj, "attempt", 1));
      f.started_at = r.Time(fj, "startedAt");
      f.item = r.Any(fj, "as");
      bool bad = f.next < 0 || f.active < 0 || f.parallel < 1 || f.live < 0 ||
                 (!f.is_while && (!f.items.is_array() || f.next > static_cast<int64_t>(f.items.size())));
      if (bad) return InvalidArgument("state has a loop frame with an impossible position");
    } else {
      f.var_name = r.Str(fj, "var");
      f.item = r.Any(fj, "item");
      f.index = r.Any(fj, "index");
      f.outputs = r.Any(fj, "outputs", Json::object());
      if (!f.outputs.is_object())
        return InvalidArgument("state field 'outputs' of a frame must be an object");
    }
    s.frames.emplace(f.id, std::move(f));
  }
  for (const auto& jj : r.Any(j, "joins", Json::array())) {
    JoinState js;
    js.activity = r.Activity(jj, "activity", ids);
    js.scope = static_cast<uint64_t>(r.Int(jj, "scope"));
    for (const auto& c : r.Any(jj, "arrived", Json::array())) js.arrived.push_back(c.get<int>());
    s.joins.push_back(std::move(js));
  }
  s.root_live = static_cast<int>(r.Int(j, "rootLive"));
  s.next_token_id = static_cast<uint64_t>(r.Int(j, "nextTokenId", 1));
  s.next_frame_id = static_cast<uint64_t>(r.Int(j, "nextFrameId", 1));
  s.journal_sequence = static_cast<uint64_t>(r.Int(j, "journalSequence"));
  for (const auto& ij : r.Any(j, "incidents", Json::array())) {
    Incident inc;
    inc.activity_id = r.Str(ij, "activityId");
    inc.activity_type = r.Str(ij, "activityType");
    inc.kind = r.Str(ij, "kind");
    inc.message = r.Str(ij, "message");
    inc.attempt = static_cast<int>(r.Int(ij, "attempt"));
    inc.at = r.Time(ij, "at");
    s.incidents.push_back(std::move(inc));
  }
  s.fault_message = r.Str(j, "faultMessage");
  if (auto it = j.find("faultedToken"); it != j.end() && it->is_object())
    s.faulted_token = TokenFromJson(*it, ids, r);
  if (!r.status.ok()) return r.status;
  return s;
}

}  // namespace
}  // namespace trellis
