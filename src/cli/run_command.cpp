#include <CLI/CLI.hpp>

#include <iostream>

#include "activities/builtin.h"
#include "activities/curl_http_client.h"
#include "cli/commands.h"
#include "cli/definition_files.h"
#include "core/duration.h"

namespace trellis::cli {
namespace {

struct RunOptions {
  std::string file;
  std::string input;
  std::vector<std::string> events;
  std::vector<std::string> webhooks;
  std::vector<std::string> allow_hosts;
  std::string correlation_id;
  std::string wait_limit;
  bool fast_timers = false;
  std::string output = "text";
};

// "@file.json" reads a file; anything else is JSON text.
Result<Json> ReadJsonArg(const std::string& what, const std::string& arg) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') {
    auto file = ReadTextFile(arg.substr(1));
    if (!file.ok()) return InvalidArgument(what + ": " + file.status().message());
    text = std::move(file).value();
  }
  Json j;
  std::string error;
  if (!ParseJson(text, &j, &error)) return InvalidArgument(what + " is not valid JSON: " + error);
  return j;
}

// NAME[@CORRELATION]=JSON
Result<PendingEvent> ParseEventArg(const std::string& arg) {
  auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument("--event takes NAME=JSON or NAME@CORRELATION=JSON, got '" + arg + "'");
  }
  PendingEvent e;
  std::string key = arg.substr(0, eq);
  auto at = key.find('@');
  e.name = key.substr(0, at);
  if (at != std::string::npos) e.correlation = key.substr(at + 1);
  auto payload = ReadJsonArg("--event " + e.name, arg.substr(eq + 1));
  if (!payload.ok()) return payload.status();
  e.payload = std::move(payload).value();
  return e;
}

int ExitCodeFor(InstanceStatus s) {
  switch (s) {
    case InstanceStatus::kCompleted: return 0;
    case InstanceStatus::kFaulted: return 2;
    case InstanceStatus::kSuspended:
    case InstanceStatus::kRunning:
    case InstanceStatus::kPending: return 3;
    case InstanceStatus::kCancelled: return 4;
  }
  return 1;
}

Json BookmarksJson(const InstanceState& s) {
  Json out = Json::array();
  for (const auto& b : s.bookmarks) out.push_back(BookmarkSummaryToJson(b));
  return out;
}

Json IncidentsJson(const InstanceState& s) {
  Json out = Json::array();
  for (const auto& i : s.incidents) out.push_back(IncidentToJson(i));
  return out;
}

void PrintText(const LocalInstance& inst, const std::vector<PendingEvent>& undelivered) {
  const auto& s = inst.state;
  std::cout << "\n" << s.workflow_id << " " << s.id << ": " << InstanceStatusName(s.status) << "\n";
  if (!s.output.empty()) std::cout << "output: " << s.output.dump() << "\n";
  for (const auto& i : s.incidents) {
    std::cout << "incident: " << (i.activity_id.empty() ? "" : i.activity_id + ": ") << i.message << "\n";
  }
  for (const auto& b : s.bookmarks) {
    std::cout << "waiting: " << b.activity_id << " (" << BookmarkKindName(b.kind)
              << (b.event.empty() ? "" : " " + b.event) << ")\n";
  }
  for (const auto& e : undelivered) std::cout << "undelivered event: " << e.name << "\n";
  std::cout << "journal:\n";
  for (const auto& r : inst.journal) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(r.finished_at - r.started_at).count();
    std::cout << "  " << r.sequence << "  " << r.activity_id << "  " << r.activity_type << "  " << r.status;
    if (!r.outcome.empty()) std::cout << " -> " << r.outcome;
    if (r.attempt > 1) std::cout << "  (attempt " << r.attempt << ")";
    std::cout << "  " << us << "us";
    if (!r.error.empty()) std::cout << "  error: " << r.error;
    std::cout << "\n";
  }
}

int Run(const RunOptions& o) {
  if (o.output != "json" && o.output != "text") {
    std::cerr << "error: --output must be json or text\n";
    return 1;
  }
  LoadedDefinition loaded = LoadDefinitionFile(o.file);
  if (!loaded.workflow) {
    for (const auto& e : loaded.errors) {
      std::cerr << o.file << ":" << (e.path.empty() ? "(file)" : e.path) << ": " << e.message << "\n";
    }
    return 1;
  }
  StartOptions start;
  if (!o.input.empty()) {
    auto input = ReadJsonArg("--input", o.input);
    if (!input.ok()) {
      std::cerr << "error: " << input.status().message() << "\n";
      return 1;
    }
    start.input = std::move(input).value();
  }
  start.correlation_id = o.correlation_id;
  std::vector<PendingEvent> events;
  for (const auto& arg : o.events) {
    auto e = ParseEventArg(arg);
    if (!e.ok()) {
      std::cerr << "error: " << e.status().message() << "\n";
      return 1;
    }
    events.push_back(std::move(e).value());
  }
  std::optional<TimePoint> deadline;
  if (!o.wait_limit.empty()) {
    auto d = ParseDuration(o.wait_limit);
    if (!d.ok()) {
      std::cerr << "error: --wait-limit: " << d.status().message() << "\n";
      return 1;
    }
    deadline = SystemClock::Instance().Now() + *d;
  }
  auto guard = SsrfGuard::Create(o.allow_hosts);
  if (!guard.ok()) {
    std::cerr << "error: --allow-host: " << guard.status().message() << "\n";
    return 1;
  }
  auto http = NewCurlHttpClient(std::move(guard).value(), {});

  bool json = o.output == "json";
  EngineServices services;
  services.http = http.get();
  // With JSON output, stdout carries only the result document.
  services.write_line = [json](std::string_view text) {
    (json ? std::cerr : std::cout) << text << std::endl;
  };
  services.log = [](std::string_view level, std::string_view message) {
    std::cerr << "[" << level << "] " << message << "\n";
  };
  std::filesystem::path folder = std::filesystem::path(o.file).parent_path();
  LocalRunner runner(BuiltinActivities(), services, DirectoryResolver({folder.empty() ? "." : folder}),
                     o.fast_timers);
  auto id = runner.Start(loaded.workflow, std::move(start));
  if (!id.ok()) {
    std::cerr << "error: " << id.status().message() << "\n";
    return 1;
  }
  for (auto& e : events) runner.QueueEvent(std::move(e));
  for (const auto& w : o.webhooks) {
    auto eq = w.find('=');
    auto body = ReadJsonArg("--webhook", eq == std::string::npos ? "null" : w.substr(eq + 1));
    if (!body.ok()) {
      std::cerr << "error: " << body.status().message() << "\n";
      return 1;
    }
    runner.QueueWebhook(
        w.substr(0, eq), "POST",
        {{"method", "POST"}, {"headers", Json::object()}, {"query", Json::object()}, {"body", *body}});
  }
  runner.Run(deadline);

  const LocalInstance& inst = *runner.Find(*id);
  if (json) {
    Json journal = Json::array();
    for (const auto& r : inst.journal) journal.push_back(JournalRecordToJson(r));
    Json out = {{"id", inst.state.id},
                {"workflowId", inst.state.workflow_id},
                {"status", InstanceStatusName(inst.state.status)},
                {"output", inst.state.output},
                {"variables", inst.state.variables},
                {"incidents", IncidentsJson(inst.state)},
                {"bookmarks", BookmarksJson(inst.state)},
                {"journal", journal}};
    if (!inst.http_responses.empty()) out["httpResponses"] = inst.http_responses;
    if (!runner.undelivered_events().empty()) {
      Json names = Json::array();
      for (const auto& e : runner.undelivered_events()) names.push_back(e.name);
      out["undeliveredEvents"] = names;
    }
    std::cout << out.dump(2) << "\n";
  } else {
    PrintText(inst, runner.undelivered_events());
  }
  return ExitCodeFor(inst.state.status);
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd =
      app.add_subcommand("run",
                         "Run a workflow file in memory and print its result and journal.\n"
                         "Exit code: 0 Completed, 2 Faulted, 3 Suspended, 4 Cancelled, 1 invalid usage "
                         "or definition.");
  cmd->add_option("file", o->file, "the workflow definition (YAML or JSON)")->required();
  cmd->add_option("--input", o->input, "the workflow input: JSON text or @file.json");
  cmd->add_option(
      "--event", o->events,
      "deliver an event to a matching WaitForEvent: NAME=JSON or NAME@CORRELATION=JSON (repeatable)");
  cmd->add_option("--webhook", o->webhooks, "deliver a POST to a WaitForWebhook: PATH=JSON (repeatable)");
  cmd->add_flag("--fast-timers", o->fast_timers, "make timers due at once (in due order), so nothing waits");
  cmd->add_option("--output", o->output, "json | text")->default_val("text");
  cmd->add_option("--allow-host", o->allow_hosts,
                  "allow HttpRequest to a private/loopback host, IP or CIDR (repeatable)");
  cmd->add_option("--correlation-id", o->correlation_id, "the instance's correlation id");
  cmd->add_option("--wait-limit", o->wait_limit, "stop waiting for real timers after this long (e.g. 30s)");
  cmd->callback([o, exit_code] { *exit_code = Run(*o); });
}

}  // namespace trellis::cli
