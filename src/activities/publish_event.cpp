#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewPublishEvent() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "PublishEvent",
                         .category = "Events",
                         .description =
                             "Publishes an event: it resumes matching WaitForEvent bookmarks and starts "
                             "workflows with an Event trigger. Delivered through the outbox once the "
                             "step commits.",
                         .inputs = {In("event", "string", true), In("correlation", "string", false),
                                    In("payload", "any", false)},
                         .outcomes = {"Done"},
                         .effect = ActivityEffect::kExternal},
      [](ActivityContext& ctx) {
        std::string event = ctx.InputString("event");
        if (event.empty()) return ActivityResult::Fail("PublishEvent needs an event name", false);
        ctx.AddOutbox("publishEvent", {{"event", event},
                                       {"correlation", ctx.InputString("correlation")},
                                       {"payload", ctx.input("payload")},
                                       {"sourceInstanceId", ctx.instance_id()}});
        return ActivityResult::Done();
      });
}

std::unique_ptr<Activity> NewHttpResponse() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "HttpResponse",
                         .category = "HTTP",
                         .description = "Answers the webhook request that started this instance.",
                         .inputs = {In("status", "integer", false, 200), In("headers", "object", false),
                                    In("body", "any", false)},
                         .outcomes = {"Done"},
                         .effect = ActivityEffect::kExternal},
      [](ActivityContext& ctx) {
        const Json& status = ctx.input("status");
        if (!status.is_number_integer() || status.get<int64_t>() < 100 || status.get<int64_t>() > 599) {
          return ActivityResult::Fail("HttpResponse status must be an integer from 100 to 599", false);
        }
        const Json& headers = ctx.input("headers");
        if (!headers.is_null() && !headers.is_object()) {
          return ActivityResult::Fail("HttpResponse headers must be an object", false);
        }
        ctx.AddOutbox("httpResponse", {{"status", status},
                                       {"headers", headers.is_null() ? Json::object() : headers},
                                       {"body", ctx.input("body")}});
        return ActivityResult::Done();
      });
}

}  // namespace trellis
