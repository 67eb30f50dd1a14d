// JSON <-> Lua conversion for the script sandbox (README.md in this folder shows the mapping).
// Objects become tables, arrays 1-based tables marked as arrays (so an empty one round-trips as
// []), null the `json.null` sentinel. Lazy objects convert their members one at a time, on first
// access, which is how `outputs.<id>` stays cheap when a workflow has many large outputs.
//
// Two error disciplines, because Lua reports errors with longjmp: PushJson and friends may raise a
// Lua error and must run inside a protected call with no live C++ objects that have destructors in
// the calling frames; LuaToJson never raises, so it is safe outside protected calls.
#pragma once

#include <string>

#include "core/json.h"

struct lua_State;

namespace trellis::script {

// Deeper values are refused in both directions (an error, never a stack overflow).
inline constexpr int kMaxJsonDepth = 256;

// Creates the shared metatables (arrays, lazy objects, the null sentinel's) in the registry.
// Call once per state, before any other function here. May raise only on memory exhaustion.
void InstallJsonSupport(lua_State* L);

// Pushes the `json.null` sentinel (a light userdata whose tostring is "null").
void PushJsonNull(lua_State* L);
bool IsJsonNull(lua_State* L, int idx);

// Marks the table at idx as a JSON array. Raises if it already has another metatable.
void MarkJsonArray(lua_State* L, int idx);

// Pushes `value` converted to Lua. Raises on nesting deeper than kMaxJsonDepth.
void PushJson(lua_State* L, const Json& value);

// Pushes a table that converts `(*backing)[key]` on first access. `backing` (an object, or
// nullptr for an empty one) must outlive every access, i.e. the evaluation that pushed it.
void PushLazyObject(lua_State* L, const Json* backing);

// Converts the value at idx to JSON without raising a Lua error. Tables with keys 1..n become
// arrays (as do marked arrays, even empty), other tables objects with keys sorted so the output
// is deterministic. Fails on functions, userdata, cycles, NaN/infinity, invalid UTF-8 and
// nesting deeper than kMaxJsonDepth; `*error` then says what and where.
bool LuaToJson(lua_State* L, int idx, Json* out, std::string* error);

}  // namespace trellis::script
