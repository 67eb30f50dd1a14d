// Secrets in templates (DESIGN.md sections 3 and 9): values are usable by activities but masked as
// *** wherever they would be recorded: journal outputs and errors, incidents, fault messages.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Json Secrets() {
  return {{"token", "s3cr3t-value"}};
}

TEST(SecretsTest, WriteLineOfASecretIsMaskedInTheJournal) {
  Harness h(R"~(
id: secret-line
activities:
  - {id: show, type: WriteLine, text: "{{ secrets.token }}"}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.Count("show"), 1u);
  EXPECT_EQ(h.Records("show")[0]->output, "***");
}

TEST(SecretsTest, SecretInsideLongerTextIsMasked) {
  Harness h(R"~(
id: secret-embedded
activities:
  - {id: show, type: WriteLine, text: "Authorization: Bearer {{ secrets.token }} (twice: {{ secrets.token }})"}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.Records("show")[0]->output, "Authorization: Bearer *** (twice: ***)");
}

TEST(SecretsTest, SecretIsMaskedInsideStructuredOutputs) {
  Harness h(R"~(
id: secret-structured
activities:
  - {id: build, type: Transform, value: {headers: {authorization: "Bearer {{ secrets.token }}"}, list: ["{{ secrets.token }}"]}}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  Json out = h.Records("build")[0]->output;
  EXPECT_EQ(out["headers"]["authorization"], "Bearer ***");
  EXPECT_EQ(out["list"][0], "***");
}

TEST(SecretsTest, SecretIsUsableByTheActivityItself) {
  Harness h(R"~(
id: secret-used
activities:
  - {id: call, type: HttpRequest, url: "https://api.test/x", headers: {Authorization: "Bearer {{ secrets.token }}"}}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(h.http.sent.size(), 1u);
  EXPECT_EQ(h.http.sent[0].Header("Authorization"), "Bearer s3cr3t-value");
}

TEST(SecretsTest, SecretIsMaskedInFailuresIncidentsAndFaultMessage) {
  Harness h(R"~(
id: secret-fail
activities:
  - {id: stop, type: Fail, message: "bad token {{ secrets.token }}"}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.Count("stop"), 1u);
  EXPECT_EQ(h.Records("stop")[0]->error, "bad token ***");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].message, "bad token ***");
  EXPECT_EQ(h.state.fault_message, "bad token ***");
}

TEST(SecretsTest, SecretInAFailedRequestsUrlIsMaskedInTheError) {
  Harness h(R"~(
id: secret-url
activities:
  - {id: call, type: HttpRequest, url: "https://api.test/x?key={{ secrets.token }}"}
)~",
            Secrets());
  h.http.FailWith(Unavailable("connection refused"));
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_THAT(h.Records("call")[0]->error, Not(HasSubstr("s3cr3t-value")));
  EXPECT_THAT(h.Records("call")[0]->error, HasSubstr("***"));
  EXPECT_THAT(h.state.incidents[0].message, Not(HasSubstr("s3cr3t-value")));
}

TEST(SecretsTest, ScriptReturningASecretIsMaskedInTheJournal) {
  Harness h(R"~(
id: secret-script
activities:
  - {id: s, type: Script, code: "return {value = secrets.token, upper = 'x' .. secrets.token}"}
)~",
            Secrets());
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  Json out = h.Records("s")[0]->output;
  EXPECT_EQ(out["value"], "***");
  EXPECT_EQ(out["upper"], "x***");
}

TEST(SecretsTest, WithoutSecretsNothingIsMasked) {
  Harness h(R"~(
id: no-secrets
activities:
  - {id: show, type: WriteLine, text: "s3cr3t-value"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.Records("show")[0]->output, "s3cr3t-value");
  EXPECT_THAT(h.lines, ElementsAre("s3cr3t-value"));
}

}  // namespace
}  // namespace trellis::engine_test
