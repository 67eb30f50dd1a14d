#include "script/template.h"

#include <gtest/gtest.h>

namespace trellis::script {
namespace {

std::vector<TemplatePart> Parse(std::string_view text) {
  auto parts = ParseTemplate(text);
  EXPECT_TRUE(parts.ok()) << text << ": " << parts.status().message();
  return parts.ok() ? *parts : std::vector<TemplatePart>{};
}

class TemplateTest : public ::testing::Test {
 protected:
  TemplateTest() {
    scope_.input = &input_;
    scope_.outputs = &outputs_;
    scope_.secrets = &secrets_;
  }

  Json Evaluate(const Json& value) {
    auto result = EvaluateValue(value, engine_, scope_);
    EXPECT_TRUE(result.ok()) << value.dump() << ": " << result.status().message();
    return result.ok() ? *result : Json("<error>");
  }

  ScriptEngine engine_;
  Json input_ = {{"n", 5}, {"name", "Ada"}, {"items", {1, 2, 3}}, {"none", nullptr}};
  Json outputs_ = {{"fetch", {{"body", {{"total", 42}}}}}};
  Json secrets_ = {{"token", "t0k"}};
  Scope scope_;
};

// ---- Parsing -------------------------------------------------------------------------------

TEST(TemplateParseTest, SplitsLiteralsAndTrimmedExpressions) {
  auto parts = Parse("Hello {{ input.name }}, you have {{input.n}} items");
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_FALSE(parts[0].is_expression);
  EXPECT_EQ(parts[0].text, "Hello ");
  EXPECT_TRUE(parts[1].is_expression);
  EXPECT_EQ(parts[1].text, "input.name");
  EXPECT_EQ(parts[2].text, ", you have ");
  EXPECT_EQ(parts[3].text, "input.n");
  EXPECT_TRUE(parts[3].is_expression);
  EXPECT_EQ(parts[4].text, " items");
}

TEST(TemplateParseTest, TextWithoutTemplatesIsOneLiteral) {
  auto parts = Parse("plain }} text");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_FALSE(parts[0].is_expression);
  EXPECT_EQ(parts[0].text, "plain }} text");
  EXPECT_TRUE(Parse("").empty());
}

TEST(TemplateParseTest, TableConstructorBracesNest) {
  auto parts = Parse("{{ {a={b=1}} }}");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].text, "{a={b=1}}");
  parts = Parse("{{ {1,{2}}}}!");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].text, "{1,{2}}");
  EXPECT_EQ(parts[1].text, "!");
}

TEST(TemplateParseTest, ClosingBracesInsideLuaStringsDoNotClose) {
  EXPECT_EQ(Parse("{{ '}}' }}")[0].text, "'}}'");
  EXPECT_EQ(Parse(R"({{ "a}}\"}}" .. x }})")[0].text, R"("a}}\"}}" .. x)");
  EXPECT_EQ(Parse("{{ [[}}]] }}")[0].text, "[[}}]]");
  EXPECT_EQ(Parse("{{ [==[ ]] }} ]==] }}")[0].text, "[==[ ]] }} ]==]");
  EXPECT_EQ(Parse("{{ t[1] }}")[0].text, "t[1]");
}

TEST(TemplateParseTest, UnclosedTemplateIsAnErrorNamingThePosition) {
  auto parts = ParseTemplate("ab {{ input.x");
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parts.status().message(), "unclosed '{{' at position 4");
  EXPECT_EQ(ParseTemplate("{{ 1 }} {{ '}}").status().message(), "unclosed '{{' at position 9");
  EXPECT_EQ(ParseTemplate("{{ {a=1 }}").status().message(), "unclosed '{{' at position 1");
}

TEST(TemplateParseTest, EmptyTemplateIsAnError) {
  EXPECT_EQ(ParseTemplate("x {{  }}").status().message(), "empty '{{ }}' at position 3");
}

TEST(TemplateParseTest, DetectsTemplatesInStringsAndValues) {
  EXPECT_TRUE(HasTemplate("a {{ b }}"));
  EXPECT_FALSE(HasTemplate("a { b }"));
  EXPECT_TRUE(ValueHasTemplate(Json::parse(R"({"a":[1,{"b":"{{ x }}"}]})")));
  EXPECT_FALSE(ValueHasTemplate(Json::parse(R"({"a":[1,{"b":"x"}],"c":null})")));
}

// ---- Evaluation ----------------------------------------------------------------------------

TEST_F(TemplateTest, SingleTemplateKeepsTheExpressionsType) {
  EXPECT_EQ(Evaluate("{{ input.n }}"), 5);
  EXPECT_EQ(Evaluate("{{ input.items }}"), Json::parse("[1,2,3]"));
  EXPECT_EQ(Evaluate("{{ input.n > 3 }}"), true);
  EXPECT_TRUE(Evaluate("{{ input.missing }}").is_null());
  EXPECT_EQ(Evaluate("{{ {a={b=1}} }}"), Json::parse(R"({"a":{"b":1}})"));
  EXPECT_EQ(Evaluate("{{ outputs.fetch.body.total }}"), 42);
}

TEST_F(TemplateTest, MixedTextIsInterpolated) {
  EXPECT_EQ(Evaluate("Hi {{ input.name }}, n={{ input.n }}"), "Hi Ada, n=5");
  EXPECT_EQ(Evaluate("f={{ 1.5 }} i={{ 6/2 }} big={{ 1e20 }} b={{ true }},{{ false }}"),
            "f=1.5 i=3 big=1e+20 b=true,false");
  EXPECT_EQ(Evaluate("nil=[{{ nil }}] null=[{{ input.none }}]"), "nil=[] null=[]");
  EXPECT_EQ(Evaluate("t={{ input.items }} o={{ {a = 'x'} }}"), R"(t=[1,2,3] o={"a":"x"})");
  EXPECT_EQ(Evaluate("Bearer {{ secrets.token }}"), "Bearer t0k");
}

TEST_F(TemplateTest, SurroundingTextMakesAStringEvenForOneTemplate) {
  EXPECT_EQ(Evaluate(" {{ input.n }}"), " 5");
  EXPECT_EQ(Evaluate("{{ input.n }}{{ input.n }}"), "55");
}

TEST_F(TemplateTest, ObjectsAndArraysAreWalkedAndKeepTheirShape) {
  const Json body = Json::parse(R"({
    "total": "{{ outputs.fetch.body.total }}",
    "label": "order {{ input.name }}",
    "list": ["{{ input.n }}", 7, {"deep": "{{ input.n * 2 }}"}],
    "untouched": {"x": null, "y": "plain"}
  })");
  EXPECT_EQ(Evaluate(body), Json::parse(R"({
    "total": 42, "label": "order Ada", "list": [5, 7, {"deep": 10}],
    "untouched": {"x": null, "y": "plain"}})"));
}

TEST_F(TemplateTest, EvaluationErrorNamesThePath) {
  auto result =
      EvaluateValue(Json::parse(R"({"headers": {"X": "{{ outputs.nope.body }}"}})"), engine_, scope_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(result.status().message(), "attempt to index a nil value (field 'nope') (at .headers.X)");
  auto unclosed = EvaluateValue(Json::parse(R"(["ok", "{{ x"])"), engine_, scope_);
  ASSERT_FALSE(unclosed.ok());
  EXPECT_EQ(unclosed.status().message(), "unclosed '{{' at position 1 (at [1])");
  auto top = EvaluateValue(Json("{{ error('boom') }}"), engine_, scope_);
  EXPECT_EQ(top.status().message(), "boom");
}

TEST_F(TemplateTest, LoopLocalsAreVisible) {
  Json item = {{"id", "x1"}};
  Json index = 2;
  scope_.locals = {{"item", &item}, {"index", &index}};
  EXPECT_EQ(Evaluate("{{ item.id }}#{{ index }}"), "x1#2");
}

// ---- Checking ------------------------------------------------------------------------------

TEST_F(TemplateTest, CheckReportsEveryBrokenTemplateWithItsPath) {
  const Json value = Json::parse(R"({
    "headers": {"Authorization": "Bearer {{ secrets. }}", "Accept": "application/json"},
    "items": [1, "{{ input.n }}", "{{ ( }}"],
    "bad": "{{ x",
    "fine": "{{ error('only at run time') }}"
  })");
  const auto errors = CheckValue(value, engine_);
  // Object keys are visited in sorted order (Json keeps keys sorted).
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, ".bad");
  EXPECT_EQ(errors[0].message, "unclosed '{{' at position 1");
  EXPECT_EQ(errors[1].path, ".headers.Authorization");
  EXPECT_NE(errors[1].message.find("<name> expected"), std::string::npos) << errors[1].message;
  EXPECT_EQ(errors[2].path, ".items[2]");
}

TEST_F(TemplateTest, CheckOfAValidValueReportsNothing) {
  EXPECT_TRUE(CheckValue(Json::parse(R"({"a": "{{ 1 }}", "b": [null, 2, "x {{ y }}"]})"), engine_).empty());
  const auto errors = CheckValue(Json("{{ 1 + }}"), engine_);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "");
}

}  // namespace
}  // namespace trellis::script
