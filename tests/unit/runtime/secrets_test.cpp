// SecretsService on a real SQLite store: names, write-only values sealed at rest, snapshots that
// follow changes within the documented staleness bound, key rotation, and the engine picking up
// the current snapshot at each burst. Secrets never appear in the database file or the logs.
#include "runtime/secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "activities/builtin.h"
#include "core/log.h"
#include "engine/compiled_workflow.h"
#include "engine/engine.h"
#include "model/parser.h"
#include "security/encoding.h"
#include "support/sqlite_runtime_fixture.h"

namespace trellis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

security::KeyRing Ring(char fill, const std::vector<std::string>& previous = {}) {
  auto r = security::KeyRing::FromRawKeys(std::string(security::kEncryptionKeyBytes, fill), previous);
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

std::string RawKey(char fill) {
  return std::string(security::kEncryptionKeyBytes, fill);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SecretsServiceTest : public test::SqliteRuntimeTest {
 protected:
  void SetUp() override {
    SqliteRuntimeTest::SetUp();
    clock_ = &manual_;
    SetLogSink([this](std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_ += std::string(line) + "\n";
    });
  }
  void TearDown() override {
    SetLogSink(nullptr);
    SqliteRuntimeTest::TearDown();
  }

  std::unique_ptr<SecretsService> Service(std::optional<security::KeyRing> keys) {
    return std::make_unique<SecretsService>(*store_, std::move(keys),
                                            SecretsService::Options{.clock = &manual_, .check_interval = 1s});
  }

  std::string Log() {
    std::lock_guard lock(log_mu_);
    return log_;
  }

  ManualClock manual_{*ParseTime("2026-03-01T12:00:00Z")};
  std::mutex log_mu_;
  std::string log_;
};

TEST(SecretNameTest, NamesAreLuaIdentifiersUpTo128Characters) {
  for (std::string good :
       std::vector<std::string>{"A", "_", "TOKEN", "api_key_2", "_private", std::string(128, 'x')}) {
    EXPECT_TRUE(SecretsService::ValidateName(good).ok()) << good;
  }
  for (std::string bad : std::vector<std::string>{"", "2fa", "with-dash", "with space", "dot.ted", "ünïcode",
                                                  std::string(129, 'x')}) {
    EXPECT_EQ(SecretsService::ValidateName(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(SecretsService::ValidateName("with-dash").message(), HasSubstr("letters, digits and '_'"));
  EXPECT_THAT(SecretsService::ValidateName("9").message(), HasSubstr("must start with a letter"));
}

TEST_F(SecretsServiceTest, PutListSnapshotDelete) {
  auto svc = Service(Ring('a'));
  EXPECT_TRUE(svc->Snapshot()->empty());
  ASSERT_TRUE(svc->Put("TOKEN", "s3cr3t-token-value").ok());
  ASSERT_TRUE(svc->Put("DB_PASSWORD", "hunter2-but-longer").ok());
  EXPECT_EQ(*svc->Snapshot(), (Json{{"TOKEN", "s3cr3t-token-value"}, {"DB_PASSWORD", "hunter2-but-longer"}}));

  auto list = svc->List();
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "DB_PASSWORD");
  EXPECT_EQ((*list)[1].name, "TOKEN");
  EXPECT_EQ((*list)[1].key_id, Ring('a').current_key_id());
  EXPECT_EQ((*list)[1].created_at, manual_.Now());

  // Replacing keeps created_at and moves updated_at.
  TimePoint created = manual_.Now();
  manual_.Advance(5s);
  ASSERT_TRUE(svc->Put("TOKEN", "rotated-token-value").ok());
  EXPECT_EQ((*svc->Snapshot())["TOKEN"], "rotated-token-value");
  list = svc->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[1].created_at, created);
  EXPECT_EQ((*list)[1].updated_at, manual_.Now());

  ASSERT_TRUE(svc->Delete("TOKEN").ok());
  EXPECT_EQ(*svc->Snapshot(), (Json{{"DB_PASSWORD", "hunter2-but-longer"}}));
  EXPECT_EQ(svc->Delete("TOKEN").code(), StatusCode::kNotFound);
}

TEST_F(SecretsServiceTest, BadValuesAndAMissingKeyAreRefused) {
  auto svc = Service(Ring('a'));
  EXPECT_EQ(svc->Put("bad-name", "value").code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(svc->Put("EMPTY", "").message(), HasSubstr("empty"));
  EXPECT_THAT(svc->Put("BIG", std::string(kMaxSecretValueBytes + 1, 'x')).message(),
              HasSubstr("larger than"));
  EXPECT_THAT(svc->Put("BIN", std::string("\xff\xfe", 2)).message(), HasSubstr("UTF-8"));
  EXPECT_TRUE(svc->Put("MAX", std::string(kMaxSecretValueBytes, 'x')).ok());

  auto keyless = Service(std::nullopt);
  Status s = keyless->Put("TOKEN", "value");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("openssl rand -base64 32"));
  EXPECT_EQ(keyless->RotateKey().status().code(), StatusCode::kFailedPrecondition);
  // Names can still be listed and deleted, but workflows get nothing (and the log says why).
  auto list = keyless->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  EXPECT_TRUE(keyless->Snapshot()->empty());
  EXPECT_THAT(Log(), HasSubstr("secrets are stored but workflows cannot read them"));
  EXPECT_TRUE(keyless->Delete("MAX").ok());
}

TEST_F(SecretsServiceTest, AnotherNodesChangeIsSeenWithinTheCheckInterval) {
  auto writer = Service(Ring('a'));
  auto reader = Service(Ring('a'));  // another node: its own cache over the same database
  ASSERT_TRUE(writer->Put("TOKEN", "first-value").ok());
  EXPECT_EQ((*reader->Snapshot())["TOKEN"], "first-value");

  ASSERT_TRUE(writer->Put("TOKEN", "second-value").ok());
  EXPECT_EQ((*writer->Snapshot())["TOKEN"], "second-value");  // the writer's own node: at once
  EXPECT_EQ((*reader->Snapshot())["TOKEN"], "first-value");   // within the interval: cached
  manual_.Advance(999ms);
  EXPECT_EQ((*reader->Snapshot())["TOKEN"], "first-value");
  manual_.Advance(1ms);
  EXPECT_EQ((*reader->Snapshot())["TOKEN"], "second-value");

  ASSERT_TRUE(writer->Delete("TOKEN").ok());
  manual_.Advance(1s);
  EXPECT_TRUE(reader->Snapshot()->empty());
}

TEST_F(SecretsServiceTest, UnchangedSecretsKeepTheSameSnapshot) {
  auto svc = Service(Ring('a'));
  ASSERT_TRUE(svc->Put("TOKEN", "value-1234").ok());
  auto a = svc->Snapshot();
  manual_.Advance(10s);  // checked again, generation unchanged: no reload
  auto b = svc->Snapshot();
  EXPECT_EQ(a.get(), b.get());

  std::shared_ptr<const Json> held;
  svc->UpdateHeld(held);
  EXPECT_EQ(held.get(), a.get());
  svc->UpdateHeld(held);
  EXPECT_EQ(held.get(), a.get());
  ASSERT_TRUE(svc->Put("TOKEN", "value-5678").ok());
  svc->UpdateHeld(held);
  EXPECT_NE(held.get(), a.get());
  EXPECT_EQ((*held)["TOKEN"], "value-5678");
  EXPECT_EQ((*a)["TOKEN"], "value-1234");  // a snapshot in use never changes under its holder
}

TEST_F(SecretsServiceTest, ASecretNoKeyOpensIsLeftOutAndTheRestLoad) {
  auto old_node = Service(Ring('a'));
  ASSERT_TRUE(old_node->Put("OLD", "sealed-under-a").ok());
  auto new_node = Service(Ring('b'));  // key a was dropped from the configuration
  ASSERT_TRUE(new_node->Put("NEW", "sealed-under-b").ok());
  EXPECT_EQ(*new_node->Snapshot(), (Json{{"NEW", "sealed-under-b"}}));
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("cannot be decrypted"));
  EXPECT_THAT(log, HasSubstr("OLD"));
  EXPECT_THAT(log, HasSubstr(Ring('a').current_key_id()));
  EXPECT_THAT(log, Not(HasSubstr("sealed-under-a")));
}

TEST_F(SecretsServiceTest, RotateKeyReSealsUnderTheCurrentKey) {
  auto before = Service(Ring('a'));
  ASSERT_TRUE(before->Put("ONE", "value-one").ok());
  ASSERT_TRUE(before->Put("TWO", "value-two").ok());

  auto rotating = Service(Ring('b', {RawKey('a')}));
  ASSERT_TRUE(rotating->Put("THREE", "value-three").ok());  // already under b
  EXPECT_EQ(rotating->Snapshot()->size(), 3u);              // a still opens ONE and TWO
  auto report = rotating->RotateKey();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->key_id, Ring('b').current_key_id());
  EXPECT_EQ(report->resealed, 2u);
  EXPECT_EQ(report->already_current, 1u);
  EXPECT_TRUE(report->failed.empty());

  // Key a can now be removed from the configuration.
  auto after = Service(Ring('b'));
  EXPECT_EQ(*after->Snapshot(), (Json{{"ONE", "value-one"}, {"TWO", "value-two"}, {"THREE", "value-three"}}));
  auto list = after->List();
  ASSERT_TRUE(list.ok());
  for (const auto& s : *list) EXPECT_EQ(s.key_id, Ring('b').current_key_id()) << s.name;

  // Running it again changes nothing.
  report = rotating->RotateKey();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->resealed, 0u);
  EXPECT_EQ(report->already_current, 3u);
  EXPECT_THAT(Log(), Not(HasSubstr("value-")));
}

TEST_F(SecretsServiceTest, RotateKeyReportsSecretsItCannotOpen) {
  ASSERT_TRUE(Service(Ring('a'))->Put("LOST", "value-lost").ok());
  ASSERT_TRUE(Service(Ring('c'))->Put("KEPT", "value-kept").ok());
  auto svc = Service(Ring('b', {RawKey('c')}));
  auto report = svc->RotateKey();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->resealed, 1u);
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_THAT(report->failed[0], HasSubstr("LOST: "));
  EXPECT_THAT(report->failed[0], HasSubstr("not configured"));
}

TEST_F(SecretsServiceTest, TheDatabaseFileNeverHoldsThePlaintext) {
  const std::string plaintext = "PLAINTEXT-MARKER-7f3a9c-do-not-store";
  auto svc = Service(Ring('a'));
  ASSERT_TRUE(svc->Put("MARKED_SECRET", plaintext).ok());
  ASSERT_TRUE(svc->Put("MARKED_SECRET", plaintext + "-v2").ok());
  ASSERT_TRUE(svc->RotateKey().ok());
  EXPECT_EQ((*svc->Snapshot())["MARKED_SECRET"], plaintext + "-v2");
  std::string bytes;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) bytes += ReadFile(entry.path());
  store_.reset();  // checkpoints the WAL into the main file
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) bytes += ReadFile(entry.path());
  EXPECT_THAT(bytes, HasSubstr("MARKED_SECRET"));  // the row is there...
  EXPECT_EQ(bytes.find("PLAINTEXT-MARKER"), std::string::npos) << "plaintext found in the database files";
  EXPECT_EQ(bytes.find(security::Base64Encode(plaintext).substr(0, 24)), std::string::npos);
  EXPECT_THAT(Log(), Not(HasSubstr("PLAINTEXT-MARKER")));
}

// The service is not refreshed before the readers start: they race the first load, and none may be
// served the empty placeholder meanwhile (that happened on a loaded CI machine).
TEST_F(SecretsServiceTest, ManyEnginesReadWhileSecretsChange) {
  auto svc = Service(Ring('a'));
  ASSERT_TRUE(svc->Put("TOKEN", "value-0000").ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      std::shared_ptr<const Json> held;
      while (!stop.load()) {
        svc->UpdateHeld(held);
        if (!held || !held->contains("TOKEN") ||
            (*held)["TOKEN"].get<std::string>().rfind("value-", 0) != 0) {
          ++bad;
        }
      }
    });
  }
  for (int i = 1; i <= 50; ++i) {
    ASSERT_TRUE(svc->Put("TOKEN", "value-" + std::to_string(i)).ok());
    manual_.Advance(1s);
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ((*svc->Snapshot())["TOKEN"], "value-50");
}

TEST_F(SecretsServiceTest, TheEngineUsesTheCurrentSnapshotAtEachBurst) {
  auto svc = Service(Ring('a'));
  ASSERT_TRUE(svc->Put("TOKEN", "first-secret").ok());
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(R"(
id: uses-secret
activities:
  - {id: show, type: WriteLine, text: "token={{ secrets.TOKEN }} length={{ string.len(secrets.TOKEN or '') }}"}
)",
                                           &errors);
  ASSERT_TRUE(errors.empty());
  auto wf = CompiledWorkflow::Compile(std::move(def), BuiltinActivities(), &errors);
  ASSERT_TRUE(wf && errors.empty());

  std::vector<std::string> lines;
  EngineServices services;
  services.clock = &manual_;
  services.write_line = [&](std::string_view text) { lines.emplace_back(text); };
  services.secrets_source = svc->Source();
  Engine engine(BuiltinActivities(), services);

  auto run = [&] {
    auto s = engine.Start(*wf, {});
    EXPECT_TRUE(s.ok());
    engine.RunBurst(*wf, *s);
    EXPECT_EQ(s->status, InstanceStatus::kCompleted);
    EXPECT_EQ(s->journal.size(), 1u);
    return s->journal.empty() ? Json() : s->journal[0].output;
  };
  // Redacted with the same snapshot the template read; the length shows which value it saw.
  EXPECT_EQ(run(), "token=*** length=12");
  EXPECT_EQ(lines.back(), "token=*** length=12");

  ASSERT_TRUE(svc->Put("TOKEN", "second-secret").ok());
  EXPECT_EQ(run(), "token=*** length=13");
  EXPECT_EQ(lines.back(), "token=*** length=13");

  // Step (the durable worker's entry point) refreshes too.
  ASSERT_TRUE(svc->Delete("TOKEN").ok());
  auto s = engine.Start(*wf, {});
  ASSERT_TRUE(s.ok());
  while (engine.Step(*wf, *s) != StepResult::kIdle) {
  }
  EXPECT_EQ(lines.back(), "token= length=0");
}

TEST_F(SecretsServiceTest, MakeSecretsServiceFromTheConfiguration) {
  ASSERT_TRUE(Service(Ring('k'))->Put("TOKEN", "value-from-config").ok());
  std::map<std::string, std::string> env;
  config::LoadOptions options;
  options.env = &env;
  options.default_config_path = "/nonexistent/trellis.yaml";

  auto keyless = MakeSecretsService(*config::Config::Load(options), *store_);  // no key: a warning
  ASSERT_TRUE(keyless.ok()) << keyless.status().message();
  EXPECT_TRUE((*keyless)->Snapshot()->empty());
  EXPECT_THAT(Log(), HasSubstr("secrets are stored but workflows cannot read them"));

  env["ENCRYPTION_KEY"] = "not-a-key";
  auto bad = MakeSecretsService(*config::Config::Load(options), *store_);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("not valid base64"));

  env["ENCRYPTION_KEY"] = security::Base64Encode(RawKey('k'));
  auto good = MakeSecretsService(*config::Config::Load(options), *store_);
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(*(*good)->Snapshot(), (Json{{"TOKEN", "value-from-config"}}));
}

TEST(KeyRingFromConfigTest, ReadsTheKeyAndPreviousKeys) {
  std::map<std::string, std::string> env;
  config::LoadOptions options;
  options.env = &env;
  options.default_config_path = "/nonexistent/trellis.yaml";
  auto unset = config::Config::Load(options);
  ASSERT_TRUE(unset.ok());
  auto ring = KeyRingFromConfig(*unset);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(ring.status().message(), HasSubstr("openssl rand -base64 32"));

  env["ENCRYPTION_KEY"] = security::Base64Encode(RawKey('k'));
  env["TRELLIS_SECURITY__PREVIOUS_ENCRYPTION_KEYS"] =
      security::Base64Encode(RawKey('p')) + ", " + security::Base64Encode(RawKey('q'));
  auto loaded = config::Config::Load(options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ring = KeyRingFromConfig(*loaded);
  ASSERT_TRUE(ring.ok()) << ring.status().message();
  EXPECT_THAT(ring->key_ids(),
              ElementsAre(security::KeyRing::KeyIdOf(RawKey('k')), security::KeyRing::KeyIdOf(RawKey('p')),
                          security::KeyRing::KeyIdOf(RawKey('q'))));
  // The previous keys are a secret: redacted like the others.
  EXPECT_EQ(loaded->ToJson()["security"]["previous_encryption_keys"], "***");
}

}  // namespace
}  // namespace trellis
