#include "http/router.h"

#include <gtest/gtest.h>

namespace trellis::http {
namespace {

Handler Named(std::string* hit, std::string name) {
  return [hit, name](Request&, Reply) { *hit = name; };
}

TEST(RouterTest, LiteralSegmentsBeatParameters) {
  std::string hit;
  Router r;
  r.Add("GET", "/api/workflows/{id}", Named(&hit, "get"));
  r.Add("POST", "/api/workflows/validate", Named(&hit, "validate"));
  r.Add("POST", "/api/workflows/{id}/execute", Named(&hit, "execute"));
  auto m = r.Find("POST", "/api/workflows/validate");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/workflows/validate");
  m = r.Find("GET", "/api/workflows/orders");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("id"), "orders");
  m = r.Find("POST", "/api/workflows/orders/execute");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/workflows/{id}/execute");
}

TEST(RouterTest, WrongMethodListsAllowedMethods) {
  std::string hit;
  Router r;
  r.Add("GET", "/api/instances/{id}", Named(&hit, "get"));
  r.Add("DELETE", "/api/instances/{id}", Named(&hit, "delete"));
  auto m = r.Find("PATCH", "/api/instances/x");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "DELETE"}));
  m = r.Find("GET", "/api/nothing");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allowed.empty());
}

TEST(RouterTest, RestParameterTakesTheRemainingPath) {
  std::string hit;
  Router r;
  r.Add("*", "/hooks/{path...}", Named(&hit, "hook"));
  auto m = r.Find("PUT", "/hooks/github/push/events");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("path"), "github/push/events");
  EXPECT_EQ(r.Find("GET", "/hooks").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/hooks/").route, nullptr);
}

TEST(RouterTest, ExtraOrMissingSegmentsDoNotMatch) {
  std::string hit;
  Router r;
  r.Add("GET", "/api/workflows/{id}/versions/{version}", Named(&hit, "v"));
  EXPECT_EQ(r.Find("GET", "/api/workflows/a/versions").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/workflows/a/versions/1/x").route, nullptr);
  auto m = r.Find("GET", "/api/workflows/a/versions/3/");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("version"), "3");
}

TEST(TargetTest, DecodesPathAndQuery) {
  std::string path;
  std::multimap<std::string, std::string> query;
  ASSERT_TRUE(ParseTarget("/api/a%20b?x=1&y=hello+world&x=2&flag&z=%2F", &path, &query));
  EXPECT_EQ(path, "/api/a b");
  EXPECT_EQ(query.count("x"), 2u);
  Request r;
  r.query = query;
  EXPECT_EQ(r.Query("x"), "2");
  EXPECT_EQ(r.Query("y"), "hello world");
  EXPECT_EQ(r.Query("flag"), "");
  EXPECT_EQ(r.Query("z"), "/");
}

TEST(TargetTest, RejectsMalformedTargets) {
  std::string path;
  std::multimap<std::string, std::string> query;
  EXPECT_FALSE(ParseTarget("", &path, &query));
  EXPECT_FALSE(ParseTarget("api", &path, &query));
  EXPECT_FALSE(ParseTarget("/a%zz", &path, &query));
  EXPECT_FALSE(ParseTarget("/a%4", &path, &query));
  EXPECT_FALSE(ParseTarget("/a%00b", &path, &query));
  EXPECT_FALSE(ParseTarget("/a?x=%G1", &path, &query));
  EXPECT_TRUE(ParseTarget("/a%41", &path, &query));
  EXPECT_EQ(path, "/aA");
}

}  // namespace
}  // namespace trellis::http
