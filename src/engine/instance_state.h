// The complete state of one workflow instance: everything needed to continue it in another process
// after a crash. It serialises to JSON and back losslessly (ToJson/FromJson), so the runtime can
// persist it at every commit point. The journal is not part of the state: the engine appends
// records to `journal` and the host drains them into its store.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "observability/tracing.h"

namespace trellis {

enum class InstanceStatus { kPending, kRunning, kSuspended, kCompleted, kFaulted, kCancelled };
const char* InstanceStatusName(InstanceStatus s);
std::optional<InstanceStatus> ParseInstanceStatus(std::string_view s);
inline bool IsTerminal(InstanceStatus s) {
  return s == InstanceStatus::kCompleted || s == InstanceStatus::kFaulted || s == InstanceStatus::kCancelled;
}

enum class BookmarkKind { kTimer, kEvent, kWebhook, kChild, kRetry };
const char* BookmarkKindName(BookmarkKind k);

// Why a suspended activity continues.
enum class ResumeReason { kTimer, kEvent, kWebhook, kChild };
const char* ResumeReasonName(ResumeReason r);

struct Resume {
  ResumeReason reason = ResumeReason::kTimer;
  Json payload;  // the event payload, webhook request, or child result
  Json data;     // what the activity stored in its bookmark
  std::string bookmark_id;
};

// A pending activity execution: the unit the scheduler runs.
struct Token {
  uint64_t id = 0;
  int activity = -1;   // index into the compiled workflow's activities
  uint64_t scope = 0;  // 0 is the instance; otherwise a loop iteration frame
  int attempt = 1;
  int via = -1;                         // the connection it arrived by (for joins); -1 for a start token
  std::optional<TimePoint> started_at;  // when this attempt began (kept across a suspension)
  std::optional<Resume> resume;         // set when continuing a suspended activity
};

struct Bookmark {
  std::string id;
  BookmarkKind kind = BookmarkKind::kTimer;
  std::string activity_id;
  std::optional<TimePoint> due_at;    // a timer: Delay, WaitUntil, WaitForEvent timeout, retry backoff
  std::optional<TimePoint> deadline;  // the activity's own `timeout`
  std::string event;                  // kEvent: event name
  std::string correlation;            // kEvent: optional correlation
  std::string path;                   // kWebhook
  std::string method;                 // kWebhook
  std::string child_id;               // kChild
  Json data;                          // activity-private
  TimePoint created_at{};
  Token token;  // the suspended token
};

// A loop (ForEach/While) in progress, or one of its iterations.
struct Frame {
  enum class Kind { kLoop, kIteration };
  uint64_t id = 0;
  uint64_t parent = 0;  // the scope the loop activity ran in (for a loop) or the loop frame (iteration)
  Kind kind = Kind::kLoop;
  int owner = -1;  // the loop activity's index
  int live = 0;    // iteration: tokens, bookmarks and nested loops still running inside it
  // kLoop
  bool is_while = false;
  Json items;        // ForEach items
  int64_t next = 0;  // next item index / While iteration count
  int64_t parallel = 1;
  int64_t active = 0;  // iterations running
  int64_t max_iterations = 0;
  int attempt = 1;
  TimePoint started_at{};
  // kIteration
  std::string var_name;  // `as` name for ForEach
  Json item;
  Json index;
  Json outputs = Json::object();  // outputs of activities that ran in this iteration
};

struct Incident {
  std::string activity_id;
  std::string activity_type;
  std::string kind;  // ActivityFaulted, Timeout, MaxExecutionTime, ...
  std::string message;
  int attempt = 0;
  TimePoint at{};
};

struct JournalRecord {
  uint64_t sequence = 0;
  std::string activity_id;
  std::string activity_type;
  int attempt = 1;
  std::string status;   // Completed, Faulted, Cancelled
  std::string outcome;  // the outcomes it took, comma-separated
  TimePoint started_at{};
  TimePoint finished_at{};
  Json output;        // null when none
  std::string error;  // when Faulted
};
Json JournalRecordToJson(const JournalRecord& r);
// What users see of incidents and bookmarks (the CLI and the API).
Json IncidentToJson(const Incident& i);
Json BookmarkSummaryToJson(const Bookmark& b);

struct OutboxItem {
  std::string kind;  // startChild, cancelChild, publishEvent, httpResponse
  Json payload;
};

struct JoinState {
  int activity = -1;
  uint64_t scope = 0;
  std::vector<int> arrived;  // inbound connection indices that delivered a token
};

struct InstanceState {
  std::string id;
  std::string workflow_id;
  int version = 0;
  InstanceStatus status = InstanceStatus::kPending;
  Json input = Json::object();
  Json output = Json::object();
  Json variables = Json::object();
  Json outputs = Json::object();  // activity id -> latest output
  std::string correlation_id;
  std::string parent_id;
  // The W3C traceparent of the instance's start span: every burst, on any worker and after any
  // suspension, is its child, so the instance stays one trace. "" when started with tracing off.
  std::string traceparent;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> finished_at;
  std::optional<TimePoint> deadline;  // from maxExecutionTime

  std::vector<Token> ready;  // FIFO: ready[ready_head..] are pending
  size_t ready_head = 0;
  std::vector<Bookmark> bookmarks;
  std::map<uint64_t, Frame> frames;
  std::vector<JoinState> joins;
  int root_live = 0;
  uint64_t next_token_id = 1;
  uint64_t next_frame_id = 1;
  uint64_t journal_sequence = 0;
  std::vector<Incident> incidents;
  std::optional<Token> faulted_token;  // what Retry resumes from
  std::string fault_message;
  bool cancel_requested = false;

  // Not persisted with the state: drained by the host after each burst.
  std::vector<JournalRecord> journal;
  std::vector<OutboxItem> outbox;
  // Not persisted: the host's span for the current burst; activity spans are its children.
  TraceContext trace;

  size_t ready_count() const { return ready.size() - ready_head; }
};

// `activity_ids` maps token activity indices to ids and back; the compiled workflow provides it.
Json StateToJson(const InstanceState& s, const std::vector<std::string>& activity_ids);
Result<InstanceState> StateFromJson(const Json& j, const std::vector<std::string>& activity_ids);

}  // namespace trellis
