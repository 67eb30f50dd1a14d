#include "activities/builtin.h"

namespace trellis {
namespace {

class WaitForEvent final : public Activity {
 public:
  const ActivityDescriptor& descriptor() const override {
    static const ActivityDescriptor d{
        .type = "WaitForEvent",
        .category = "Events",
        .description =
            "Suspends until an event with this name (and correlation, when given) arrives, or "
            "the timeout passes.",
        .inputs = {In("event", "string", true), In("correlation", "string", false),
                   In("timeout", "duration", false, nullptr, "Timeout follows when it passes first")},
        .outcomes = {"Done", "Timeout"},
        .output_description = "the event payload",
        .suspends = true};
    return d;
  }

  ActivityResult Execute(ActivityContext& ctx) const override {
    Bookmark b;
    b.kind = BookmarkKind::kEvent;
    b.event = ctx.InputString("event");
    if (b.event.empty()) return ActivityResult::Fail("WaitForEvent needs an event name", false);
    b.correlation = ctx.InputString("correlation");
    if (!ctx.input("timeout").is_null()) {
      auto d = ctx.InputDuration("timeout");
      if (!d.ok()) return ActivityResult::Fail(d.status().message(), false);
      b.due_at = ctx.now() + *d;
    }
    return ActivityResult::Suspend(std::move(b));
  }

  ActivityResult OnResume(ActivityContext&, const Resume& resume) const override {
    if (resume.reason == ResumeReason::kTimer) return ActivityResult::Outcome("Timeout");
    return ActivityResult::Done(resume.payload);
  }
};

class WaitForWebhook final : public Activity {
 public:
  const ActivityDescriptor& descriptor() const override {
    static const ActivityDescriptor d{
        .type = "WaitForWebhook",
        .category = "HTTP",
        .description = "Suspends until a request arrives at /hooks/{path}.",
        .inputs = {In("path", "string", true), In("method", "string", false, "POST", "or ANY")},
        .outcomes = {"Done"},
        .output_description = "{method, headers, query, body}",
        .suspends = true};
    return d;
  }

  ActivityResult Execute(ActivityContext& ctx) const override {
    Bookmark b;
    b.kind = BookmarkKind::kWebhook;
    b.path = ctx.InputString("path");
    while (!b.path.empty() && b.path.front() == '/') b.path.erase(0, 1);
    if (b.path.empty()) return ActivityResult::Fail("WaitForWebhook needs a path", false);
    b.method = ctx.InputString("method", "POST");
    return ActivityResult::Suspend(std::move(b));
  }
};

}  // namespace

std::unique_ptr<Activity> NewWaitForEvent() {
  return std::make_unique<WaitForEvent>();
}
std::unique_ptr<Activity> NewWaitForWebhook() {
  return std::make_unique<WaitForWebhook>();
}

}  // namespace trellis
