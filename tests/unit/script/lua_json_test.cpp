#include "script/lua_json.h"

#include <gtest/gtest.h>

#include <lua.hpp>

#include "script/script_engine.h"

namespace trellis::script {
namespace {

Json Eval(ScriptEngine& engine, std::string_view expr) {
  auto result = engine.EvaluateExpression(expr, {});
  EXPECT_TRUE(result.ok()) << expr << ": " << result.status().message();
  return result.ok() ? *result : Json("<error>");
}

std::string EvalError(ScriptEngine& engine, std::string_view expr) {
  auto result = engine.EvaluateExpression(expr, {});
  EXPECT_FALSE(result.ok()) << expr << " unexpectedly gave " << (result.ok() ? result->dump() : "");
  return result.status().message();
}

// A bare state with JSON support, for the conversion functions on their own.
class RawState {
 public:
  RawState() : L_(luaL_newstate()) {
    luaL_openlibs(L_);
    lua_pushcfunction(L_, [](lua_State* L) {
      InstallJsonSupport(L);
      return 0;
    });
    EXPECT_EQ(lua_pcall(L_, 0, 0, 0), LUA_OK);
  }
  ~RawState() { lua_close(L_); }
  lua_State* get() const { return L_; }

  // Pushes `value` in protected mode; returns Lua's error message or "".
  std::string Push(const Json& value) {
    lua_pushcfunction(L_, [](lua_State* L) {
      PushJson(L, *static_cast<const Json*>(lua_touserdata(L, 1)));
      return 1;
    });
    lua_pushlightuserdata(L_, const_cast<Json*>(&value));
    if (lua_pcall(L_, 1, 1, 0) == LUA_OK) return "";
    std::string error = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return error;
  }

  // Runs Lua code that leaves one value on the stack.
  void Run(const char* code) { ASSERT_EQ(luaL_dostring(L_, code), LUA_OK) << lua_tostring(L_, -1); }

 private:
  lua_State* L_;
};

// ---- Through json.encode / json.decode -----------------------------------------------------

TEST(LuaJsonTest, EmptyArrayAndEmptyObjectRoundTrip) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, R"(json.encode(json.decode('{"a":[],"b":{}}')))"), R"({"a":[],"b":{}})");
}

TEST(LuaJsonTest, EmptyTableIsAnObjectUnlessMarkedAsArray) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "json.encode({})"), "{}");
  EXPECT_EQ(Eval(engine, "json.encode(json.array({}))"), "[]");
  EXPECT_EQ(Eval(engine, "json.encode(json.array())"), "[]");
  EXPECT_EQ(Eval(engine, "json.array({})"), Json::array());
}

TEST(LuaJsonTest, ArraysAreOneBased) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "json.decode('[10, 20, 30]')[1]"), 10);
  EXPECT_EQ(Eval(engine, "#json.decode('[10, 20, 30]')"), 3);
  EXPECT_EQ(Eval(engine, "json.encode({'a', 'b'})"), R"(["a","b"])");
}

TEST(LuaJsonTest, NullsRoundTripAsTheSentinel) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "json.encode(json.decode('[1,null,3]'))"), "[1,null,3]");
  EXPECT_EQ(Eval(engine, "json.decode('{\"a\":null}').a == json.null"), true);
  EXPECT_EQ(Eval(engine, "tostring(json.null)"), "null");
  EXPECT_EQ(Eval(engine, "json.encode({a = json.null})"), R"({"a":null})");
  EXPECT_EQ(Eval(engine, "json.encode(nil)"), "null");
}

TEST(LuaJsonTest, IntegersStayIntegersAndFloatsStayFloats) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "math.type(json.decode('1'))"), "integer");
  EXPECT_EQ(Eval(engine, "math.type(json.decode('1.0'))"), "float");
  EXPECT_EQ(Eval(engine, "json.encode({3, 3.0, 2.5, -7})"), "[3,3.0,2.5,-7]");
  EXPECT_EQ(Eval(engine, "json.decode('9007199254740993')"), 9007199254740993);
  EXPECT_EQ(Eval(engine, "math.type(json.decode('18446744073709551615'))"), "float");
}

TEST(LuaJsonTest, UnicodeRoundTrips) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, R"(json.decode('"h\\u00e9llo \\u2713 \\ud83d\\ude00"'))"), "héllo ✓ 😀");
  EXPECT_EQ(Eval(engine, "json.encode('Zoë ✓ 😀')"), "\"Zoë ✓ 😀\"");
  EXPECT_EQ(Eval(engine, "json.decode(json.encode({name = 'Zoë'})).name"), "Zoë");
}

TEST(LuaJsonTest, TablesWithKeysOneToNAreArraysOthersObjectsWithSortedKeys) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "json.encode({[1] = 'a', [2] = 'b'})"), R"(["a","b"])");
  EXPECT_EQ(Eval(engine, "json.encode({[1] = 'a', [3] = 'c'})"), R"({"1":"a","3":"c"})");
  EXPECT_EQ(Eval(engine, "json.encode({[1] = 'a', x = true})"), R"({"1":"a","x":true})");
  EXPECT_EQ(Eval(engine, "json.encode({zeta = 1, alpha = 2, mid = 3})"), R"({"alpha":2,"mid":3,"zeta":1})");
  EXPECT_EQ(Eval(engine, "json.encode({[1.5] = 'f', [true] = 't'})"), R"({"1.5":"f","true":"t"})");
}

TEST(LuaJsonTest, EncodeCanIndent) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "json.encode({a = 1}, 2)"), "{\n  \"a\": 1\n}");
}

TEST(LuaJsonTest, SharedTablesAreFineButCyclesAreErrors) {
  ScriptEngine engine;
  EXPECT_EQ(
      Eval(engine, "(function() local shared = {1} return json.encode({a = shared, b = shared}) end)()"),
      R"({"a":[1],"b":[1]})");
  EXPECT_EQ(EvalError(engine, "(function() local t = {} t.self = t return json.encode(t) end)()"),
            "json.encode: cannot convert a table that contains itself to JSON (at .self)");
}

TEST(LuaJsonTest, DeepNestingIsAnErrorInBothDirections) {
  ScriptEngine engine;
  EXPECT_NE(EvalError(engine, "json.decode(string.rep('[', 100000) .. string.rep(']', 100000))")
                .find("JSON nesting is deeper than 256 levels"),
            std::string::npos);
  EXPECT_NE(EvalError(engine, "(function() local t = {} for i = 1, 1000 do t = {t} end return t end)()")
                .find("nested deeper than 256 levels"),
            std::string::npos);
  EXPECT_EQ(Eval(engine, "json.encode(json.decode(string.rep('[', 200) .. string.rep(']', 200))):len()"),
            400);
}

TEST(LuaJsonTest, ValuesWithoutJsonFormAreErrors) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "json.encode(print or tostring)"),
            "json.encode: cannot convert a function to JSON");
  EXPECT_EQ(EvalError(engine, "json.encode({list = {1, {f = tostring}}})"),
            "json.encode: cannot convert a function to JSON (at .list[2].f)");
  EXPECT_EQ(EvalError(engine, "json.encode(1/0)"), "json.encode: cannot convert NaN or infinity to JSON");
  EXPECT_NE(EvalError(engine, "json.encode('\\xff')").find("UTF-8"), std::string::npos);
  EXPECT_EQ(EvalError(engine, "json.encode({[{}] = 1})"),
            "json.encode: cannot use a table as a JSON object key");
}

TEST(LuaJsonTest, DecodeErrorsAreReadable) {
  ScriptEngine engine;
  const std::string message = EvalError(engine, "json.decode('{bad')");
  EXPECT_EQ(message.rfind("json.decode: parse error at line 1, column 2", 0), 0u) << message;
  EXPECT_EQ(EvalError(engine, "json.decode()"),
            "bad argument #1 to 'decode' (string expected, got no value)");
}

TEST(LuaJsonTest, ArrayMarkRefusesATableWithAnotherMetatable) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "json.array(setmetatable({}, {}))"),
            "json.array: the table already has a metatable");
  EXPECT_EQ(Eval(engine, "json.encode(json.array(json.array({})))"), "[]");
}

// ---- The C++ functions on a bare state -----------------------------------------------------

TEST(LuaJsonTest, DocumentRoundTripsThroughLua) {
  RawState state;
  const Json document = Json::parse(R"({"name":"order","items":[{"sku":"a","qty":2,"price":9.5}],
    "empty_list":[],"empty_object":{},"nothing":null,"ok":true,"big":-9007199254740993})");
  ASSERT_EQ(state.Push(document), "");
  Json back;
  std::string error;
  ASSERT_TRUE(LuaToJson(state.get(), -1, &back, &error)) << error;
  // Keys come back sorted; compare as values.
  EXPECT_EQ(back, Json::parse(back.dump()));
  EXPECT_EQ(Json::parse(back.dump()), Json(nlohmann::json::parse(document.dump())));
  EXPECT_EQ(back["items"][0]["qty"], 2);
  EXPECT_TRUE(back["items"][0]["price"].is_number_float());
  EXPECT_TRUE(back["empty_list"].is_array());
  EXPECT_TRUE(back["empty_object"].is_object());
}

TEST(LuaJsonTest, ConversionToJsonLeavesTheStackAsItWas) {
  RawState state;
  state.Run("return {a = {1, 2}, b = function() end}");
  const int top = lua_gettop(state.get());
  Json out;
  std::string error;
  EXPECT_FALSE(LuaToJson(state.get(), -1, &out, &error));
  EXPECT_EQ(error, "cannot convert a function to JSON (at .b)");
  EXPECT_EQ(lua_gettop(state.get()), top);
}

TEST(LuaJsonTest, PushRefusesTooDeepValues) {
  RawState state;
  Json deep = 1;
  for (int i = 0; i < kMaxJsonDepth + 1; ++i) deep = Json::array({deep});
  EXPECT_NE(state.Push(deep).find("deeper than"), std::string::npos);
}

TEST(LuaJsonTest, NullSentinelIsRecognised) {
  RawState state;
  PushJsonNull(state.get());
  EXPECT_TRUE(IsJsonNull(state.get(), -1));
  lua_pushnil(state.get());
  EXPECT_FALSE(IsJsonNull(state.get(), -1));
}

TEST(LuaJsonTest, LazyObjectConvertsBackToItsBackingWithChangesLaidOver) {
  RawState state;
  const Json backing = {{"a", {{"v", 1}}}, {"b", 2}};
  lua_State* L = state.get();
  lua_pushcfunction(L, [](lua_State* L) {
    PushLazyObject(L, static_cast<const Json*>(lua_touserdata(L, 1)));
    return 1;
  });
  lua_pushlightuserdata(L, const_cast<Json*>(&backing));
  ASSERT_EQ(lua_pcall(L, 1, 1, 0), LUA_OK);
  lua_setglobal(L, "lazy");
  state.Run("return rawget(lazy, 'a') == nil and lazy.a.v == 1 and rawget(lazy, 'a') ~= nil");
  EXPECT_TRUE(lua_toboolean(L, -1));
  state.Run("lazy.c = 3 lazy.a.v = 5 return lazy");
  Json out;
  std::string error;
  ASSERT_TRUE(LuaToJson(L, -1, &out, &error)) << error;
  EXPECT_EQ(out, Json::parse(R"({"a":{"v":5},"b":2,"c":3})"));
}

}  // namespace
}  // namespace trellis::script
