// The CLI's contract: exit codes, error output for bad definitions and usage, and help.
#include <gtest/gtest.h>

#include <fstream>

#include "core/json.h"
#include "support/subprocess.h"

namespace trellis {
namespace {

using testing::RunProcess;

class CliTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    auto path =
        std::filesystem::temp_directory_path() / ("trellis-cli-" + std::to_string(getpid()) + "-" + name);
    std::ofstream(path) << text;
    files_.push_back(path);
    return path.string();
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }
  std::vector<std::filesystem::path> files_;
};

TEST_F(CliTest, ValidatePrintsEveryErrorWithFileAndPathAndExitsOne) {
  std::string bad = Write("bad.yaml", R"(
id: bad
activities:
  - {id: a, type: WriteLin, text: hi}
  - {id: a, type: HttpRequest}
  - {id: c, type: If, condition: "{{ 1 + }}"}
  - {id: d, type: Delay, duration: 5 minutes}
connections:
  - {from: c, outcome: Maybe, to: d}
  - {from: c, to: nowhere}
triggers:
  - {type: Cron, schedule: "61 * * * *"}
)");
  auto r = RunProcess({TRELLIS_BINARY, "validate", bad});
  EXPECT_EQ(r.exit_code, 1);
  for (const char* expected :
       {":activities[0].type: unknown activity type 'WriteLin', did you mean 'WriteLine'?",
        ":activities[1].id: duplicate activity id 'a'",
        ":activities[1].inputs.url: is required for HttpRequest",
        ":activities[2].inputs.condition:", ":activities[3].inputs.duration:",
        ":connections[0].outcome: activity 'c' (If) has no outcome 'Maybe'",
        ":connections[1].to: unknown activity id 'nowhere'", ":triggers[0].schedule:"}) {
    EXPECT_NE(r.out.find(bad + expected), std::string::npos) << "missing: " << expected << "\n" << r.out;
  }
}

TEST_F(CliTest, ValidateExitsZeroForGoodFiles) {
  std::string good = Write("good.json", R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  auto r = RunProcess({TRELLIS_BINARY, "validate", good});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, ValidateReportsSyntaxErrorsWithTheLine) {
  std::string broken = Write("broken.yaml", "id: x\nactivities:\n  - {id: a, type: Noop\n");
  auto r = RunProcess({TRELLIS_BINARY, "validate", broken});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("line "), std::string::npos) << r.out;
}

TEST_F(CliTest, RunShortFormPrintsTheLineAndCompletes) {
  std::string seed = Write("seed.json", R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  auto r = RunProcess({TRELLIS_BINARY, "run", seed});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Hello\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Completed"), std::string::npos);
}

TEST_F(CliTest, RunJsonHasTheDocumentedFields) {
  std::string f = Write("wait.yaml", R"(
activities:
  - {id: w, type: WaitForEvent, event: go}
  - {id: out, type: SetOutput, name: got, value: "{{ outputs.w.n }}"}
)");
  auto r = RunProcess({TRELLIS_BINARY, "run", f, "--output", "json"});
  EXPECT_EQ(r.exit_code, 3);
  Json j;
  ASSERT_TRUE(ParseJson(r.out, &j, nullptr)) << r.out;
  for (const char* key : {"id", "status", "output", "variables", "incidents", "bookmarks", "journal"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["status"], "Suspended");
  ASSERT_EQ(j["bookmarks"].size(), 1u);
  EXPECT_EQ(j["bookmarks"][0]["event"], "go");

  r = RunProcess({TRELLIS_BINARY, "run", f, "--output", "json", "--event", R"(go={"n":7})"});
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_TRUE(ParseJson(r.out, &j, nullptr)) << r.out;
  EXPECT_EQ(j["output"]["got"], 7);
  ASSERT_EQ(j["journal"].size(), 2u);
  for (const char* key : {"activityId", "type", "attempt", "status", "startedAt", "finishedAt"}) {
    EXPECT_TRUE(j["journal"][0].contains(key)) << key;
  }
}

TEST_F(CliTest, RunInputFromFile) {
  std::string input = Write("input.json", R"({"name":"file"})");
  auto r = RunProcess({TRELLIS_BINARY, "run", std::string(TRELLIS_SOURCE_DIR) + "/examples/hello.yaml",
                       "--input", "@" + input, "--output", "json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Hello, file!"), std::string::npos) << r.out;
}

TEST_F(CliTest, BadUsageExitsOneWithAMessage) {
  auto r = RunProcess({TRELLIS_BINARY, "run"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("file"), std::string::npos) << r.err;
  r = RunProcess({TRELLIS_BINARY, "run", "/nonexistent/x.yaml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
  r = RunProcess(
      {TRELLIS_BINARY, "run", std::string(TRELLIS_SOURCE_DIR) + "/examples/hello.yaml", "--input", "{x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  r = RunProcess(
      {TRELLIS_BINARY, "run", std::string(TRELLIS_SOURCE_DIR) + "/examples/hello.yaml", "--event", "nojson"});
  EXPECT_EQ(r.exit_code, 1);
  r = RunProcess({TRELLIS_BINARY, "frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(CliTest, HelpOnEveryCommand) {
  for (const char* cmd : {"run", "validate", "activities", "version"}) {
    auto r = RunProcess({TRELLIS_BINARY, cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << ": " << r.out;
  }
}

TEST_F(CliTest, VersionAndActivities) {
  auto r = RunProcess({TRELLIS_BINARY, "version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("trellis ", 0), 0u);
  r = RunProcess({TRELLIS_BINARY, "activities"});
  EXPECT_EQ(r.exit_code, 0);
  Json j;
  ASSERT_TRUE(ParseJson(r.out, &j, nullptr));
  std::set<std::string> types;
  for (const auto& d : j) types.insert(d["type"].get<std::string>());
  for (const char* t :
       {"WriteLine",   "Log",          "SetVariable",    "SetOutput",    "If",           "Switch",
        "ForEach",     "While",        "Fork",           "Join",         "Delay",        "WaitUntil",
        "HttpRequest", "HttpResponse", "WaitForWebhook", "WaitForEvent", "PublishEvent", "RunWorkflow",
        "Script",      "Transform",    "Fail",           "Finish",       "Noop"}) {
    EXPECT_TRUE(types.contains(t)) << t;
  }
}

}  // namespace
}  // namespace trellis
