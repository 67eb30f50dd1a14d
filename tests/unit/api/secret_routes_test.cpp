// Secrets through the API: write-only values (PUT, list of names and times, DELETE), the 409 when no
// encryption key is configured, and redaction: a workflow that uses `{{ secrets.NAME }}` gets the
// value, but the journal, the instance JSON, the API answers, the logs and the database never show it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "api_fixture.h"
#include "support/test_http_server.h"

namespace trellis::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class SecretApiTest : public ApiTest {
 protected:
  void StartWithKey(Flags flags = {}) {
    flags["security.encryption_key"] = RandomKey();
    Start(flags);
  }
};
TRELLIS_API_SUITE(SecretApiTest);

// A value that appears nowhere else: random, and long enough to be masked (at least 4 characters).
std::string SecretValue() {
  return "val-" + security::HexEncode(security::RandomBytes(12));
}

TEST_P(SecretApiTest, PutListDelete) {
  ASSERT_NO_FATAL_FAILURE(StartWithKey());
  std::string value = SecretValue();
  auto put = client().Put("/api/secrets/API_TOKEN", Json{{"value", value}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_THAT(put.body, Not(HasSubstr(value)));
  ASSERT_EQ(client().Put("/api/secrets/OTHER", Json{{"value", SecretValue()}}).status, 200);
  // Replacing keeps one entry.
  ASSERT_EQ(client().Put("/api/secrets/API_TOKEN", Json{{"value", SecretValue()}}).status, 200);

  auto list = client().Get("/api/secrets");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["items"].size(), 2u);
  Json first = list.json()["items"][0];
  EXPECT_EQ(first["name"], "API_TOKEN");
  std::vector<std::string> keys;
  for (const auto& [k, v] : first.items()) keys.push_back(k);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("name", "createdAt", "updatedAt"));
  EXPECT_THAT(list.body, Not(HasSubstr(value)));
  EXPECT_THAT(list.body, Not(HasSubstr("val-")));

  EXPECT_EQ(client().Delete("/api/secrets/API_TOKEN").status, 204);
  EXPECT_TRUE(IsProblem(client().Delete("/api/secrets/API_TOKEN"), 404));
  EXPECT_EQ(client().Get("/api/secrets").json()["items"].size(), 1u);

  EXPECT_TRUE(IsProblem(client().Put("/api/secrets/bad-name", Json{{"value", "x1234"}}), 400));
  EXPECT_TRUE(IsProblem(client().Put("/api/secrets/EMPTY", Json{{"value", ""}}), 400));
  EXPECT_TRUE(IsProblem(client().Put("/api/secrets/NUM", Json{{"value", 5}}), 400));
  EXPECT_TRUE(IsProblem(client().Put("/api/secrets/NONE", Json::object()), 400));
  EXPECT_TRUE(IsProblem(client().Put("/api/secrets/MORE", Json{{"value", "abcd"}, {"note", "x"}}), 400));
}

TEST_P(SecretApiTest, WithoutAnEncryptionKeyStoringIs409) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto put = client().Put("/api/secrets/X", Json{{"value", "abcdef"}});
  ASSERT_TRUE(IsProblem(put, 409));
  EXPECT_THAT(put.json()["detail"].get<std::string>(), HasSubstr("encryption_key"));
  // Names can still be listed (and deleted): secrets stored under a key that is gone stay manageable.
  auto list = client().Get("/api/secrets");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(Items(list).empty());
  EXPECT_TRUE(IsProblem(client().Delete("/api/secrets/X"), 404));
}

// Collects every log line while it lives, at every level.
class LogCapture {
 public:
  LogCapture() {
    ConfigureLogging({LogLevel::kTrace, true});
    SetLogSink([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() {
    SetLogSink(nullptr);
    ConfigureLogging({LogLevel::kWarn, false});
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Uses API_TOKEN in a WriteLine, a Log, a SetVariable, an HttpRequest (header and body) to `url`, copies the
// echoed value into the output, and fails with it in the message.
Json UsesSecret(const std::string& url) {
  return {{"id", "uses-secret"},
          {"activities",
           {{{"id", "say"}, {"type", "WriteLine"}, {"text", "token={{ secrets.API_TOKEN }}"}},
            {{"id", "note"},
             {"type", "Log"},
             {"level", "warn"},
             {"message", "calling with {{ secrets.API_TOKEN }}"}},
            {{"id", "keep"},
             {"type", "SetVariable"},
             {"name", "auth"},
             {"value", "Bearer {{ secrets.API_TOKEN }}"}},
            {{"id", "call"},
             {"type", "HttpRequest"},
             {"method", "POST"},
             {"url", url},
             {"headers", {{"Authorization", "{{ vars.auth }}"}}},
             {"body", {{"token", "{{ secrets.API_TOKEN }}"}}}},
            {{"id", "check"},
             {"type", "SetOutput"},
             {"name", "sameToken"},
             {"value", "{{ outputs.call.body.token == secrets.API_TOKEN }}"}},
            {{"id", "leak"},
             {"type", "SetOutput"},
             {"name", "echoed"},
             {"value", "{{ outputs.call.body.token }}"}},
            {{"id", "boom"}, {"type", "Fail"}, {"message", "failing with {{ secrets.API_TOKEN }}"}}}}};
}

// Answers with the request's body (so the token comes back in the response).
test::TestHttpResponse Echo(const test::TestHttpRequest& req) {
  test::TestHttpResponse resp;
  resp.headers = {{"Content-Type", "application/json"}};
  resp.body = req.body;
  return resp;
}

TEST_P(SecretApiTest, WorkflowsSeeTheValueButTheApiShowsStars) {
  test::TestHttpServer upstream(Echo);
  std::string value = SecretValue();
  ASSERT_NO_FATAL_FAILURE(StartWithKey({{"http.allow_hosts", "127.0.0.1"}}));
  ASSERT_EQ(client().Put("/api/secrets/API_TOKEN", Json{{"value", value}}).status, 200);
  CreateWorkflow(UsesSecret(upstream.Url("/echo")));
  auto r = Execute("uses-secret", {{"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.json()["id"];
  EXPECT_EQ(r.json()["status"], "Faulted");

  // The workflow saw the value: the upstream got it, and the comparison in Lua held.
  ASSERT_EQ(upstream.RequestCount(), 1u);
  EXPECT_EQ(upstream.Requests()[0].Header("Authorization").value_or(""), "Bearer " + value);
  EXPECT_THAT(upstream.Requests()[0].body, HasSubstr(value));
  EXPECT_EQ(r.json()["output"]["sameToken"], true);

  // The API shows *** instead: the sync answer, the instance, the journal, the list.
  EXPECT_THAT(r.body, Not(HasSubstr(value)));
  EXPECT_EQ(r.json()["variables"]["auth"], "Bearer ***");
  auto instance = client().Get("/api/instances/" + id);
  EXPECT_THAT(instance.body, Not(HasSubstr(value)));
  EXPECT_EQ(instance.json()["variables"]["auth"], "Bearer ***");
  EXPECT_EQ(instance.json()["output"]["echoed"], "***");
  EXPECT_EQ(instance.json()["incidents"][0]["message"], "failing with ***");
  auto journal = client().Get("/api/instances/" + id + "/journal");
  ASSERT_EQ(journal.status, 200);
  EXPECT_THAT(journal.body, Not(HasSubstr(value)));
  EXPECT_EQ(Items(journal)[0]["output"], "token=***");
  EXPECT_THAT(client().Get("/api/instances?workflowId=uses-secret").body, Not(HasSubstr(value)));
}

TEST_P(SecretApiTest, SecretValuesNeverReachTheLogs) {
  test::TestHttpServer upstream(Echo);
  std::string value = SecretValue();
  ASSERT_NO_FATAL_FAILURE(StartWithKey({{"http.allow_hosts", "127.0.0.1"}}));
  std::vector<std::string> logs;
  {
    LogCapture capture;
    ASSERT_EQ(client().Put("/api/secrets/API_TOKEN", Json{{"value", value}}).status, 200);
    CreateWorkflow(UsesSecret(upstream.Url("/echo")));
    auto r = Execute("uses-secret", {{"wait", true}});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(upstream.RequestCount(), 1u);
    logs = capture.Lines();
  }
  EXPECT_FALSE(logs.empty());
  for (const auto& line : logs) EXPECT_THAT(line, Not(HasSubstr(value)));
}

TEST_P(SecretApiTest, StoredSecretsAreEncryptedAtRest) {
  std::string value = SecretValue();
  ASSERT_NO_FATAL_FAILURE(StartWithKey());
  ASSERT_EQ(client().Put("/api/secrets/API_TOKEN", Json{{"value", value}}).status, 200);
  if (GetParam() == Backend::kSqlite) {
    StopApp();
    std::string bytes = ReadFileBytes(SqlitePath()) + ReadFileBytes(SqlitePath() + "-wal");
    ASSERT_FALSE(bytes.empty());
    // The name is there in the clear (so this reads the right bytes); the value is not.
    EXPECT_NE(bytes.find("API_TOKEN"), std::string::npos);
    EXPECT_EQ(bytes.find(value), std::string::npos) << "the SQLite file holds the plaintext";
  } else {
    auto store = OpenTestStore();
    ASSERT_NE(store, nullptr);
    auto secrets = store->ListSecrets();
    ASSERT_TRUE(secrets.ok());
    ASSERT_EQ(secrets->size(), 1u);
    EXPECT_EQ(secrets->front().ciphertext.find(value), std::string::npos);
  }
}

TEST_P(SecretApiTest, ARunThatUsesASecretLeavesNoPlaintextInTheJournal) {
  test::TestHttpServer upstream(Echo);
  std::string value = SecretValue();
  ASSERT_NO_FATAL_FAILURE(StartWithKey({{"http.allow_hosts", "127.0.0.1"}}));
  ASSERT_EQ(client().Put("/api/secrets/API_TOKEN", Json{{"value", value}}).status, 200);
  CreateWorkflow(UsesSecret(upstream.Url("/echo")));
  ASSERT_EQ(Execute("uses-secret", {{"wait", true}}).status, 200);
  if (GetParam() == Backend::kSqlite) StopApp();  // SQLite admits one process (and store) at a time
  {
    auto store = OpenTestStore();
    ASSERT_NE(store, nullptr);
    auto page = store->ListInstances(InstanceFilter{});
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->items.size(), 1u);
    auto full = store->GetInstance(page->items[0].id);
    ASSERT_TRUE(full.ok());
    // The state keeps what the workflow itself stored in variables (later steps need it); the
    // journal and every API answer are masked.
    auto journal = store->ListJournal(page->items[0].id, 0, 100);
    ASSERT_TRUE(journal.ok());
    for (const auto& e : journal->items)
      EXPECT_THAT(JournalRecordToJson(e.record).dump(), Not(HasSubstr(value)));
  }
}

}  // namespace
}  // namespace trellis::api::testing
