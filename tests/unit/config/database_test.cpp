#include "config/database.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace trellis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Provider = DatabaseSettings::Provider;

DatabaseConfigValues Url(std::string url) {
  DatabaseConfigValues v;
  v.url = std::move(url);
  return v;
}

DatabaseSettings MustParse(const DatabaseConfigValues& v) {
  auto s = ParseDatabaseSettings(v);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : DatabaseSettings{};
}

std::string ErrorOf(const DatabaseConfigValues& v) {
  auto s = ParseDatabaseSettings(v);
  EXPECT_FALSE(s.ok());
  if (s.ok()) return "";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  return s.status().message();
}

TEST(DatabaseSettingsTest, SqliteForms) {
  DatabaseSettings abs = MustParse(Url("sqlite:///var/lib/trellis/t.db"));
  EXPECT_EQ(abs.provider, Provider::kSqlite);
  EXPECT_EQ(abs.sqlite_path, "/var/lib/trellis/t.db");
  EXPECT_EQ(MustParse(Url("sqlite://./data/trellis.db")).sqlite_path, "./data/trellis.db");
  EXPECT_EQ(MustParse(Url("sqlite::memory:")).sqlite_path, ":memory:");
  EXPECT_EQ(MustParse(Url("./local.db")).sqlite_path, "./local.db");
  EXPECT_EQ(MustParse(Url("/abs/file.db")).provider, Provider::kSqlite);
  EXPECT_EQ(MustParse(Url("sqlite::memory:")).Describe(), "SQLite path=:memory:");
  EXPECT_EQ(MustParse(Url("sqlite://./x.db")).Describe(), "SQLite path=./x.db");
}

TEST(DatabaseSettingsTest, SqliteCarriesPoolAndTimeoutValues) {
  DatabaseConfigValues v = Url("sqlite::memory:");
  v.pool_size = 3;
  v.auto_migrate = false;
  v.acquire_timeout = std::chrono::seconds(9);
  DatabaseSettings s = MustParse(v);
  EXPECT_EQ(s.pool_size, 3u);
  EXPECT_FALSE(s.auto_migrate);
  EXPECT_EQ(s.acquire_timeout, std::chrono::seconds(9));
}

TEST(DatabaseSettingsTest, PostgresUrlBecomesConninfo) {
  DatabaseSettings s = MustParse(Url("postgresql://app:pw@db.internal:5433/trellis?sslmode=require"));
  EXPECT_EQ(s.provider, Provider::kPostgres);
  EXPECT_EQ(
      s.pg_conninfo,
      "user=app password=pw host=db.internal port=5433 dbname=trellis sslmode=require connect_timeout=5 "
      "application_name=trellis");
  EXPECT_EQ(s.host, "db.internal");
  EXPECT_EQ(s.port, "5433");
  EXPECT_EQ(s.dbname, "trellis");
  EXPECT_EQ(s.user, "app");
  EXPECT_EQ(s.sslmode, "require");
  EXPECT_EQ(s.Describe(), "PostgreSQL host=db.internal port=5433 db=trellis user=app sslmode=require");
}

TEST(DatabaseSettingsTest, PostgresSchemeAliasAndMinimalUrl) {
  DatabaseSettings s = MustParse(Url("postgres://db/trellis"));
  EXPECT_EQ(s.provider, Provider::kPostgres);
  EXPECT_EQ(s.pg_conninfo, "host=db dbname=trellis connect_timeout=5 application_name=trellis");
  EXPECT_EQ(s.Describe(), "PostgreSQL host=db db=trellis");
}

TEST(DatabaseSettingsTest, PercentDecodingAndQuoting) {
  DatabaseSettings s = MustParse(Url("postgresql://my%20user:p%40ss%3Aw%27rd%5C@db:5432/my%2Fdb"));
  EXPECT_EQ(s.user, "my user");
  EXPECT_EQ(s.dbname, "my/db");
  EXPECT_THAT(s.pg_conninfo, HasSubstr("user='my user'"));
  EXPECT_THAT(s.pg_conninfo, HasSubstr("password='p@ss:w\\'rd\\\\'"));
  EXPECT_THAT(s.pg_conninfo, HasSubstr("dbname=my/db"));
  EXPECT_THAT(ErrorOf(Url("postgresql://u:p%zz@db/x")), HasSubstr("percent-encoding"));
  EXPECT_THAT(ErrorOf(Url("postgresql://u:p%4@db/x")), HasSubstr("percent-encoding"));
}

TEST(DatabaseSettingsTest, QueryParametersPassThrough) {
  DatabaseSettings s = MustParse(
      Url("postgresql://db/t?application_name=api&connect_timeout=12&target_session_attrs=read-write"));
  EXPECT_THAT(s.pg_conninfo, HasSubstr("application_name=api"));
  EXPECT_THAT(s.pg_conninfo, Not(HasSubstr("application_name=trellis")));
  EXPECT_THAT(s.pg_conninfo, HasSubstr("connect_timeout=12"));
  EXPECT_THAT(s.pg_conninfo, HasSubstr("target_session_attrs=read-write"));
  EXPECT_EQ(s.connect_timeout, std::chrono::seconds(12));
}

TEST(DatabaseSettingsTest, UnknownQueryParameterIsAnError) {
  EXPECT_THAT(ErrorOf(Url("postgresql://db/t?sslmod=require")),
              AllOf(HasSubstr("unknown query parameter 'sslmod'"), HasSubstr("did you mean 'sslmode'?")));
  EXPECT_THAT(ErrorOf(Url("postgresql://db/t?sslmode=sometimes")), HasSubstr("sslmode 'sometimes'"));
  EXPECT_THAT(ErrorOf(Url("postgresql://db:port/t")), HasSubstr("port 'port'"));
}

TEST(DatabaseSettingsTest, ConnectTimeoutFromValues) {
  DatabaseConfigValues v = Url("postgresql://db/t");
  v.connect_timeout = std::chrono::milliseconds(2500);
  DatabaseSettings s = MustParse(v);
  EXPECT_THAT(s.pg_conninfo, HasSubstr("connect_timeout=3"));
  EXPECT_EQ(s.connect_timeout, std::chrono::milliseconds(2500));
}

TEST(DatabaseSettingsTest, Ipv6Host) {
  DatabaseSettings s = MustParse(Url("postgresql://u@[::1]:5432/t"));
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, "5432");
}

TEST(DatabaseSettingsTest, KeyValueFormWithEveryKeyword) {
  DatabaseSettings s = MustParse(Url(
      "Host=db.internal; Port=6432; Database=trellis; Username=app; Password=secret-pw; SSL Mode=Require; "
      "Maximum Pool Size=20; Timeout=15; Command Timeout=45; Application Name=my app;"));
  EXPECT_EQ(s.provider, Provider::kPostgres);
  EXPECT_EQ(s.host, "db.internal");
  EXPECT_EQ(s.port, "6432");
  EXPECT_EQ(s.dbname, "trellis");
  EXPECT_EQ(s.user, "app");
  EXPECT_EQ(s.sslmode, "require");
  EXPECT_EQ(s.pool_size, 20u);
  EXPECT_EQ(s.connect_timeout, std::chrono::seconds(15));
  EXPECT_EQ(s.statement_timeout, std::chrono::seconds(45));
  EXPECT_EQ(s.pg_conninfo,
            "host=db.internal port=6432 dbname=trellis user=app password=secret-pw sslmode=require "
            "connect_timeout=15 application_name='my app'");
}

TEST(DatabaseSettingsTest, KeyValueKeywordsAreCaseAndSpaceInsensitiveWithAliases) {
  DatabaseSettings s = MustParse(Url("server=db;DATABASE=t;User Id=u;sslmode=VerifyFull"));
  EXPECT_EQ(s.host, "db");
  EXPECT_EQ(s.dbname, "t");
  EXPECT_EQ(s.user, "u");
  EXPECT_EQ(s.sslmode, "verify-full");
  EXPECT_EQ(MustParse(Url("Host=db;User=u;SslMode=VerifyCA")).sslmode, "verify-ca");
  EXPECT_EQ(MustParse(Url("Host=db;SSL Mode=Disable")).sslmode, "disable");
  EXPECT_EQ(MustParse(Url("Host=db;SSL Mode=Prefer")).sslmode, "prefer");
  EXPECT_EQ(MustParse(Url("Host=db;Password=\"a;b\"\"c\"")).pg_conninfo.find("password=a;b\"c"), 0u + 8);
}

TEST(DatabaseSettingsTest, KeyValueUnknownKeywordNamesClosest) {
  EXPECT_THAT(ErrorOf(Url("Host=db;Databse=t")),
              AllOf(HasSubstr("unknown keyword 'Databse'"), HasSubstr("did you mean 'Database'?")));
  EXPECT_THAT(ErrorOf(Url("Host=db;Port=abc")), HasSubstr("port 'abc'"));
  EXPECT_THAT(ErrorOf(Url("Host=db;Maximum Pool Size=many")), HasSubstr("Maximum Pool Size"));
  EXPECT_THAT(ErrorOf(Url("Host=db;SSL Mode=Sometimes")), HasSubstr("sslmode 'sometimes'"));
  EXPECT_THAT(ErrorOf(Url("Host=db;junk")), HasSubstr("'junk' has no '=value'"));
}

TEST(DatabaseSettingsTest, ProviderMustAgreeWithUrl) {
  DatabaseConfigValues v = Url("postgresql://db/t");
  v.provider = "sqlite";
  EXPECT_EQ(
      ErrorOf(v),
      "database.provider is 'sqlite' but database.url is a PostgreSQL URL; remove database.provider or fix "
      "the URL");
  v = Url("sqlite::memory:");
  v.provider = "postgres";
  EXPECT_THAT(ErrorOf(v), HasSubstr("database.provider is 'postgres' but database.url is a SQLite URL"));
  v = Url("Host=db;Database=t");
  v.provider = "postgres";
  EXPECT_EQ(MustParse(v).provider, Provider::kPostgres);
  v.provider = "mysql";
  EXPECT_THAT(ErrorOf(v), HasSubstr("database.provider is 'mysql'"));
}

TEST(DatabaseSettingsTest, SslmodeOverrides) {
  DatabaseConfigValues v = Url("postgresql://db/t?sslmode=disable");
  v.sslmode = "verify-full";
  DatabaseSettings s = MustParse(v);
  EXPECT_EQ(s.sslmode, "verify-full");
  EXPECT_THAT(s.pg_conninfo, HasSubstr("sslmode=verify-full"));
  EXPECT_THAT(s.pg_conninfo, Not(HasSubstr("disable")));
  v.sslmode = "bogus";
  EXPECT_THAT(ErrorOf(v), HasSubstr("database.sslmode 'bogus'"));
}

TEST(DatabaseSettingsTest, PasswordOverrides) {
  DatabaseConfigValues v = Url("postgresql://app:old@db/t");
  v.password = "new pw";
  DatabaseSettings s = MustParse(v);
  EXPECT_THAT(s.pg_conninfo, HasSubstr("password='new pw'"));
  EXPECT_THAT(s.pg_conninfo, Not(HasSubstr("old")));
  DatabaseConfigValues kv = Url("Host=db;Password=old");
  kv.password = "fresh";
  EXPECT_THAT(MustParse(kv).pg_conninfo, HasSubstr("password=fresh"));
  DatabaseConfigValues none = Url("postgresql://app@db/t");
  none.password = "only";
  EXPECT_THAT(MustParse(none).pg_conninfo, HasSubstr("password=only"));
}

TEST(DatabaseSettingsTest, DescribeNeverContainsThePassword) {
  for (const char* url :
       {"postgresql://app:hunter2-secret@db/t", "Host=db;Password=hunter2-secret;Username=app",
        "postgresql://db/t?password=hunter2-secret"}) {
    DatabaseSettings s = MustParse(Url(url));
    EXPECT_THAT(s.Describe(), Not(HasSubstr("hunter2"))) << url;
    EXPECT_THAT(s.pg_conninfo, HasSubstr("hunter2-secret")) << url;
  }
  DatabaseConfigValues v = Url("postgresql://app@db/t");
  v.password = "hunter2-secret";
  EXPECT_THAT(MustParse(v).Describe(), Not(HasSubstr("hunter2")));
}

TEST(DatabaseSettingsTest, BadSchemeAndEmptyUrl) {
  EXPECT_THAT(ErrorOf(Url("mysql://db/t")),
              AllOf(HasSubstr("unsupported scheme 'mysql://'"), HasSubstr("postgresql://")));
  EXPECT_THAT(ErrorOf(Url("")), HasSubstr("database.url is empty"));
  EXPECT_THAT(ErrorOf(Url("sqlite://")), HasSubstr("names no SQLite file"));
}

TEST(DatabaseSettingsTest, RedactDatabaseUrl) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:pw@db:5432/t?sslmode=require"),
            "postgresql://app:***@db:5432/t?sslmode=require");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app@db/t"), "postgresql://app@db/t");
  EXPECT_EQ(RedactDatabaseUrl("postgres://db/t?sslmode=require&password=x"),
            "postgres://db/t?sslmode=require&password=***");
  EXPECT_EQ(RedactDatabaseUrl("Host=db;Pwd=x;Database=t"), "Host=db;Pwd=***;Database=t;");
  EXPECT_EQ(RedactDatabaseUrl("sqlite::memory:"), "sqlite::memory:");
}

}  // namespace
}  // namespace trellis
