#include "script/script_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "core/uuid.h"
#include "script/lua_json.h"

namespace trellis::script {
namespace {

using std::chrono::milliseconds;

Json Eval(ScriptEngine& engine, std::string_view expr, const Scope& scope = {}) {
  auto result = engine.EvaluateExpression(expr, scope);
  EXPECT_TRUE(result.ok()) << expr << ": " << result.status().message();
  return result.ok() ? *result : Json("<error>");
}

Status EvalError(ScriptEngine& engine, std::string_view expr, const Scope& scope = {}) {
  auto result = engine.EvaluateExpression(expr, scope);
  EXPECT_FALSE(result.ok()) << expr << " unexpectedly gave " << (result.ok() ? result->dump() : "");
  return result.status();
}

Status ChunkError(ScriptEngine& engine, std::string_view code, const Scope& scope = {}) {
  auto result = engine.RunChunk(code, scope);
  EXPECT_FALSE(result.ok()) << code << " unexpectedly gave " << (result.ok() ? result->dump() : "");
  return result.status();
}

// ---- Scope and values ----------------------------------------------------------------------

TEST(ScriptEngineTest, ComparesAnInputField) {
  ScriptEngine engine;
  Json input = {{"x", 5}};
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(Eval(engine, "input.x > 3", scope), true);
  input["x"] = 2;
  EXPECT_EQ(Eval(engine, "input.x > 3", scope), false);
}

TEST(ScriptEngineTest, SeesEveryPartOfTheScope) {
  ScriptEngine engine;
  Json input = {{"a", 1}};
  Json vars = {{"b", 2}};
  Json outputs = {{"fetch", {{"status", 200}}}};
  Json workflow = {{"id", "orders"}, {"instanceId", "i-1"}};
  Json secrets = {{"token", "s3cr3t"}};
  Scope scope{&input, &vars, &outputs, &workflow, &secrets, {}, {}};
  EXPECT_EQ(Eval(engine, "input.a + vars.b + outputs.fetch.status", scope), 203);
  EXPECT_EQ(Eval(engine, "workflow.id .. '/' .. workflow.instanceId", scope), "orders/i-1");
  EXPECT_EQ(Eval(engine, "secrets.token", scope), "s3cr3t");
}

TEST(ScriptEngineTest, MissingScopeValuesReadAsEmptyTables) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "next(input) == nil and next(vars) == nil and next(secrets) == nil"), true);
  EXPECT_EQ(Eval(engine, "outputs.fetch == nil and type(workflow) == 'table'"), true);
}

TEST(ScriptEngineTest, InnerLocalShadowsOuterLocalAndGlobals) {
  ScriptEngine engine;
  Json outer = "outer";
  Json inner = "inner";
  Json index = 3;
  Json input = {{"x", 1}};
  Json local_input = "shadowed";
  Scope scope;
  scope.input = &input;
  scope.locals = {{"item", &outer}, {"index", &index}, {"item", &inner}};
  EXPECT_EQ(Eval(engine, "item .. index", scope), "inner3");
  scope.locals.push_back({"input", &local_input});
  EXPECT_EQ(Eval(engine, "input", scope), "shadowed");
}

TEST(ScriptEngineTest, LocalWithoutValueReadsAsNil) {
  ScriptEngine engine;
  Scope scope;
  scope.locals = {{"item", nullptr}};
  EXPECT_EQ(Eval(engine, "item == nil", scope), true);
}

TEST(ScriptEngineTest, ExpressionResultKeepsItsJsonType) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "{a = 1, b = {1, 2}, c = 'x'}"), Json::parse(R"({"a":1,"b":[1,2],"c":"x"})"));
  EXPECT_TRUE(Eval(engine, "nil").is_null());
  EXPECT_TRUE(Eval(engine, "7 // 2").is_number_integer());
  EXPECT_TRUE(Eval(engine, "7 / 2").is_number_float());
  EXPECT_EQ(Eval(engine, "7 / 2"), 3.5);
  EXPECT_TRUE(Eval(engine, "json.null").is_null());
}

TEST(ScriptEngineTest, ChunkReturnsItsFirstValueOrNull) {
  ScriptEngine engine;
  auto value =
      engine.RunChunk("local total = 0\nfor i = 1, 4 do total = total + i end\nreturn total, 'ignored'", {});
  ASSERT_TRUE(value.ok()) << value.status().message();
  EXPECT_EQ(*value, 10);
  auto none = engine.RunChunk("local x = 1", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->is_null());
}

TEST(ScriptEngineTest, UnicodeStringsPassThrough) {
  ScriptEngine engine;
  Json input = {{"name", "Zoë"}};
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(Eval(engine, "input.name .. ' ✓ 😀'", scope), "Zoë ✓ 😀");
  EXPECT_EQ(Eval(engine, "utf8.len(input.name)", scope), 3);
}

TEST(ScriptEngineTest, GlobalTableIsTheEvaluationsEnvironment) {
  ScriptEngine engine;
  Json input = {{"x", 4}};
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(Eval(engine, "_G.input.x", scope), 4);
  EXPECT_EQ(Eval(engine, "_G == _ENV", scope), true);
}

// ---- Isolation between evaluations ---------------------------------------------------------

TEST(ScriptEngineTest, GlobalsDoNotSurviveTheEvaluation) {
  ScriptEngine engine;
  auto first = engine.RunChunk("leaked = 42 return leaked", {});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 42);
  EXPECT_TRUE(Eval(engine, "leaked").is_null());
}

TEST(ScriptEngineTest, ChangesToLibrariesDoNotReachTheNextEvaluation) {
  ScriptEngine engine;
  ASSERT_TRUE(engine.RunChunk("string.upper = nil; math.pi = 3; table.stash = 'x'", {}).ok());
  EXPECT_EQ(Eval(engine, "string.upper('a')"), "A");
  EXPECT_EQ(Eval(engine, "math.pi > 3.14"), true);
  EXPECT_TRUE(Eval(engine, "table.stash").is_null());
}

TEST(ScriptEngineTest, InputChangesDoNotReachTheNextEvaluation) {
  ScriptEngine engine;
  Json input = {{"x", 1}};
  Scope scope;
  scope.input = &input;
  ASSERT_TRUE(engine.RunChunk("input.x = 99", scope).ok());
  EXPECT_EQ(input["x"], 1);
  EXPECT_EQ(Eval(engine, "input.x", scope), 1);
}

TEST(ScriptEngineTest, SharedMetatablesAreProtected) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "getmetatable('')"), false);
  EXPECT_EQ(Eval(engine, "getmetatable(_ENV)"), false);
  EXPECT_EQ(Eval(engine, "getmetatable(json.array({}))"), false);
  EXPECT_NE(EvalError(engine, "setmetatable(json.array({}), {})").message().find("protected metatable"),
            std::string::npos);
  EXPECT_EQ(Eval(engine, "('abc'):upper()"), "ABC");
}

// ---- Helpers -------------------------------------------------------------------------------

TEST(ScriptEngineTest, NowReturnsTheScopesTimeInRfc3339) {
  ScriptEngine engine;
  Scope scope;
  scope.now = TimePoint(std::chrono::milliseconds(1769850000123));  // 2026-01-31T09:00:00.123Z
  EXPECT_EQ(Eval(engine, "now()", scope), "2026-01-31T09:00:00.123Z");
}

TEST(ScriptEngineTest, NowUsesTheSystemClockWhenTheScopeHasNoTime) {
  ScriptEngine engine;
  const std::string before = FormatTime(std::chrono::system_clock::now());
  const std::string now = Eval(engine, "now()").get<std::string>();
  const std::string after = FormatTime(std::chrono::system_clock::now());
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(ScriptEngineTest, UuidReturnsDistinctVersion7Uuids) {
  ScriptEngine engine;
  const std::string a = Eval(engine, "uuid()").get<std::string>();
  const std::string b = Eval(engine, "uuid()").get<std::string>();
  EXPECT_TRUE(IsUuid(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '7');
}

TEST(ScriptEngineTest, Sha256MatchesKnownVectors) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "sha256('')"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Eval(engine, "sha256('abc')"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ScriptEngineTest, HmacSha256MatchesKnownVectors) {
  ScriptEngine engine;
  // RFC 4231 test case 2.
  EXPECT_EQ(Eval(engine, "hmac_sha256('Jefe', 'what do ya want for nothing?')"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Eval(engine, "hmac_sha256('key', 'The quick brown fox jumps over the lazy dog')"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(ScriptEngineTest, Base64EncodesAndDecodes) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "base64.encode('')"), "");
  EXPECT_EQ(Eval(engine, "base64.encode('f')"), "Zg==");
  EXPECT_EQ(Eval(engine, "base64.encode('fo')"), "Zm8=");
  EXPECT_EQ(Eval(engine, "base64.encode('foobar')"), "Zm9vYmFy");
  EXPECT_EQ(Eval(engine, "base64.decode('Zm9vYmFy')"), "foobar");
  EXPECT_EQ(Eval(engine, "base64.decode('Zg==')"), "f");
  EXPECT_EQ(Eval(engine, "base64.decode('Zm8')"), "fo");  // unpadded
  EXPECT_EQ(Eval(engine, "base64.decode(base64.encode('\\0\\255\\254')) == '\\0\\255\\254'"), true);
  EXPECT_EQ(Eval(engine, "base64.decode('-_8') == base64.decode('+/8=')"), true);  // URL-safe alphabet
  EXPECT_NE(EvalError(engine, "base64.decode('Zm!v')").message().find("base64.decode: invalid character"),
            std::string::npos);
  EXPECT_NE(EvalError(engine, "base64.decode('Z')").message().find("invalid length"), std::string::npos);
}

TEST(ScriptEngineTest, HexEncodesAndDecodes) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "hex.encode('\\0\\255ab')"), "00ff6162");
  EXPECT_EQ(Eval(engine, "hex.decode('4A6f') "), "Jo");
  EXPECT_NE(EvalError(engine, "hex.decode('abc')").message().find("odd number"), std::string::npos);
  EXPECT_NE(EvalError(engine, "hex.decode('zz')").message().find("invalid hex digit"), std::string::npos);
}

TEST(ScriptEngineTest, StandardLibrariesAreAvailable) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "string.format('%05.1f', 3.14159)"), "003.1");
  EXPECT_EQ(Eval(engine, "table.concat({1, 2, 3}, ',')"), "1,2,3");
  EXPECT_EQ(Eval(engine, "math.max(1, 9, 4)"), 9);
  EXPECT_EQ(Eval(engine, "utf8.char(233)"), "é");
  EXPECT_EQ(Eval(engine, "select('#', 1, 2, 3) + tonumber('4') + rawlen({1})"), 8);
  EXPECT_EQ(Eval(engine, "type(assert) .. type(ipairs) .. type(rawequal) .. type(rawget) .. type(rawset)"),
            "functionfunctionfunctionfunctionfunction");
}

TEST(ScriptEngineTest, PcallAndXpcallCatchOrdinaryErrors) {
  ScriptEngine engine;
  EXPECT_EQ(Eval(engine, "select(2, pcall(error, 'boom', 0))"), "boom");
  EXPECT_EQ(Eval(engine, "{pcall(function() return 1, 2 end)}"), Json::parse("[true,1,2]"));
  EXPECT_EQ(
      Eval(engine, "select(2, xpcall(function() error({code = 7}) end, function(e) return e.code end))"), 7);
}

// ---- Sandbox -------------------------------------------------------------------------------

TEST(ScriptEngineTest, ForbiddenGlobalsAreAbsent) {
  ScriptEngine engine;
  for (const char* name : {"io", "os", "debug", "require", "package", "dofile", "loadfile", "collectgarbage",
                           "print", "coroutine", "warn"}) {
    EXPECT_EQ(Eval(engine, std::string("type(") + name + ")"), "nil") << name;
  }
}

TEST(ScriptEngineTest, CallingARemovedFunctionGivesAClearError) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "io.open('/etc/passwd')").message(),
            "attempt to index a nil value (global 'io')");
  EXPECT_EQ(EvalError(engine, "os.execute('true')").message(), "attempt to index a nil value (global 'os')");
  EXPECT_EQ(EvalError(engine, "dofile('/etc/passwd')").message(),
            "attempt to call a nil value (global 'dofile')");
  EXPECT_EQ(EvalError(engine, "require('socket')").message(),
            "attempt to call a nil value (global 'require')");
}

TEST(ScriptEngineTest, StringDumpIsAbsent) {
  ScriptEngine engine;
  EXPECT_TRUE(Eval(engine, "string.dump").is_null());
  EXPECT_TRUE(Eval(engine, "('x').dump").is_null());
}

TEST(ScriptEngineTest, LoadRefusesBytecode) {
  ScriptEngine engine;
  auto refused =
      engine.RunChunk("local f, err = load(string.char(27) .. 'LuaT\\0') return {f == nil, err}", {});
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  EXPECT_EQ((*refused)[0], true);
  EXPECT_NE((*refused)[1].get<std::string>().find("binary chunk"), std::string::npos);
  auto binary_mode = engine.RunChunk("local f, err = load('return 1', 'x', 'b') return {f == nil, err}", {});
  ASSERT_TRUE(binary_mode.ok());
  EXPECT_EQ((*binary_mode)[0], true);
}

TEST(ScriptEngineTest, LoadedTextRunsInTheSandbox) {
  ScriptEngine engine;
  Json input = {{"x", 6}};
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(Eval(engine, "load('return input.x * 7')()", scope), 42);
  EXPECT_EQ(Eval(engine, "load('return type(io)')()", scope), "nil");
  EXPECT_EQ(Eval(engine, "load('return x', 'chunk', 't', {x = 5})()", scope), 5);
}

TEST(ScriptEngineTest, FinalizersAreRefused) {
  ScriptEngine engine;
  EXPECT_NE(EvalError(engine, "setmetatable({}, {__gc = function() end})").message().find("__gc"),
            std::string::npos);
  EXPECT_EQ(Eval(engine, "getmetatable(setmetatable({}, {__index = {a = 1}})).__index.a"), 1);
}

// ---- Limits --------------------------------------------------------------------------------

TEST(ScriptEngineTest, InfiniteLoopHitsTheTimeLimitAndTheEngineStaysUsable) {
  ScriptEngine engine(Limits{milliseconds(50), 64u << 20});
  auto result = engine.RunChunk("while true do end", {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(result.status().message(), "script exceeded its time limit of 50ms");
  EXPECT_EQ(Eval(engine, "1 + 1"), 2);
}

TEST(ScriptEngineTest, PcallCannotShieldALoopFromTheTimeLimit) {
  ScriptEngine engine(Limits{milliseconds(50), 64u << 20});
  Status status = ChunkError(engine, "while true do pcall(function() while true do end end) end");
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  status = ChunkError(
      engine, "while true do xpcall(function() while true do end end, function() while true do end end) end");
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Eval(engine, "'still here'"), "still here");
}

TEST(ScriptEngineTest, SetLimitsChangesTheTimeLimit) {
  ScriptEngine engine;
  engine.set_limits(Limits{milliseconds(20), 64u << 20});
  EXPECT_EQ(engine.limits().time, milliseconds(20));
  EXPECT_EQ(ChunkError(engine, "local i = 0 while true do i = i + 1 end").message(),
            "script exceeded its time limit of 20ms");
}

TEST(ScriptEngineTest, GrowingTableHitsTheMemoryLimitAndTheEngineStaysUsable) {
  ScriptEngine engine;
  const size_t before = engine.memory_in_use();
  Status status = ChunkError(engine, "local t = {} while true do t[#t + 1] = string.rep('x', 1e6) end");
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "script exceeded its memory limit of 64 MiB");
  EXPECT_LT(engine.memory_in_use(), before + (1u << 20));
  EXPECT_EQ(Eval(engine, "#string.rep('ab', 1000)"), 2000);
}

TEST(ScriptEngineTest, HugeStringHitsTheMemoryLimitEvenUnderPcall) {
  ScriptEngine engine(Limits{milliseconds(1000), 8u << 20});
  Status status = EvalError(engine, "string.rep('x', 2e9)");
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "script exceeded its memory limit of 8 MiB");
  EXPECT_EQ(EvalError(engine, "pcall(string.rep, 'x', 2e9)").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Eval(engine, "#string.rep('x', 1e6)"), 1000000);
}

TEST(ScriptEngineTest, StringBeyondLuasSizeLimitFailsCleanly) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "string.rep('x', 1e10)").message(), "resulting string too large");
  EXPECT_EQ(Eval(engine, "#string.rep('x', 10)"), 10);
}

TEST(ScriptEngineTest, MemoryLimitCountsConvertedInput) {
  ScriptEngine engine(Limits{milliseconds(1000), 1u << 20});
  Json input = Json::array();
  for (int i = 0; i < 20000; ++i) input.push_back(std::string(100, 'x'));
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(EvalError(engine, "#input", scope).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Eval(engine, "#vars", scope), 0);  // input is only converted when touched
}

TEST(ScriptEngineTest, DeepLuaRecursionFailsCleanly) {
  ScriptEngine engine;
  Status status = ChunkError(engine, "local function f(n) return 1 + f(n + 1) end return f(1)");
  EXPECT_TRUE(status.code() == StatusCode::kFailedPrecondition ||
              status.code() == StatusCode::kResourceExhausted)
      << status.ToString();
  EXPECT_EQ(Eval(engine, "2 * 21"), 42);
}

TEST(ScriptEngineTest, DeepCRecursionFailsCleanly) {
  ScriptEngine engine;
  Status through_metamethod =
      ChunkError(engine, "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x");
  EXPECT_NE(through_metamethod.message().find("stack overflow"), std::string::npos)
      << through_metamethod.message();
  Status through_gsub = ChunkError(engine, "local function f(s) return (s:gsub('.', f)) end return f('x')");
  EXPECT_NE(through_gsub.message().find("stack overflow"), std::string::npos) << through_gsub.message();
  auto through_pcall = engine.RunChunk("local function f() return pcall(f) end return f()", {});
  ASSERT_TRUE(through_pcall.ok()) << through_pcall.status().message();
  EXPECT_EQ(Eval(engine, "'ok'"), "ok");
}

// ---- Errors --------------------------------------------------------------------------------

TEST(ScriptEngineTest, RuntimeErrorReadsWithoutTheChunkName) {
  ScriptEngine engine;
  Json outputs = {{"fetch", {{"status", 500}}}};
  Scope scope;
  scope.outputs = &outputs;
  Status status = EvalError(engine, "outputs.fetch.body.total", scope);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "attempt to index a nil value (field 'body')");
  EXPECT_EQ(EvalError(engine, "error('boom')").message(), "boom");
}

TEST(ScriptEngineTest, ChunkErrorNamesTheLine) {
  ScriptEngine engine;
  EXPECT_EQ(ChunkError(engine, "local a = 1\nerror('boom')").message(), "line 2: boom");
  EXPECT_EQ(ChunkError(engine, "error('plain', 0)").message(), "plain");
}

TEST(ScriptEngineTest, NonStringErrorValuesAreDescribed) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "error({code = 42})").message(), "error: {\"code\":42}");
  EXPECT_EQ(EvalError(engine, "error(function() end)").message(), "error object is a function value");
}

TEST(ScriptEngineTest, CompileErrorIsAnInvalidArgument) {
  ScriptEngine engine;
  Status status = EvalError(engine, "1 +");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("expr:", 0), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("near <eof>"), std::string::npos) << status.message();
  EXPECT_EQ(ChunkError(engine, "x = = 1").code(), StatusCode::kInvalidArgument);
}

TEST(ScriptEngineTest, CheckCompilesWithoutRunning) {
  ScriptEngine engine;
  EXPECT_TRUE(engine.CheckExpression("input.x > 3").ok());
  EXPECT_TRUE(engine.CheckExpression("error('not run')").ok());
  EXPECT_EQ(engine.CheckExpression("input.x >").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine.CheckExpression("1; os.exit()").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(engine.CheckChunk("local x = 1\nreturn x").ok());
  Status bad = engine.CheckChunk("local x = \nreturn");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message().rfind("line 2: ", 0), 0u) << bad.message();
}

TEST(ScriptEngineTest, ResultThatIsNotJsonIsAnError) {
  ScriptEngine engine;
  EXPECT_EQ(EvalError(engine, "function() end").message(), "cannot convert a function to JSON");
  EXPECT_EQ(EvalError(engine, "{handler = print or tostring}").message(),
            "cannot convert a function to JSON (at .handler)");
  EXPECT_NE(EvalError(engine, "string.char(255)").message().find("UTF-8"), std::string::npos);
  EXPECT_NE(EvalError(engine, "0/0").message().find("NaN"), std::string::npos);
}

// ---- Lazy outputs --------------------------------------------------------------------------

Json Nested(int depth) {
  Json value = 1;
  for (int i = 0; i < depth; ++i) value = Json::array({value});
  return value;
}

TEST(ScriptEngineTest, OutputsAreConvertedOnlyWhenTouched) {
  ScriptEngine engine;
  // "huge" cannot be converted at all (too deep), so touching only "small" proves laziness.
  Json outputs = {{"small", {{"v", 1}}}, {"huge", Nested(kMaxJsonDepth + 10)}};
  Scope scope;
  scope.outputs = &outputs;
  EXPECT_EQ(Eval(engine, "outputs.small.v", scope), 1);
  EXPECT_NE(EvalError(engine, "outputs.huge", scope).message().find("nesting"), std::string::npos);
}

TEST(ScriptEngineTest, OutputsIterateAndConvertAsAWhole) {
  ScriptEngine engine;
  Json outputs = {{"a", {{"v", 1}}}, {"b", {{"v", 2}}}};
  Scope scope;
  scope.outputs = &outputs;
  auto count =
      engine.RunChunk("local n = 0 for id, out in pairs(outputs) do n = n + out.v end return n", scope);
  ASSERT_TRUE(count.ok()) << count.status().message();
  EXPECT_EQ(*count, 3);
  EXPECT_EQ(Eval(engine, "outputs", scope), outputs);
  auto changed = engine.RunChunk("outputs.a.v = 10 outputs.c = 3 return outputs", scope);
  ASSERT_TRUE(changed.ok()) << changed.status().message();
  EXPECT_EQ(*changed, Json::parse(R"({"a":{"v":10},"b":{"v":2},"c":3})"));
  EXPECT_EQ(Eval(engine, "json.encode(outputs)", scope), R"({"a":{"v":1},"b":{"v":2}})");
}

// ---- Compiled-chunk cache ------------------------------------------------------------------

TEST(ScriptEngineTest, RepeatedEvaluationKeepsMemoryBounded) {
  ScriptEngine engine;
  Json input = {{"x", 5}, {"items", {1, 2, 3}}};
  Scope scope;
  scope.input = &input;
  EXPECT_EQ(Eval(engine, "input.x > 3 and #input.items == 3", scope), true);
  const size_t baseline = engine.memory_in_use();
  for (int i = 0; i < 10000; ++i) {
    auto result = engine.EvaluateExpression("input.x > 3 and #input.items == 3", scope);
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(*result, true);
  }
  EXPECT_LT(engine.memory_in_use(), baseline + (1u << 20));
}

TEST(ScriptEngineTest, CacheEvictsLeastRecentlyUsedChunks) {
  ScriptEngine engine;
  // Each chunk holds a 4 KiB constant: 5000 of them would need 20 MiB if all stayed cached.
  const std::string padding(4096, 'p');
  for (int i = 0; i < 5000; ++i) {
    auto result = engine.EvaluateExpression("#'" + padding + "' + " + std::to_string(i), {});
    ASSERT_TRUE(result.ok()) << result.status().message();
    ASSERT_EQ(*result, 4096 + i);
  }
  EXPECT_LT(engine.memory_in_use(), 16u << 20);
}

// ---- Threads -------------------------------------------------------------------------------

TEST(ScriptEngineTest, EachThreadHasItsOwnEngine) {
  ScriptEngine* main_engine = &ScriptEngine::ForThisThread();
  EXPECT_EQ(main_engine, &ScriptEngine::ForThisThread());
  ScriptEngine* other_engine = nullptr;
  Json result;
  std::thread worker([&] {
    other_engine = &ScriptEngine::ForThisThread();
    result = other_engine->EvaluateExpression("6 * 7", {}).value();
  });
  worker.join();
  EXPECT_NE(main_engine, other_engine);
  EXPECT_EQ(result, 42);
}

}  // namespace
}  // namespace trellis::script
