#include "activities/builtin.h"

namespace trellis {
namespace {

class RunWorkflow final : public Activity {
 public:
  const ActivityDescriptor& descriptor() const override {
    static const ActivityDescriptor d{
        .type = "RunWorkflow",
        .category = "Composition",
        .description =
            "Starts a child workflow (through the outbox, once this step commits). With wait, "
            "suspends until the child ends and outputs the child's output.",
        .inputs = {In("workflow", "string", true, nullptr, "the child's definition id"),
                   In("version", "integer", false, nullptr, "default: the latest published version"),
                   In("input", "object", false), In("wait", "boolean", false, true)},
        .outcomes = {"Done"},
        .output_description = "the child's output (with wait), else {instanceId}",
        .effect = ActivityEffect::kExternal,
        .suspends = true};
    return d;
  }

  ActivityResult Execute(ActivityContext& ctx) const override {
    std::string workflow = ctx.InputString("workflow");
    if (workflow.empty()) return ActivityResult::Fail("RunWorkflow needs a workflow id", false);
    const Json& input = ctx.input("input");
    if (!input.is_null() && !input.is_object()) {
      return ActivityResult::Fail("RunWorkflow input must be an object", false);
    }
    bool wait = ctx.input("wait").is_boolean() ? ctx.input("wait").get<bool>() : true;
    std::string child_id = ctx.NewId();
    std::string bookmark_id = wait ? ctx.NewId() : "";
    ctx.AddOutbox("startChild", {{"instanceId", child_id},
                                 {"workflow", workflow},
                                 {"version", ctx.input("version")},
                                 {"input", input.is_null() ? Json::object() : input},
                                 {"parentId", ctx.instance_id()},
                                 {"correlationId", ctx.state().correlation_id},
                                 {"wait", wait},
                                 {"bookmarkId", bookmark_id}});
    if (!wait) return ActivityResult::Done({{"instanceId", child_id}});
    Bookmark b;
    b.id = bookmark_id;
    b.kind = BookmarkKind::kChild;
    b.child_id = child_id;
    b.data = {{"workflow", workflow}};
    return ActivityResult::Suspend(std::move(b));
  }

  ActivityResult OnResume(ActivityContext&, const Resume& resume) const override {
    const Json& p = resume.payload;
    std::string status = p.value("status", "");
    if (status == "Completed") return ActivityResult::Done(p.value("output", Json::object()));
    std::string child = p.value("instanceId", "");
    std::string workflow = resume.data.value("workflow", "");
    return ActivityResult::Fail("child workflow '" + workflow + "' (" + child + ") ended " + status +
                                (p.contains("error") ? ": " + p.value("error", "") : ""));
  }
};

}  // namespace

std::unique_ptr<Activity> NewRunWorkflow() {
  return std::make_unique<RunWorkflow>();
}

}  // namespace trellis
