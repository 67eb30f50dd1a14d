#include "script/script_engine.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <list>
#include <lua.hpp>
#include <unordered_map>

#include "core/uuid.h"
#include "script/lua_helpers.h"
#include "script/lua_json.h"

// How an evaluation runs (see README.md): the chunk for the source text comes from an LRU cache
// of compiled functions; a fresh environment table becomes its _ENV upvalue; that table's
// __index materializes globals on first use (converting only the parts of the scope the script
// touches) and caches them in the table. Library tables are copied per evaluation, on first use,
// so nothing one script changes is seen by the next.
//
// Lua reports errors with longjmp, so the lua_CFunctions here keep no C++ object with a
// destructor alive across a Lua call that may raise; C++ work is done in noexcept helpers whose
// results live in EngineState.
namespace trellis::script {
namespace {

constexpr int kHookInstructions = 1000;
constexpr size_t kCacheCapacity = 1024;
constexpr size_t kMinMemoryBytes = 256u << 10;
// An evaluation that leaves this much more memory in use (garbage, a grown stack) is followed by
// a full collection, so one heavy script does not inflate the state for the ones after it.
constexpr size_t kCollectAfterGrowth = 4u << 20;
constexpr std::chrono::milliseconds kMaxTime = std::chrono::hours(24);
constexpr const char* kExpressionChunkName = "=expr";
constexpr const char* kScriptChunkName = "=script";

const char kSandboxKey = 0;       // registry: table of everything a script may see, pristine
const char kEnvMetatableKey = 0;  // registry: metatable of every evaluation's environment
const char kLoadKey = 0;          // registry: Lua's own `load`, wrapped by SandboxLoad

// Base functions scripts may call. Everything else in the base library stays out of reach.
constexpr const char* kBaseFunctions[] = {
    "assert",   "error", "ipairs",   "next",   "pairs",  "select", "tonumber",
    "tostring", "type",  "rawequal", "rawget", "rawset", "rawlen", "getmetatable",
};
constexpr const char* kLibraries[] = {"string", "table", "math", "utf8"};

// Everything the C functions registered with Lua need; reached through the state's extra space.
struct EngineState {
  lua_State* L = nullptr;

  // Allocator accounting. `limit` is 0 (unlimited) outside evaluations.
  size_t used = 0;
  size_t limit = 0;

  // Per evaluation.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool time_exceeded = false;
  bool memory_exceeded = false;
  const Scope* scope = nullptr;
  std::string text;  // results of now()/uuid(), pushed by the C functions

  static EngineState* From(lua_State* L) { return *static_cast<EngineState**>(lua_getextraspace(L)); }
};

}  // namespace

struct ScriptEngine::Impl : EngineState {
  struct CacheEntry {
    std::string key;  // 'e' or 'c' (expression or chunk), then the source text
    int ref;          // registry reference to the compiled function
  };

  // Compiled chunks, most recently used first. `index` views the keys stored in `lru`.
  std::list<CacheEntry> lru;
  std::unordered_map<std::string_view, std::list<CacheEntry>::iterator> index;
  std::string key_buffer;
  std::string code_buffer;

  Impl();
  ~Impl();

  Status Load(bool expression, std::string_view source);
  Result<Json> Run(bool expression, std::string_view source, const Scope& scope, const Limits& limits);
  Status ErrorStatus(int status, bool expression, const Limits& limits);
};

namespace {

void* Allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* impl = static_cast<EngineState*>(ud);
  const size_t old = ptr != nullptr ? osize : 0;  // for new blocks osize is the object's type
  if (nsize == 0) {
    std::free(ptr);
    impl->used -= old;
    return nullptr;
  }
  if (nsize > old && impl->limit != 0 && nsize - old > impl->limit - std::min(impl->limit, impl->used)) {
    return nullptr;  // Lua collects garbage, retries once, then raises a memory error
  }
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) return nullptr;
  impl->used = impl->used - old + nsize;
  return block;
}

void Hook(lua_State* L, lua_Debug*) {
  EngineState* impl = EngineState::From(L);
  if (std::chrono::steady_clock::now() < impl->deadline) return;
  impl->time_exceeded = true;
  lua_pushliteral(L, "time limit exceeded");
  lua_error(L);
}

// pcall and xpcall that do not catch a limit error: once the time or memory limit is hit, the
// error keeps propagating, so a script cannot shield a runaway loop with pcall.
int FinishPcall(lua_State* L, int status, int extra) {
  if (status != LUA_OK) {
    EngineState* impl = EngineState::From(L);
    if (status == LUA_ERRMEM) impl->memory_exceeded = true;
    if (impl->time_exceeded || impl->memory_exceeded) return lua_error(L);
    if (!lua_checkstack(L, 2)) return lua_error(L);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - extra;
}

int SandboxPcall(lua_State* L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return FinishPcall(L, lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0), 0);
}

// Message handler wrapping the script's (upvalue 1). After a limit error it returns the error
// untouched: Lua calls handlers where the error is raised, and a limit error is raised inside the
// count hook, where further hooks are off, so a looping handler would never be stopped.
int GuardedMessageHandler(lua_State* L) {
  EngineState* state = EngineState::From(L);
  if (state->time_exceeded || state->memory_exceeded) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

int SandboxXpcall(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, GuardedMessageHandler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  return FinishPcall(L, lua_pcall(L, n - 2, LUA_MULTRET, 2), 2);
}

// setmetatable without __gc: a finalizer would run at some later garbage collection, outside the
// evaluation and its time limit.
int SandboxSetmetatable(lua_State* L) {
  const int type = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    const bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc) return luaL_error(L, "__gc metamethods are not allowed");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// load(chunk [, chunkname [, mode [, env]]]): text only; without an env, the evaluation's own.
// Upvalues: Lua's load, the evaluation's environment.
int SandboxLoad(lua_State* L) {
  const int n = lua_gettop(L);
  if (n >= 3 && !lua_isnil(L, 3) && std::strchr(luaL_checkstring(L, 3), 't') == nullptr) {
    lua_pushnil(L);
    lua_pushliteral(L, "load: binary chunks are not allowed");
    return 2;
  }
  lua_settop(L, 4);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  if (n < 4) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_replace(L, 4);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 4, LUA_MULTRET);
  return lua_gettop(L);
}

bool FormatNow(EngineState* impl) noexcept {
  try {
    const TimePoint now = impl->scope != nullptr && impl->scope->now != TimePoint{}
                              ? impl->scope->now
                              : std::chrono::system_clock::now();
    impl->text = FormatTime(now);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool FormatUuid(EngineState* impl) noexcept {
  try {
    impl->text = NewUuidV7();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int Now(lua_State* L) {
  EngineState* impl = EngineState::From(L);
  if (!FormatNow(impl)) return luaL_error(L, "now: cannot format the time");
  lua_pushlstring(L, impl->text.data(), impl->text.size());
  return 1;
}

int Uuid(lua_State* L) {
  EngineState* impl = EngineState::From(L);
  if (!FormatUuid(impl)) return luaL_error(L, "uuid: cannot make a UUID");
  lua_pushlstring(L, impl->text.data(), impl->text.size());
  return 1;
}

// Pushes the scope's value for `name` (a local, input, vars, outputs, workflow, secrets) and
// returns true, or returns false when the name is not part of the scope.
bool PushScopeValue(lua_State* L, const Scope* scope, std::string_view name) {
  if (scope != nullptr) {
    for (auto it = scope->locals.rbegin(); it != scope->locals.rend(); ++it) {
      if (it->first != name) continue;
      if (it->second != nullptr) {
        PushJson(L, *it->second);
      } else {
        lua_pushnil(L);
      }
      return true;
    }
  }
  const Json* value = nullptr;
  if (name == "input") {
    value = scope != nullptr ? scope->input : nullptr;
  } else if (name == "vars") {
    value = scope != nullptr ? scope->vars : nullptr;
  } else if (name == "workflow") {
    value = scope != nullptr ? scope->workflow : nullptr;
  } else if (name == "secrets") {
    value = scope != nullptr ? scope->secrets : nullptr;
  } else if (name == "outputs") {
    PushLazyObject(L, scope != nullptr ? scope->outputs : nullptr);
    return true;
  } else {
    return false;
  }
  if (value != nullptr) {
    PushJson(L, *value);
  } else {
    lua_newtable(L);
  }
  return true;
}

// __index of an evaluation's environment (arguments: env, name).
int EnvIndex(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  EngineState* impl = EngineState::From(L);
  size_t len = 0;
  const char* chars = lua_tolstring(L, 2, &len);
  const std::string_view name(chars, len);
  if (!PushScopeValue(L, impl->scope, name)) {
    if (name == "_G") {
      lua_pushvalue(L, 1);
    } else if (name == "load") {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoadKey);
      lua_pushvalue(L, 1);
      lua_pushcclosure(L, SandboxLoad, 2);
    } else {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &kSandboxKey);
      lua_pushvalue(L, 2);
      const int type = lua_rawget(L, -2);
      if (type == LUA_TNIL) return 1;
      if (type == LUA_TTABLE) {  // a library: this evaluation gets its own copy
        const int library = lua_gettop(L);
        lua_createtable(L, 0, 32);
        lua_pushnil(L);
        while (lua_next(L, library)) {
          lua_pushvalue(L, -2);
          lua_insert(L, -2);
          lua_rawset(L, -4);
        }
      }
    }
  }
  if (lua_isnil(L, -1)) return 1;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

// Runs in protected mode (argument: the compiled chunk): gives it a fresh environment, calls it.
int RunProtected(lua_State* L) {
  lua_createtable(L, 0, 8);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvMetatableKey);
  lua_setmetatable(L, 2);
  lua_setupvalue(L, 1, 1);  // pops the environment
  lua_call(L, 0, 1);
  return 1;
}

// Runs in protected mode once per state: libraries, the sandbox table, shared metatables.
int SetUpState(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);
  InstallJsonSupport(L);

  lua_createtable(L, 0, 40);  // the sandbox, index 1
  for (const char* name : kBaseFunctions) {
    lua_getglobal(L, name);
    lua_setfield(L, 1, name);
  }
  for (const char* name : kLibraries) {
    lua_getglobal(L, name);
    lua_setfield(L, 1, name);
  }
  lua_getfield(L, 1, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  lua_pushcfunction(L, SandboxPcall);
  lua_setfield(L, 1, "pcall");
  lua_pushcfunction(L, SandboxXpcall);
  lua_setfield(L, 1, "xpcall");
  lua_pushcfunction(L, SandboxSetmetatable);
  lua_setfield(L, 1, "setmetatable");
  lua_pushcfunction(L, Now);
  lua_setfield(L, 1, "now");
  lua_pushcfunction(L, Uuid);
  lua_setfield(L, 1, "uuid");
  lua_pushliteral(L, LUA_VERSION);
  lua_setfield(L, 1, "_VERSION");
  OpenHelperLibraries(L, 1);
  lua_getglobal(L, "load");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLoadKey);
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kSandboxKey);

  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, EnvIndex);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetatableKey);

  // Strings share one metatable; protecting it keeps the real `string` table out of reach.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  // The real globals (with dofile, loadfile, collectgarbage, ...) are never a script's _ENV;
  // emptying them makes sure nothing can reach them either.
  lua_newtable(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  return 0;
}

// "expr:1: boom" -> "boom"; "script:3: boom" -> "line 3: boom".
std::string StripChunkName(std::string message, bool expression) {
  const std::string_view prefix = expression ? "expr:" : "script:";
  if (!message.starts_with(prefix)) return message;
  size_t end = prefix.size();
  while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
  if (end == prefix.size() || message.compare(end, 2, ": ") != 0) return message;
  if (expression) return message.substr(end + 2);
  return "line " + message.substr(prefix.size(), end - prefix.size()) + ": " + message.substr(end + 2);
}

// The error value at the top of the stack as text, without raising.
std::string ErrorText(lua_State* L) {
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, -1, &len);
      return std::string(s, len);
    }
    case LUA_TNUMBER:
    case LUA_TBOOLEAN:
    case LUA_TTABLE: {
      Json value;
      std::string error;
      if (LuaToJson(L, -1, &value, &error))
        return "error: " + value.dump(-1, ' ', false, Json::error_handler_t::replace);
      break;
    }
    default: break;
  }
  return std::string("error object is a ") + luaL_typename(L, -1) + " value";
}

std::string DescribeBytes(size_t bytes) {
  if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

ScriptEngine::Impl::Impl() {
  L = lua_newstate(Allocate, static_cast<EngineState*>(this));
  if (L == nullptr) return;
  *static_cast<EngineState**>(lua_getextraspace(L)) = this;
  lua_pushcfunction(L, SetUpState);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    L = nullptr;
    return;
  }
  lua_sethook(L, Hook, LUA_MASKCOUNT, kHookInstructions);
}

ScriptEngine::Impl::~Impl() {
  if (L != nullptr) lua_close(L);
}

// Pushes the compiled function for `source`, from the cache or compiled now.
Status ScriptEngine::Impl::Load(bool expression, std::string_view source) {
  key_buffer.assign(1, expression ? 'e' : 'c');
  key_buffer.append(source);
  if (auto found = index.find(key_buffer); found != index.end()) {
    lru.splice(lru.begin(), lru, found->second);
    lua_rawgeti(L, LUA_REGISTRYINDEX, found->second->ref);
    return Status::Ok();
  }
  std::string_view code = source;
  if (expression) {
    code_buffer.assign("return ");
    code_buffer.append(source);
    code = code_buffer;
  }
  const int status = luaL_loadbufferx(L, code.data(), code.size(),
                                      expression ? kExpressionChunkName : kScriptChunkName, "t");
  if (status != LUA_OK) {
    std::string message = StripChunkName(ErrorText(L), expression);
    lua_pop(L, 1);
    return InvalidArgument(std::move(message));
  }
  lua_pushvalue(L, -1);
  const int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lru.push_front(CacheEntry{key_buffer, ref});
  index.emplace(lru.front().key, lru.begin());
  if (lru.size() > kCacheCapacity) {
    luaL_unref(L, LUA_REGISTRYINDEX, lru.back().ref);
    index.erase(lru.back().key);
    lru.pop_back();
  }
  return Status::Ok();
}

Status ScriptEngine::Impl::ErrorStatus(int status, bool expression, const Limits& limits) {
  if (time_exceeded) {
    return DeadlineExceeded("script exceeded its time limit of " + std::to_string(limits.time.count()) +
                            "ms");
  }
  if (memory_exceeded || status == LUA_ERRMEM) {
    return ResourceExhausted("script exceeded its memory limit of " + DescribeBytes(limits.memory_bytes));
  }
  return FailedPrecondition(StripChunkName(ErrorText(L), expression));
}

Result<Json> ScriptEngine::Impl::Run(bool expression, std::string_view source, const Scope& run_scope,
                                     const Limits& limits) {
  if (L == nullptr) return Internal("the Lua interpreter could not be started");
  lua_settop(L, 0);
  if (Status loaded = Load(expression, source); !loaded.ok()) return loaded;
  lua_pushcfunction(L, RunProtected);
  lua_pushvalue(L, 1);

  const size_t used_before = used;
  scope = &run_scope;
  time_exceeded = false;
  memory_exceeded = false;
  deadline =
      std::chrono::steady_clock::now() + std::clamp(limits.time, std::chrono::milliseconds(1), kMaxTime);
  limit = used + std::max(limits.memory_bytes, kMinMemoryBytes);
  const int status = lua_pcall(L, 1, 1, 0);
  limit = 0;
  deadline = std::chrono::steady_clock::time_point::max();

  Result<Json> result = Json();
  if (status != LUA_OK) {
    result = ErrorStatus(status, expression, limits);
  } else {
    Json value;
    std::string error;
    if (LuaToJson(L, -1, &value, &error)) {
      result = std::move(value);
    } else {
      result = FailedPrecondition(std::move(error));
    }
  }
  scope = nullptr;
  // Drop the environment so the cached chunk does not keep this evaluation's data alive.
  lua_pushnil(L);
  lua_setupvalue(L, 1, 1);
  lua_settop(L, 0);
  if (time_exceeded || memory_exceeded || status == LUA_ERRMEM || used > used_before + kCollectAfterGrowth) {
    lua_gc(L, LUA_GCCOLLECT);
  }
  return result;
}

ScriptEngine::ScriptEngine(Limits limits) : impl_(std::make_unique<Impl>()), limits_(limits) {}

ScriptEngine::~ScriptEngine() = default;

ScriptEngine& ScriptEngine::ForThisThread() {
  thread_local ScriptEngine engine;
  return engine;
}

Status ScriptEngine::CheckExpression(std::string_view expr) {
  if (impl_->L == nullptr) return Internal("the Lua interpreter could not be started");
  lua_settop(impl_->L, 0);
  Status status = impl_->Load(true, expr);
  lua_settop(impl_->L, 0);
  return status;
}

Status ScriptEngine::CheckChunk(std::string_view code) {
  if (impl_->L == nullptr) return Internal("the Lua interpreter could not be started");
  lua_settop(impl_->L, 0);
  Status status = impl_->Load(false, code);
  lua_settop(impl_->L, 0);
  return status;
}

Result<Json> ScriptEngine::EvaluateExpression(std::string_view expr, const Scope& scope) {
  return impl_->Run(true, expr, scope, limits_);
}

Result<Json> ScriptEngine::RunChunk(std::string_view code, const Scope& scope) {
  return impl_->Run(false, code, scope, limits_);
}

size_t ScriptEngine::memory_in_use() const {
  return impl_->used;
}

}  // namespace trellis::script
