// Transform: a JSON value with templates inside, evaluated keeping its shape and types.
#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;

TEST(TransformTest, NestedTemplatesKeepShapeAndTypes) {
  Harness h;
  auto wf = Compile(R"(activities:
  - id: t
    type: Transform
    value:
      total: "{{ input.n * 2 }}"
      half: "{{ input.n / 2 }}"
      label: "n={{ input.n }}"
      flag: "{{ input.n > 1 }}"
      items: ["{{ input.a }}", "x-{{ input.n }}", 3, "{{ input.list }}"]
      nested: {deep: "{{ input.obj }}", none: "{{ nil }}", empty: "{{ '' }}"}
      literal: 5
      text: plain
      yes: yes
      null_literal: null
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"n", 3}, {"a", "A"}, {"list", {1, 2}}, {"obj", {{"k", "v"}}}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  const Json& out = s.outputs["t"];
  EXPECT_EQ(out, Json::parse(R"({
    "total": 6, "half": 1.5, "label": "n=3", "flag": true,
    "items": ["A", "x-3", 3, [1, 2]],
    "nested": {"deep": {"k": "v"}, "none": null, "empty": ""},
    "literal": 5, "text": "plain", "yes": "yes", "null_literal": null})"));
  EXPECT_TRUE(out["total"].is_number_integer());
  EXPECT_TRUE(out["half"].is_number_float());
  EXPECT_TRUE(out["flag"].is_boolean());
  EXPECT_TRUE(out["items"][3].is_array());
  EXPECT_TRUE(out["literal"].is_number_integer());
  ASSERT_NE(h.Record("t"), nullptr);
  EXPECT_EQ(h.Record("t")->output, out);
}

TEST(TransformTest, AWholeTemplateValueTakesTheExpressionsType) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: Transform, value: "{{ input.list }}"}
  - {id: b, type: Transform, value: "{{ #input.list }}"}
  - {id: c, type: Transform, value: "{{ outputs.a[2] }}"}
  - {id: d, type: Transform, value: {from_a: "{{ outputs.a }}"}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"list", {10, 20, 30}}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["a"], Json({10, 20, 30}));
  EXPECT_EQ(s.outputs["b"], 3);
  EXPECT_EQ(s.outputs["c"], 20);  // Lua arrays are 1-based
  EXPECT_EQ(s.outputs["d"], Json({{"from_a", {10, 20, 30}}}));
}

TEST(TransformTest, AValueWithoutTemplatesIsReturnedAsIs) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: t, type: Transform, value: {a: [1, {b: "c"}], d: 1.25, e: false}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.outputs["t"], Json::parse(R"({"a": [1, {"b": "c"}], "d": 1.25, "e": false})"));
}

TEST(TransformTest, ValueIsRequiredAndBrokenTemplatesAreRefused) {
  auto errors = CompileErrors("activities: [{id: t, type: Transform}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.value");

  errors = CompileErrors("activities: [{id: t, type: Transform, value: {a: [ok, \"{{ 1 + }}\"]}}]\n");
  ASSERT_EQ(errors.size(), 1u) << activity_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.value.a[1]");
}

TEST(TransformTest, ARunTimeErrorNamesTheInput) {
  Harness h;
  auto wf = Compile("activities: [{id: t, type: Transform, value: {a: \"{{ input.x.y }}\"}}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("value"), std::string::npos) << s.incidents[0].message;
}

}  // namespace
}  // namespace trellis
