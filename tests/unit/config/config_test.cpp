#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "temp_dir.h"

namespace trellis::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Env = std::map<std::string, std::string>;

class ConfigTest : public ::testing::Test {
 protected:
  // Loads with an injected environment; `yaml`, when given, is written to a temp trellis.yaml.
  Result<Config> Load(const Env& env = {}, const std::string& yaml = "",
                      std::map<std::string, std::string> flags = {}, const std::string& role = "server") {
    env_ = env;
    LoadOptions o;
    o.env = &env_;
    o.role = role;
    o.flags = std::move(flags);
    o.default_config_path = dir_.Path("absent.yaml");
    if (!yaml.empty()) o.config_path = dir_.Write("trellis.yaml", yaml);
    return Config::Load(o);
  }
  Config MustLoad(const Env& env = {}, const std::string& yaml = "",
                  std::map<std::string, std::string> flags = {}, const std::string& role = "server") {
    auto c = Load(env, yaml, std::move(flags), role);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : Config::Defaults();
  }
  std::string Error(const Env& env = {}, const std::string& yaml = "",
                    std::map<std::string, std::string> flags = {}, const std::string& role = "server") {
    auto c = Load(env, yaml, std::move(flags), role);
    EXPECT_FALSE(c.ok());
    if (c.ok()) return "";
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    return c.status().message();
  }

  TempDir dir_;
  Env env_;
};

TEST_F(ConfigTest, DefaultsApplyWithNoSources) {
  Config c = MustLoad();
  EXPECT_EQ(c.GetInt("server.port"), 8080);
  EXPECT_EQ(c.GetString("server.host"), "");
  EXPECT_EQ(c.GetInt("worker.concurrency"), 10);
  EXPECT_EQ(c.GetDuration("worker.lease"), std::chrono::seconds(30));
  EXPECT_EQ(c.GetDuration("limits.max_execution_time"), std::chrono::hours(1));
  EXPECT_EQ(c.GetDuration("limits.step_timeout"), std::chrono::minutes(5));
  EXPECT_EQ(c.GetBytes("limits.max_body"), 10u * 1024 * 1024);
  EXPECT_EQ(c.GetBytes("limits.journal_payload"), 64u * 1024);
  EXPECT_EQ(c.GetDuration("retention.finished"), std::chrono::hours(24 * 14));
  EXPECT_EQ(c.GetInt("database.pool_size"), 25);
  EXPECT_EQ(c.GetString("database.url"), "sqlite://./data/trellis.db");
  EXPECT_TRUE(c.GetBool("database.auto_migrate"));
  EXPECT_FALSE(c.GetBool("security.allow_anonymous"));
  EXPECT_EQ(c.GetString("log.level"), "info");
  EXPECT_EQ(c.GetString("log.format"), "auto");
  EXPECT_DOUBLE_EQ(c.GetDouble("tracing.sample_ratio"), 1.0);
  EXPECT_TRUE(c.GetList("cors.allowed_origins").empty());
  EXPECT_EQ(c.SourceOf("server.port"), "default");
  EXPECT_EQ(c.file(), "");
}

TEST_F(ConfigTest, EveryDefaultIsValidForItsType) {
  for (const auto& k : ConfigKeys()) {
    EXPECT_TRUE(ValidateValue(k, k.default_text).ok()) << k.path;
    EXPECT_FALSE(k.doc.empty()) << k.path;
  }
}

TEST_F(ConfigTest, PrecedenceDefaultsFileEnvFlags) {
  const std::string yaml = "server:\n  port: 9000\nworker:\n  concurrency: 3\n  lease: 45s\n";
  Config file_only = MustLoad({}, yaml);
  EXPECT_EQ(file_only.GetInt("server.port"), 9000);
  EXPECT_EQ(file_only.SourceOf("server.port"), dir_.Path("trellis.yaml"));
  EXPECT_EQ(file_only.SourceOf("worker.heartbeat"), "default");

  Config env = MustLoad({{"TRELLIS_SERVER__PORT", "9100"}}, yaml);
  EXPECT_EQ(env.GetInt("server.port"), 9100);
  EXPECT_EQ(env.SourceOf("server.port"), "env TRELLIS_SERVER__PORT");
  EXPECT_EQ(env.GetInt("worker.concurrency"), 3);  // the file still applies where env is silent

  Config flag = MustLoad({{"TRELLIS_SERVER__PORT", "9100"}}, yaml, {{"server.port", "9200"}});
  EXPECT_EQ(flag.GetInt("server.port"), 9200);
  EXPECT_EQ(flag.SourceOf("server.port"), "flag");
  EXPECT_EQ(flag.GetDuration("worker.lease"), std::chrono::seconds(45));
}

TEST_F(ConfigTest, EnvironmentNamesNestWithDoubleUnderscore) {
  Config c = MustLoad({{"TRELLIS_DATABASE__URL", "sqlite::memory:"},
                       {"TRELLIS_WORKER__CONCURRENCY", "4"},
                       {"TRELLIS_SERVER__SHUTDOWN_TIMEOUT", "5s"},
                       {"TRELLIS_SECURITY__ALLOW_ANONYMOUS", "true"}});
  EXPECT_EQ(c.GetString("database.url"), "sqlite::memory:");
  EXPECT_EQ(c.GetInt("worker.concurrency"), 4);
  EXPECT_EQ(c.GetDuration("server.shutdown_timeout"), std::chrono::seconds(5));
  EXPECT_TRUE(c.GetBool("security.allow_anonymous"));
  EXPECT_EQ(EnvName("database.url"), "TRELLIS_DATABASE__URL");
  EXPECT_EQ(EnvName("worker.claim_batch"), "TRELLIS_WORKER__CLAIM_BATCH");
}

TEST_F(ConfigTest, ConventionalNamesAreHonoured) {
  Config c = MustLoad({{"DATABASE_URL", "postgresql://db/trellis"},
                       {"JWT_SECRET", "s3cret-jwt"},
                       {"ENCRYPTION_KEY", "k3y"},
                       {"LOG_LEVEL", "debug"}});
  EXPECT_EQ(c.GetString("database.url"), "postgresql://db/trellis");
  EXPECT_EQ(c.SourceOf("database.url"), "env DATABASE_URL");
  EXPECT_EQ(c.GetString("security.jwt_secret"), "s3cret-jwt");
  EXPECT_EQ(c.GetString("security.encryption_key"), "k3y");
  EXPECT_EQ(c.GetString("log.level"), "debug");
}

TEST_F(ConfigTest, TrellisNameBeatsConventionalName) {
  Config c = MustLoad({{"DATABASE_URL", "postgresql://conventional/db"},
                       {"TRELLIS_DATABASE__URL", "postgresql://trellis/db"},
                       {"LOG_LEVEL", "debug"},
                       {"TRELLIS_LOG__LEVEL", "warn"}});
  EXPECT_EQ(c.GetString("database.url"), "postgresql://trellis/db");
  EXPECT_EQ(c.SourceOf("database.url"), "env TRELLIS_DATABASE__URL");
  EXPECT_EQ(c.GetString("log.level"), "warn");
}

TEST_F(ConfigTest, PortSetsTheListeningPortOfTheRole) {
  Config server = MustLoad({{"PORT", "3000"}}, "", {}, "server");
  EXPECT_EQ(server.GetInt("server.port"), 3000);
  EXPECT_EQ(server.GetInt("worker.port"), 8081);
  EXPECT_EQ(server.SourceOf("server.port"), "env PORT");

  Config worker = MustLoad({{"PORT", "3001"}}, "", {}, "worker");
  EXPECT_EQ(worker.GetInt("worker.port"), 3001);
  EXPECT_EQ(worker.GetInt("server.port"), 8080);

  Config migrate = MustLoad({{"PORT", "3002"}}, "", {}, "migrate");
  EXPECT_EQ(migrate.GetInt("server.port"), 8080);
  EXPECT_EQ(migrate.GetInt("worker.port"), 8081);

  Config both = MustLoad({{"PORT", "3000"}, {"TRELLIS_SERVER__PORT", "4000"}}, "", {}, "server");
  EXPECT_EQ(both.GetInt("server.port"), 4000);
}

TEST_F(ConfigTest, ListsFromYamlSequenceEnvAndFlags) {
  Config yaml = MustLoad({}, "cors:\n  allowed_origins:\n    - https://a.example\n    - https://b.example\n");
  EXPECT_EQ(yaml.GetList("cors.allowed_origins"),
            (std::vector<std::string>{"https://a.example", "https://b.example"}));

  Config env = MustLoad({{"TRELLIS_HTTP__ALLOW_HOSTS", "127.0.0.1, api.internal,,"}});
  EXPECT_EQ(env.GetList("http.allow_hosts"), (std::vector<std::string>{"127.0.0.1", "api.internal"}));

  Config flag = MustLoad({}, "", {{"http.allow_hosts", "x.internal,y.internal"}});
  EXPECT_EQ(flag.GetList("http.allow_hosts"), (std::vector<std::string>{"x.internal", "y.internal"}));

  Config flow = MustLoad({}, "http:\n  allow_hosts: [a, b]\n");
  EXPECT_EQ(flow.GetList("http.allow_hosts"), (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigTest, TypedValuesParse) {
  Config c = MustLoad({{"TRELLIS_LIMITS__MAX_BODY", "1GiB"},
                       {"TRELLIS_LIMITS__JOURNAL_PAYLOAD", "4096"},
                       {"TRELLIS_RETENTION__FINISHED", "30d"},
                       {"TRELLIS_WORKER__LEASE", "1m30s"},
                       {"TRELLIS_TRACING__SAMPLE_RATIO", "0.25"},
                       {"TRELLIS_DATABASE__AUTO_MIGRATE", "false"},
                       {"TRELLIS_SCHEDULES__ENABLED", "0"}});
  EXPECT_EQ(c.GetBytes("limits.max_body"), 1024ull * 1024 * 1024);
  EXPECT_EQ(c.GetBytes("limits.journal_payload"), 4096u);
  EXPECT_EQ(c.GetDuration("retention.finished"), std::chrono::hours(24 * 30));
  EXPECT_EQ(c.GetDuration("worker.lease"), std::chrono::seconds(90));
  EXPECT_DOUBLE_EQ(c.GetDouble("tracing.sample_ratio"), 0.25);
  EXPECT_FALSE(c.GetBool("database.auto_migrate"));
  EXPECT_FALSE(c.GetBool("schedules.enabled"));
}

TEST_F(ConfigTest, WronglyTypedValuesNameKeyValueAndType) {
  EXPECT_THAT(Error({{"TRELLIS_WORKER__CONCURRENCY", "ten"}}),
              AllOf(HasSubstr("worker.concurrency"), HasSubstr("'ten'"), HasSubstr("integer"),
                    HasSubstr("env TRELLIS_WORKER__CONCURRENCY")));
  EXPECT_THAT(Error({{"TRELLIS_WORKER__LEASE", "30 seconds"}}),
              AllOf(HasSubstr("worker.lease"), HasSubstr("'30 seconds'"), HasSubstr("duration")));
  EXPECT_THAT(Error({}, "limits:\n  max_body: 10 megs\n"),
              AllOf(HasSubstr("limits.max_body"), HasSubstr("'10 megs'"), HasSubstr("size")));
  EXPECT_THAT(Error({}, "", {{"features.webhook_replay", "maybe"}}),
              AllOf(HasSubstr("features.webhook_replay"), HasSubstr("'maybe'"), HasSubstr("boolean"),
                    HasSubstr("from flag")));
  EXPECT_THAT(Error({{"LOG_LEVEL", "verbose"}}), AllOf(HasSubstr("log.level"), HasSubstr("'verbose'"),
                                                       HasSubstr("trace, debug, info, warn, error")));
  EXPECT_THAT(Error({{"TRELLIS_LOG__FORMAT", "xml"}}), HasSubstr("one of auto, json, text"));
  EXPECT_THAT(Error({{"TRELLIS_DATABASE__SSLMODE", "required"}}), HasSubstr("database.sslmode"));
  EXPECT_THAT(Error({{"TRELLIS_SERVER__PORT", "70000"}}),
              AllOf(HasSubstr("server.port"), HasSubstr("out of range")));
  EXPECT_THAT(Error({{"TRELLIS_TRACING__SAMPLE_RATIO", "1.5"}}), HasSubstr("tracing.sample_ratio"));
  EXPECT_THAT(Error({{"TRELLIS_WORKER__CONCURRENCY", "0"}}), HasSubstr("out of range"));
  EXPECT_THAT(Error({}, "server:\n  port: [1, 2]\n"),
              AllOf(HasSubstr("server.port"), HasSubstr("not a list")));
  EXPECT_THAT(Error({}, "server:\n  port:\n    value: 1\n"), HasSubstr("not a mapping"));
}

TEST_F(ConfigTest, AllErrorsAreReportedTogetherOnePerLine) {
  std::string e = Error({{"TRELLIS_WORKER__CONCURRENCY", "x"}, {"TRELLIS_SERVER__PORT", "y"}},
                        "databse:\n  url: x\n", {{"log.levle", "info"}});
  EXPECT_THAT(e, HasSubstr("worker.concurrency"));
  EXPECT_THAT(e, HasSubstr("server.port"));
  EXPECT_THAT(e, HasSubstr("databse.url"));
  EXPECT_THAT(e, HasSubstr("log.levle"));
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 3);
}

TEST_F(ConfigTest, UnknownFileKeyNamesClosestKey) {
  std::string e = Error({}, "databse:\n  url: \"sqlite::memory:\"\n");
  EXPECT_THAT(e, HasSubstr("unknown key 'databse.url' in " + dir_.Path("trellis.yaml")));
  EXPECT_THAT(e, HasSubstr("did you mean 'database.url'?"));
  EXPECT_THAT(Error({}, "worker:\n  concurency: 3\n"), HasSubstr("did you mean 'worker.concurrency'?"));
  EXPECT_THAT(Error({}, "nonsense: 1\n"), HasSubstr("unknown key 'nonsense'"));
}

TEST_F(ConfigTest, UnknownTrellisEnvVarNamesClosest) {
  std::string e = Error({{"TRELLIS_DATABASE_URL", "x"}});
  EXPECT_THAT(e, HasSubstr("unknown environment variable 'TRELLIS_DATABASE_URL'"));
  EXPECT_THAT(e, HasSubstr("did you mean 'TRELLIS_DATABASE__URL'?"));
  EXPECT_THAT(Error({{"TRELLIS_WORKER__CONCURENCY", "3"}}), HasSubstr("TRELLIS_WORKER__CONCURRENCY"));
  // Reserved names and unrelated variables are not keys and not errors.
  MustLoad({{"TRELLIS_TEST_PG_URL", "x"}, {"HOME", "/root"}, {"PATH", "/bin"}});
}

TEST_F(ConfigTest, UnknownFlagKeyNamesClosest) {
  EXPECT_THAT(Error({}, "", {{"server.prot", "1"}}),
              AllOf(HasSubstr("unknown key 'server.prot'"), HasSubstr("did you mean 'server.port'?")));
}

TEST_F(ConfigTest, ConfigFileFromTrellisConfigAndDefaultPath) {
  std::string path = dir_.Write("other.yaml", "server:\n  port: 9300\n");
  Config c = MustLoad({{"TRELLIS_CONFIG", path}});
  EXPECT_EQ(c.GetInt("server.port"), 9300);
  EXPECT_EQ(c.file(), path);

  Env env;
  LoadOptions o;
  o.env = &env;
  o.default_config_path = dir_.Write("trellis.yaml", "worker:\n  port: 9400\n");
  auto d = Config::Load(o);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->GetInt("worker.port"), 9400);

  o.default_config_path = dir_.Path("missing.yaml");  // an absent default file is fine
  EXPECT_TRUE(Config::Load(o).ok());
}

TEST_F(ConfigTest, MissingExplicitFileIsAnError) {
  Env env;
  LoadOptions o;
  o.env = &env;
  o.config_path = dir_.Path("nope.yaml");
  auto c = Config::Load(o);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), AllOf(HasSubstr(dir_.Path("nope.yaml")), HasSubstr("--config")));
  EXPECT_THAT(Error({{"TRELLIS_CONFIG", dir_.Path("gone.yaml")}}),
              AllOf(HasSubstr(dir_.Path("gone.yaml")), HasSubstr("TRELLIS_CONFIG")));
}

TEST_F(ConfigTest, MalformedYamlNamesTheLine) {
  EXPECT_THAT(Error({}, "server:\n  port: [1\n"), HasSubstr("line"));
  EXPECT_THAT(Error({}, "- a\n- b\n"), HasSubstr("top level"));
}

TEST_F(ConfigTest, EmptySectionsAreAllowed) {
  Config c = MustLoad({}, "database:\nserver: {}\n# nothing else\n");
  EXPECT_EQ(c.GetInt("server.port"), 8080);
}

TEST_F(ConfigTest, VariablesExpandInYaml) {
  Config c = MustLoad({{"DB_HOST", "db.internal"}, {"DB_PASSWORD", "pw"}},
                      "database:\n  url: postgresql://app:${DB_PASSWORD}@${DB_HOST}:5432/trellis\n"
                      "tracing:\n  service_name: ${SERVICE:-trellis-prod}\n"
                      "  otlp_endpoint: literal-$${NOT_EXPANDED}\n");
  EXPECT_EQ(c.GetString("database.url"), "postgresql://app:pw@db.internal:5432/trellis");
  EXPECT_EQ(c.GetString("tracing.service_name"), "trellis-prod");
  EXPECT_EQ(c.GetString("tracing.otlp_endpoint"), "literal-${NOT_EXPANDED}");
}

TEST_F(ConfigTest, VariableDefaultAppliesWhenEmptyAndValueWinsWhenSet) {
  Config set = MustLoad({{"SERVICE", "from-env"}}, "tracing:\n  service_name: ${SERVICE:-fallback}\n");
  EXPECT_EQ(set.GetString("tracing.service_name"), "from-env");
  Config empty = MustLoad({{"SERVICE", ""}}, "tracing:\n  service_name: ${SERVICE:-fallback}\n");
  EXPECT_EQ(empty.GetString("tracing.service_name"), "fallback");
  Config typed = MustLoad({{"CONC", "7"}}, "worker:\n  concurrency: ${CONC}\n  port: ${WPORT:-9999}\n");
  EXPECT_EQ(typed.GetInt("worker.concurrency"), 7);
  EXPECT_EQ(typed.GetInt("worker.port"), 9999);
  Config list = MustLoad({{"ORIGIN", "https://x"}}, "cors:\n  allowed_origins: [\"${ORIGIN}\"]\n");
  EXPECT_EQ(list.GetList("cors.allowed_origins"), std::vector<std::string>{"https://x"});
}

TEST_F(ConfigTest, UnsetVariableWithoutDefaultIsAnError) {
  std::string e = Error({}, "database:\n  url: postgresql://app:${DB_PASSWORD}@db/trellis\n");
  EXPECT_THAT(e, AllOf(HasSubstr("database.url"), HasSubstr("${DB_PASSWORD} is not set")));
  EXPECT_THAT(Error({}, "tracing:\n  service_name: ${BROKEN\n"), HasSubstr("unterminated"));
  EXPECT_THAT(Error({}, "tracing:\n  service_name: ${1BAD}\n"), HasSubstr("not a variable reference"));
}

TEST_F(ConfigTest, ExpandVariablesDirectly) {
  Env env = {{"A", "1"}};
  EXPECT_EQ(ExpandVariables("x${A}y", env).value(), "x1y");
  EXPECT_EQ(ExpandVariables("$${A}", env).value(), "${A}");
  EXPECT_EQ(ExpandVariables("$A and $(A)", env).value(), "$A and $(A)");
  EXPECT_EQ(ExpandVariables("${B:-}", env).value(), "");
  EXPECT_FALSE(ExpandVariables("${B}", env).ok());
}

TEST_F(ConfigTest, KubernetesReferenceIsAnErrorExplainingTheFix) {
  std::string e = Error({{"DATABASE_URL", "postgresql://app:$(DB_PASSWORD)@db/trellis"}});
  EXPECT_THAT(e,
              HasSubstr("database.url contains '$(DB_PASSWORD)', a Kubernetes-style reference that was never "
                        "expanded. Kubernetes expands $(VAR) only from variables defined earlier in the same "
                        "container's env list; define DB_PASSWORD before it there, or use ${DB_PASSWORD} in "
                        "trellis.yaml"));
  EXPECT_THAT(Error({}, "http:\n  allow_hosts: [\"$(HOST)\"]\n"),
              HasSubstr("http.allow_hosts contains '$(HOST)'"));
  EXPECT_THAT(Error({}, "", {{"tracing.service_name", "$(NAME)"}}), HasSubstr("'$(NAME)'"));
  // A secret's value is never echoed, only the reference.
  std::string secret = Error({{"JWT_SECRET", "topsecretvalue$(X)"}});
  EXPECT_THAT(secret, HasSubstr("security.jwt_secret contains '$(X)'"));
  EXPECT_THAT(secret, Not(HasSubstr("topsecretvalue")));
}

TEST_F(ConfigTest, SecretsFromFilesInEnvironment) {
  std::string pw = dir_.Write("pw", "db-pass\n");
  std::string url = dir_.Write("url", "postgresql://app@db/trellis\r\n");
  std::string jwt = dir_.Write("jwt", "jwt-from-file");
  std::string key = dir_.Write("key", "key-from-file\n\n");
  Config c = MustLoad({{"TRELLIS_DATABASE__PASSWORD_FILE", pw},
                       {"DATABASE_URL_FILE", url},
                       {"JWT_SECRET_FILE", jwt},
                       {"ENCRYPTION_KEY_FILE", key}});
  EXPECT_EQ(c.GetString("database.password"), "db-pass");
  EXPECT_EQ(c.GetString("database.url"), "postgresql://app@db/trellis");
  EXPECT_EQ(c.GetString("security.jwt_secret"), "jwt-from-file");
  EXPECT_EQ(c.GetString("security.encryption_key"), "key-from-file");
  EXPECT_EQ(c.SourceOf("database.password"), "env TRELLIS_DATABASE__PASSWORD_FILE");
  EXPECT_EQ(c.SourceOf("security.jwt_secret"), "env JWT_SECRET_FILE");

  Config trellis_file =
      MustLoad({{"TRELLIS_SECURITY__JWT_SECRET_FILE", jwt}, {"JWT_SECRET", "conventional"}});
  EXPECT_EQ(trellis_file.GetString("security.jwt_secret"), "jwt-from-file");
}

TEST_F(ConfigTest, SecretsFromFilesInYamlAndFlags) {
  std::string pw = dir_.Write("pw", "yaml-pass\n");
  Config c = MustLoad({}, "database:\n  password_file: " + pw + "\n");
  EXPECT_EQ(c.GetString("database.password"), "yaml-pass");
  EXPECT_THAT(c.SourceOf("database.password"), HasSubstr("database.password_file"));

  std::string flag_pw = dir_.Write("flagpw", "flag-pass\n");
  Config f = MustLoad({}, "", {{"database.password_file", flag_pw}});
  EXPECT_EQ(f.GetString("database.password"), "flag-pass");
  EXPECT_EQ(f.SourceOf("database.password"), "flag");
}

TEST_F(ConfigTest, ValueAndFileAtTheSameLevelIsAnError) {
  std::string pw = dir_.Write("pw", "x");
  EXPECT_THAT(Error({{"TRELLIS_DATABASE__PASSWORD", "a"}, {"TRELLIS_DATABASE__PASSWORD_FILE", pw}}),
              HasSubstr("both TRELLIS_DATABASE__PASSWORD and TRELLIS_DATABASE__PASSWORD_FILE are set"));
  EXPECT_THAT(Error({{"DATABASE_URL", "sqlite::memory:"}, {"DATABASE_URL_FILE", pw}}),
              HasSubstr("both DATABASE_URL and DATABASE_URL_FILE"));
  EXPECT_THAT(Error({}, "database:\n  password: a\n  password_file: " + pw + "\n"),
              HasSubstr("both database.password and database.password_file"));
  EXPECT_THAT(Error({}, "", {{"database.password", "a"}, {"database.password_file", pw}}),
              HasSubstr("both database.password and database.password_file"));
  // Different levels are not a conflict: the higher one wins.
  Config c = MustLoad({{"TRELLIS_DATABASE__PASSWORD_FILE", pw}}, "database:\n  password: from-yaml\n");
  EXPECT_EQ(c.GetString("database.password"), "x");
}

TEST_F(ConfigTest, UnreadableSecretFileNamesThePath) {
  std::string missing = dir_.Path("no-such-secret");
  EXPECT_THAT(Error({{"JWT_SECRET_FILE", missing}}),
              AllOf(HasSubstr(missing), HasSubstr("security.jwt_secret"), HasSubstr("JWT_SECRET_FILE")));
  EXPECT_THAT(Error({}, "security:\n  encryption_key_file: " + missing + "\n"), HasSubstr(missing));
  // Keys that are not secrets have no _FILE form.
  EXPECT_THAT(Error({{"TRELLIS_LOG__LEVEL_FILE", missing}}), HasSubstr("unknown environment variable"));
  EXPECT_THAT(Error({}, "log:\n  level_file: x\n"), HasSubstr("unknown key 'log.level_file'"));
}

TEST_F(ConfigTest, ToJsonRedactsSecrets) {
  Config c = MustLoad({{"JWT_SECRET", "jwt-very-secret"},
                       {"TRELLIS_DATABASE__PASSWORD", "pw-very-secret"},
                       {"DATABASE_URL", "postgresql://app:url-very-secret@db/trellis"}});
  Json j = c.ToJson();
  std::string text = j.dump();
  EXPECT_THAT(text, Not(HasSubstr("very-secret")));
  EXPECT_EQ(j["security"]["jwt_secret"], "***");
  EXPECT_EQ(j["database"]["password"], "***");
  EXPECT_EQ(j["security"]["encryption_key"], "");  // unset stays visibly unset
  EXPECT_EQ(j["database"]["url"], "postgresql://app:***@db/trellis");
  EXPECT_EQ(j["server"]["port"], 8080);
  EXPECT_EQ(j["worker"]["lease"], "30s");
  EXPECT_EQ(j["limits"]["max_body"], 10 * 1024 * 1024);
  EXPECT_EQ(j["database"]["auto_migrate"], true);
  EXPECT_TRUE(j["cors"]["allowed_origins"].is_array());

  Json raw = c.ToJson(false);
  EXPECT_EQ(raw["security"]["jwt_secret"], "jwt-very-secret");
  EXPECT_EQ(raw["database"]["url"], "postgresql://app:url-very-secret@db/trellis");
}

TEST_F(ConfigTest, RenderRedactsSecretsAndNamesSources) {
  Config c = MustLoad({{"ENCRYPTION_KEY", "enc-very-secret"},
                       {"DATABASE_URL", "Host=db;Username=app;Password=kv-very-secret;Database=t"},
                       {"TRELLIS_WORKER__CONCURRENCY", "5"}},
                      "server:\n  port: 9000\n", {{"log.level", "debug"}});
  std::string text = c.Render();
  EXPECT_THAT(text, Not(HasSubstr("very-secret")));
  EXPECT_THAT(text, HasSubstr("encryption_key: \"***\""));
  EXPECT_THAT(text, HasSubstr("Password=***"));
  EXPECT_THAT(text, HasSubstr("server:\n"));
  EXPECT_THAT(text, HasSubstr("# from " + dir_.Path("trellis.yaml")));
  EXPECT_THAT(text, HasSubstr("# from env TRELLIS_WORKER__CONCURRENCY"));
  EXPECT_THAT(text, HasSubstr("level: \"debug\""));
  EXPECT_THAT(text, HasSubstr("# from flag"));
  EXPECT_THAT(text, HasSubstr("# from default"));
  EXPECT_THAT(c.Render(false), HasSubstr("enc-very-secret"));
}

TEST_F(ConfigTest, SecretFromFileIsRedactedToo) {
  std::string jwt = dir_.Write("jwt", "file-very-secret\n");
  Config c = MustLoad({{"JWT_SECRET_FILE", jwt}});
  EXPECT_THAT(c.Render(), Not(HasSubstr("file-very-secret")));
  EXPECT_THAT(c.ToJson().dump(), Not(HasSubstr("file-very-secret")));
}

TEST_F(ConfigTest, ParseSetFlags) {
  std::map<std::string, std::string> flags;
  ASSERT_TRUE(
      ParseSetFlags({"server.port=1", "database.url=Host=x;Database=y", "server.port=2"}, &flags).ok());
  EXPECT_EQ(flags["server.port"], "2");
  EXPECT_EQ(flags["database.url"], "Host=x;Database=y");
  Status bad = ParseSetFlags({"noequals", "=x"}, &flags);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("'noequals'"));
}

TEST_F(ConfigTest, DatabaseValuesComeFromTheKeys) {
  Config c = MustLoad({{"DATABASE_URL", "postgresql://db/t"},
                       {"TRELLIS_DATABASE__POOL_SIZE", "7"},
                       {"TRELLIS_DATABASE__SSLMODE", "require"},
                       {"TRELLIS_DATABASE__PASSWORD", "p"},
                       {"TRELLIS_DATABASE__STATEMENT_TIMEOUT", "2s"}});
  auto v = DatabaseValues(c);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->url, "postgresql://db/t");
  EXPECT_EQ(v->pool_size, 7u);
  EXPECT_EQ(v->sslmode, "require");
  EXPECT_EQ(v->password, "p");
  EXPECT_EQ(v->statement_timeout, std::chrono::seconds(2));
  EXPECT_TRUE(v->auto_migrate);
  EXPECT_FALSE(DatabaseValues(MustLoad({{"DATABASE_URL", ""}})).ok());
}

TEST(ConfigDeathTest, UnknownKeyOrWrongGetterIsAProgrammerError) {
  Config c = Config::Defaults();
  EXPECT_DEATH(c.GetString("no.such"), "unknown configuration key 'no.such'");
  EXPECT_DEATH(c.GetInt("database.url"), "wrong getter");
  EXPECT_DEATH(c.GetString("server.port"), "wrong getter");
}

TEST(ConfigValueTest, BytesAndBools) {
  EXPECT_EQ(ParseBytes("64KiB").value(), 65536u);
  EXPECT_EQ(ParseBytes("10MiB").value(), 10u * 1024 * 1024);
  EXPECT_EQ(ParseBytes("1.5KiB").value(), 1536u);
  EXPECT_EQ(ParseBytes("10MB").value(), 10000000u);
  EXPECT_EQ(ParseBytes("123").value(), 123u);
  EXPECT_EQ(ParseBytes("2 gib").value(), 2ull * 1024 * 1024 * 1024);
  EXPECT_FALSE(ParseBytes("lots").ok());
  EXPECT_FALSE(ParseBytes("10XB").ok());
  EXPECT_FALSE(ParseBytes("-1").ok());
  EXPECT_TRUE(ParseBool("TRUE").value());
  EXPECT_FALSE(ParseBool("off").value());
  EXPECT_FALSE(ParseBool("2").ok());
  EXPECT_FALSE(ParseInt("1.5").ok());
  EXPECT_EQ(ParseInt(" 42 ").value(), 42);
  EXPECT_EQ(SplitList(" a , ,b "), (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigTest, KeysNothingReadsYetAreReportedWhenSetAndMarkedInTheDocs) {
  EXPECT_TRUE(MustLoad().SetButNotReadYet().empty());
  Config c = MustLoad({{"TRELLIS_LIMITS__MAX_EXECUTION_TIME", "2h"}}, "worker:\n  concurrency: 3\n",
                      {{"http.timeout", "5s"}});
  auto unread = c.SetButNotReadYet();
  ASSERT_EQ(unread.size(), 2u);
  EXPECT_THAT(unread[0],
              HasSubstr("limits.max_execution_time (from env TRELLIS_LIMITS__MAX_EXECUTION_TIME)"));
  EXPECT_THAT(unread[1], HasSubstr("http.timeout (from flag"));
  // worker.concurrency is read by the worker: never reported.
  for (const auto& u : unread) EXPECT_THAT(u, Not(HasSubstr("worker.concurrency")));
  EXPECT_THAT(ConfigurationDocMarkdown(), HasSubstr("*Not read yet"));
}

}  // namespace
}  // namespace trellis::config
