// `trellis token`, `trellis apikey create|list|delete` and `trellis secrets rotate-key`, run as the
// real binary against a temporary SQLite file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/json.h"
#include "runtime/secrets.h"
#include "security/api_key.h"
#include "security/encoding.h"
#include "security/jwt.h"
#include "store/sqlite/sqlite_store.h"
#include "support/subprocess.h"

namespace trellis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunProcess;

const std::string kJwtSecret = "cli-test-jwt-secret-0123456789abcdef";

std::string RawKey(char fill) {
  return std::string(security::kEncryptionKeyBytes, fill);
}

class SecurityCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("trellis-cli-sec-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "trellis.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A config file with the database and whatever `extra` YAML adds under `security:`.
  std::string Config(const std::string& security_yaml) {
    std::string path = (dir_ / ("trellis-" + std::to_string(++configs_) + ".yaml")).string();
    std::ofstream(path) << "database:\n  url: \"sqlite://" << db_ << "\"\nsecurity:\n" << security_yaml;
    return path;
  }

  std::string DatabaseBytes() {
    std::string bytes;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().filename().string().rfind("trellis.db", 0) != 0) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      bytes += s.str();
    }
    return bytes;
  }

  std::unique_ptr<Store> OpenStoreInProcess() {
    DatabaseSettings settings;
    settings.sqlite_path = db_;
    auto store = OpenSqliteStore(settings, {});
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return nullptr;
    EXPECT_TRUE((*store)->Migrate().ok());
    return std::move(store).value();
  }

  std::filesystem::path dir_;
  std::string db_;
  int configs_ = 0;
};

TEST_F(SecurityCommandsTest, TokenPrintsAJwtTheServerAccepts) {
  std::string cfg = Config("  jwt_secret: \"" + kJwtSecret + "\"\n");
  auto r = RunProcess({TRELLIS_BINARY, "token", "--config", cfg, "--role", "editor", "--ttl", "2h",
                       "--subject", "ci-deploy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string token = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(r.out, token + "\n");
  auto claims = security::VerifyJwt(token, kJwtSecret, std::chrono::system_clock::now());
  ASSERT_TRUE(claims.ok()) << claims.status().message();
  EXPECT_EQ(claims->role, security::Role::kEditor);
  EXPECT_EQ(claims->subject, "ci-deploy");
  auto lifetime = claims->expires_at - *claims->issued_at;
  EXPECT_EQ(lifetime, std::chrono::hours(2));
  // Expired two hours later (plus the leeway).
  EXPECT_FALSE(
      security::VerifyJwt(token, kJwtSecret, std::chrono::system_clock::now() + std::chrono::hours(3)).ok());
}

TEST_F(SecurityCommandsTest, TokenRefusesAMissingOrShortSecretAndBadFlags) {
  auto r = RunProcess(
      {TRELLIS_BINARY, "token", "--config", Config("  allow_anonymous: false\n"), "--role", "admin"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("security.jwt_secret (JWT_SECRET) is not set"));
  EXPECT_EQ(r.out, "");

  r = RunProcess(
      {TRELLIS_BINARY, "token", "--config", Config("  jwt_secret: short-secret\n"), "--role", "admin"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("12 bytes; HS256 needs at least 32"));
  EXPECT_THAT(r.err, Not(HasSubstr("short-secret")));

  std::string good = Config("  jwt_secret: \"" + kJwtSecret + "\"\n");
  r = RunProcess({TRELLIS_BINARY, "token", "--config", good, "--role", "root"});
  EXPECT_EQ(r.exit_code, 1);
  r = RunProcess({TRELLIS_BINARY, "token", "--config", good});
  EXPECT_EQ(r.exit_code, 1);  // --role is required
  r = RunProcess({TRELLIS_BINARY, "token", "--config", good, "--role", "viewer", "--ttl", "soon"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--ttl"));
  r = RunProcess({TRELLIS_BINARY, "token", "--config", good, "--role", "viewer", "--ttl", "400d"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("API key"));
}

// Waits on the store's API key methods.
TEST_F(SecurityCommandsTest, ApiKeyCreateListDelete) {
  std::string cfg = Config("  allow_anonymous: false\n");
  auto r = RunProcess({TRELLIS_BINARY, "apikey", "create", "--config", cfg, "--role", "operator", "--name",
                       "ci-deploy", "--expires", "90d"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string key = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(security::LooksLikeApiKey(key)) << r.out;
  EXPECT_THAT(r.err, HasSubstr("shown only this once"));
  EXPECT_THAT(r.err, Not(HasSubstr(key)));

  r = RunProcess({TRELLIS_BINARY, "apikey", "create", "--config", cfg, "--role", "viewer"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string second = r.out.substr(0, r.out.find('\n'));
  EXPECT_NE(second, key);

  r = RunProcess({TRELLIS_BINARY, "apikey", "list", "--config", cfg, "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json list;
  ASSERT_TRUE(ParseJson(r.out, &list, nullptr)) << r.out;
  ASSERT_EQ(list.size(), 2u);
  const Json* first = nullptr;
  for (const auto& k : list) {
    if (k["name"] == "ci-deploy") first = &k;
  }
  ASSERT_NE(first, nullptr) << r.out;
  EXPECT_EQ((*first)["role"], "operator");
  EXPECT_EQ((*first)["prefix"], key.substr(0, 8));
  EXPECT_TRUE((*first)["expiresAt"].is_string());
  EXPECT_FALSE(first->contains("hash"));
  EXPECT_THAT(r.out, Not(HasSubstr(key)));
  std::string id = (*first)["id"];

  r = RunProcess({TRELLIS_BINARY, "apikey", "list", "--config", cfg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ci-deploy"));
  EXPECT_THAT(r.out, HasSubstr(key.substr(0, 8)));
  EXPECT_THAT(r.out, Not(HasSubstr(key)));

  // Only the hash is stored.
  std::string bytes = DatabaseBytes();
  EXPECT_EQ(bytes.find(key), std::string::npos);
  EXPECT_EQ(bytes.find(key.substr(8)), std::string::npos);
  EXPECT_NE(bytes.find(security::HashApiKey(key)), std::string::npos);

  auto store = OpenStoreInProcess();
  ASSERT_NE(store, nullptr);
  auto found = store->FindApiKey(security::HashApiKey(key));
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, id);
  store.reset();

  r = RunProcess({TRELLIS_BINARY, "apikey", "delete", "--config", cfg, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunProcess({TRELLIS_BINARY, "apikey", "delete", "--config", cfg, id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no API key with id"));
  r = RunProcess({TRELLIS_BINARY, "apikey", "list", "--config", cfg, "--output", "json"});
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_TRUE(ParseJson(r.out, &list, nullptr));
  EXPECT_EQ(list.size(), 1u);
}

TEST_F(SecurityCommandsTest, ApiKeyCreateNeedsAKnownRoleAndAValidExpiry) {
  std::string cfg = Config("  allow_anonymous: false\n");
  EXPECT_EQ(RunProcess({TRELLIS_BINARY, "apikey", "create", "--config", cfg, "--role", "root"}).exit_code, 1);
  EXPECT_EQ(RunProcess({TRELLIS_BINARY, "apikey", "create", "--config", cfg}).exit_code, 1);
  auto r = RunProcess(
      {TRELLIS_BINARY, "apikey", "create", "--config", cfg, "--role", "admin", "--expires", "later"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--expires"));
  EXPECT_EQ(RunProcess({TRELLIS_BINARY, "apikey"}).exit_code, 1);
}

// Waits on the store's secret methods.
TEST_F(SecurityCommandsTest, SecretsRotateKeyReSealsUnderTheNewKey) {
  {
    auto store = OpenStoreInProcess();
    ASSERT_NE(store, nullptr);
    auto old_ring = security::KeyRing::FromRawKeys(RawKey('o'));
    ASSERT_TRUE(old_ring.ok());
    SecretsService secrets(*store, *old_ring);
    ASSERT_TRUE(secrets.Put("API_TOKEN", "rotate-me-plaintext").ok());
    ASSERT_TRUE(secrets.Put("OTHER", "another-plaintext").ok());
  }
  std::string key_line = "  encryption_key: \"" + security::Base64Encode(RawKey('n')) + "\"\n";
  std::string both =
      Config(key_line + "  previous_encryption_keys: \"" + security::Base64Encode(RawKey('o')) + "\"\n");
  auto r = RunProcess({TRELLIS_BINARY, "secrets", "rotate-key", "--config", both});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string new_id = security::KeyRing::KeyIdOf(RawKey('n'));
  EXPECT_THAT(r.out, HasSubstr("re-sealed 2 secret(s) under key " + new_id + "; 0 already under it"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("plaintext")));

  r = RunProcess({TRELLIS_BINARY, "secrets", "rotate-key", "--config", both});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("re-sealed 0 secret(s)"));
  EXPECT_THAT(r.out, HasSubstr("2 already under it"));

  auto store = OpenStoreInProcess();
  ASSERT_NE(store, nullptr);
  auto new_only = security::KeyRing::FromRawKeys(RawKey('n'));
  ASSERT_TRUE(new_only.ok());
  SecretsService secrets(*store, *new_only);
  EXPECT_EQ(*secrets.Snapshot(),
            (Json{{"API_TOKEN", "rotate-me-plaintext"}, {"OTHER", "another-plaintext"}}));
  store.reset();
  EXPECT_EQ(DatabaseBytes().find("plaintext"), std::string::npos);
}

TEST_F(SecurityCommandsTest, SecretsRotateKeyExplainsAMissingOrBadKey) {
  auto r =
      RunProcess({TRELLIS_BINARY, "secrets", "rotate-key", "--config", Config("  allow_anonymous: false\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("security.encryption_key is not set"));
  EXPECT_THAT(r.err, HasSubstr("openssl rand -base64 32"));
  r = RunProcess(
      {TRELLIS_BINARY, "secrets", "rotate-key", "--config", Config("  encryption_key: \"c2hvcnQ=\"\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("decodes to 5 bytes"));
}

TEST_F(SecurityCommandsTest, HelpForTheNewCommands) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"token"},
                                       {"apikey", "create"},
                                       {"apikey", "list"},
                                       {"apikey", "delete"},
                                       {"secrets", "rotate-key"}}) {
    std::vector<std::string> argv = {TRELLIS_BINARY};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.push_back("--help");
    auto r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_THAT(r.out, HasSubstr("Usage")) << cmd[0];
  }
}

}  // namespace
}  // namespace trellis
