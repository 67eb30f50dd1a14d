// Runs every file in examples/ through the real `trellis run` binary and checks its result, so the
// examples the README points to keep working.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/json.h"
#include "support/subprocess.h"
#include "support/test_http_server.h"

namespace trellis {
namespace {

using testing::RunProcess;

struct Expectation {
  std::vector<std::string> args;  // after `trellis run FILE`
  std::string status;
  int exit_code;
  Json output;  // every key here must be in the instance output with this value
};

std::string Example(const std::string& name) {
  return std::string(TRELLIS_SOURCE_DIR) + "/examples/" + name;
}

Json RunJson(const std::string& file, const std::vector<std::string>& args, int* exit_code) {
  std::vector<std::string> argv = {TRELLIS_BINARY, "run", Example(file), "--output", "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcess(argv);
  *exit_code = r.exit_code;
  Json j;
  std::string error;
  EXPECT_TRUE(ParseJson(r.out, &j, &error)) << file << ": stdout is not JSON: " << error << "\n"
                                            << r.out << "\nstderr:\n"
                                            << r.err;
  return j;
}

Expectation E(std::vector<std::string> args, std::string status, int exit_code, const char* output = "{}") {
  return {std::move(args), std::move(status), exit_code, Json::parse(output)};
}

const std::map<std::string, std::vector<Expectation>>& Expectations() {
  static const std::map<std::string, std::vector<Expectation>> kAll = {
      {"hello.yaml",
       {E({}, "Completed", 0, R"({"greeting": "Hello, world!"})"),
        E({"--input", R"({"name":"Trellis"})"}, "Completed", 0, R"({"greeting": "Hello, Trellis!"})")}},
      {"branching.yaml",
       {E({"--input", R"({"total":5000})"}, "Completed", 0, R"({"route": "manual-review"})"),
        E({"--input", R"({"total":10})"}, "Completed", 0, R"({"route": "eu-warehouse"})"),
        E({"--input", R"({"total":10,"country":"US"})"}, "Completed", 0, R"({"route": "us-warehouse"})"),
        E({"--input", R"({"total":10,"country":"JP"})"}, "Completed", 0, R"({"route": "ship-from-jp"})"),
        E({"--input", R"({"total":"ten"})"}, "", 1)}},
      {"loops.yaml", {E({}, "Completed", 0, R"({"total": 36})")}},
      {"fork-join.yaml", {E({"--fast-timers"}, "Completed", 0, R"({"best": 7})")}},
      {"approval.yaml",
       {E({"--input", R"({"orderId":"A-1"})", "--event", R"(order.approved@A-1={"by":"ann"})"}, "Completed",
          0, R"({"decision": "approved by ann"})"),
        E({"--input", R"({"orderId":"A-1"})", "--fast-timers"}, "Completed", 0, R"({"decision": "expired"})"),
        // An event for another order does not resume this one.
        E({"--input", R"({"orderId":"A-1"})", "--event", R"(order.approved@B-2={"by":"bob"})", "--wait-limit",
           "0s"},
          "Suspended", 3)}},
      {"race.yaml",
       {E({"--event", R"(payment.received={"amount":5})"}, "Completed", 0, R"({"firstBranch": "payment"})"),
        E({"--fast-timers"}, "Completed", 0, R"({"firstBranch": "reminder"})")}},
      {"error-handling.yaml",
       {E({"--fast-timers"}, "Completed", 0, R"({"status": "recovered after 3 attempts"})")}},
      {"fail.yaml",
       {E({"--input", R"({"quantity":0})"}, "Faulted", 2),
        E({"--input", R"({"quantity":3})"}, "Completed", 0, R"({"accepted": 3})")}},
      {"script.yaml",
       {E({}, "Completed", 0,
          R"({"result": {"summary": {"count": 4, "longest": "workflows"}, "first": "durable"}})")}},
      {"parent.yaml", {E({}, "Completed", 0, R"({"invoice": {"number": "INV-42", "total": 50.82}})")}},
      {"child.yaml", {E({"--input", R"({"amount":10})"}, "Completed", 0, R"({"number": "INV-10"})")}},
      // http-call.yaml needs a server; see HttpExampleCallsALocalServer.
  };
  return kAll;
}

TEST(ExamplesTest, EveryExampleHasAnExpectation) {
  std::set<std::string> covered = {"http-call.yaml"};
  for (const auto& [file, _] : Expectations()) covered.insert(file);
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TRELLIS_SOURCE_DIR) + "/examples")) {
    auto ext = entry.path().extension();
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    EXPECT_TRUE(covered.contains(entry.path().filename().string()))
        << entry.path().filename() << " has no expected result in examples_test.cpp";
  }
}

TEST(ExamplesTest, EveryExampleValidates) {
  std::vector<std::string> argv = {TRELLIS_BINARY, "validate"};
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TRELLIS_SOURCE_DIR) + "/examples")) {
    if (entry.path().extension() == ".yaml") argv.push_back(entry.path().string());
  }
  auto r = RunProcess(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(ExamplesTest, EveryExampleRunsToItsExpectedResult) {
  for (const auto& [file, cases] : Expectations()) {
    for (const auto& c : cases) {
      SCOPED_TRACE(file + " " + Json(c.args).dump());
      int code = -1;
      if (c.exit_code == 1) {
        std::vector<std::string> argv = {TRELLIS_BINARY, "run", Example(file), "--output", "json"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = RunProcess(argv);
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
        continue;
      }
      Json result = RunJson(file, c.args, &code);
      EXPECT_EQ(code, c.exit_code);
      EXPECT_EQ(result.value("status", ""), c.status) << result.dump(2);
      for (const auto& [k, v] : c.output.items()) {
        ASSERT_TRUE(result["output"].contains(k)) << result.dump(2);
        if (k == "result") {  // the digest is a hash: check its shape, not its value
          EXPECT_EQ(result["output"][k]["summary"]["count"], v["summary"]["count"]);
          EXPECT_EQ(result["output"][k]["summary"]["longest"], v["summary"]["longest"]);
          EXPECT_EQ(result["output"][k]["summary"]["digest"].get<std::string>().size(), 12u);
          EXPECT_EQ(result["output"][k]["first"], v["first"]);
        } else {
          EXPECT_EQ(result["output"][k], v) << result.dump(2);
        }
      }
      if (c.status != "Suspended") {
        EXPECT_FALSE(result["journal"].empty());
      }
    }
  }
}

TEST(ExamplesTest, HttpExampleCallsALocalServer) {
  test::TestHttpServer server([](const test::TestHttpRequest& req) {
    test::TestHttpResponse res;
    res.headers = {{"Content-Type", "application/json"}};
    res.body = req.target == "/orders/big" ? R"({"total": 5000})" : R"({"total": 20})";
    return res;
  });
  for (const auto& [order, route] :
       std::vector<std::pair<std::string, std::string>>{{"big", "manual"}, {"small", "auto"}}) {
    int code = -1;
    Json input = {{"baseUrl", server.Url("").substr(0, server.Url("").size())}, {"orderId", order}};
    std::string base = server.Url("/");
    base.pop_back();
    input["baseUrl"] = base;
    Json result = RunJson("http-call.yaml", {"--input", input.dump(), "--allow-host", "127.0.0.1"}, &code);
    EXPECT_EQ(code, 0) << result.dump(2);
    EXPECT_EQ(result["output"]["route"], route);
  }
  ASSERT_EQ(server.Requests().size(), 2u);
  EXPECT_TRUE(server.Requests()[0].Header("Idempotency-Key").has_value());
}

TEST(ExamplesTest, HttpExampleIsDeniedLoopbackWithoutAllowList) {
  test::TestHttpServer server;
  std::string base = server.Url("/");
  base.pop_back();
  int code = -1;
  Json result =
      RunJson("http-call.yaml", {"--input", Json{{"baseUrl", base}, {"orderId", "x"}}.dump()}, &code);
  EXPECT_EQ(code, 2);
  EXPECT_EQ(result["status"], "Faulted");
  EXPECT_NE(result["incidents"][0]["message"].get<std::string>().find("denied"), std::string::npos)
      << result.dump(2);
  EXPECT_EQ(server.RequestCount(), 0u);
}

}  // namespace
}  // namespace trellis
