#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewDelay() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "Delay",
                         .category = "Timers",
                         .description = "Suspends for a duration on a durable timer.",
                         .inputs = {In("duration", "duration", true, nullptr, "e.g. 30s, 5m, PT1H")},
                         .outcomes = {"Done"},
                         .suspends = true},
      [](ActivityContext& ctx) {
        auto d = ctx.InputDuration("duration");
        if (!d.ok()) return ActivityResult::Fail(d.status().message(), false);
        if (d->count() < 0) return ActivityResult::Fail("Delay duration must not be negative", false);
        Bookmark b;
        b.kind = BookmarkKind::kTimer;
        b.due_at = ctx.now() + *d;
        return ActivityResult::Suspend(std::move(b));
      });
}

std::unique_ptr<Activity> NewWaitUntil() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{
          .type = "WaitUntil",
          .category = "Timers",
          .description = "Suspends until a point in time (RFC 3339); continues at once if it has passed.",
          .inputs = {In("at", "string", true, nullptr, "e.g. 2026-12-24T18:00:00Z")},
          .outcomes = {"Done"},
          .suspends = true},
      [](ActivityContext& ctx) {
        auto at = ParseTime(ctx.InputString("at"));
        if (!at.ok()) return ActivityResult::Fail("WaitUntil: " + at.status().message(), false);
        if (*at <= ctx.now()) return ActivityResult::Done();
        Bookmark b;
        b.kind = BookmarkKind::kTimer;
        b.due_at = *at;
        return ActivityResult::Suspend(std::move(b));
      });
}

}  // namespace trellis
