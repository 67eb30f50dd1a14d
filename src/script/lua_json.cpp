#include "script/lua_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <lua.hpp>
#include <string_view>
#include <utility>
#include <vector>

#include "script/utf8.h"

namespace trellis::script {
namespace {

// Registry keys: the addresses are unique, and light-userdata lookups never allocate, so they are
// safe outside protected calls.
const char kArrayMetatableKey = 0;
const char kLazyMetatableKey = 0;
const char kLazyBackingKey = 0;  // weak-keyed table: lazy proxy -> light userdata(const Json*)
const char kNullSentinel = 0;

void* NullAddress() {
  return const_cast<char*>(&kNullSentinel);
}

int NullToString(lua_State* L) {
  lua_pushliteral(L, "null");
  return 1;
}

// Raw `next`, for __pairs: the script's own `next` lives in its environment, not here.
int RawNext(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

// Returns the backing object of the lazy proxy at idx, or nullptr.
const Json* LazyBacking(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyBackingKey);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  auto* backing = static_cast<const Json*>(lua_touserdata(L, -1));
  lua_pop(L, 2);
  return backing;
}

void PushJsonAt(lua_State* L, const Json& value, int depth);

// __index of a lazy proxy: converts one member and caches it in the proxy.
int LazyIndex(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const Json* backing = LazyBacking(L, 1);
  if (backing == nullptr) return 0;
  size_t len = 0;
  const char* key = lua_tolstring(L, 2, &len);
  const std::string_view name(key, len);
  for (const auto& member : backing->get_ref<const Json::object_t&>()) {
    if (member.first != name) continue;
    PushJsonAt(L, member.second, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
  }
  return 0;
}

// __pairs of a lazy proxy: materializes every member, then iterates the table itself.
int LazyPairs(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const Json* backing = LazyBacking(L, 1);
  if (backing != nullptr) {
    for (const auto& member : backing->get_ref<const Json::object_t&>()) {
      lua_pushlstring(L, member.first.data(), member.first.size());
      if (lua_rawget(L, 1) != LUA_TNIL) {
        lua_pop(L, 1);
        continue;
      }
      lua_pop(L, 1);
      lua_pushlstring(L, member.first.data(), member.first.size());
      PushJsonAt(L, member.second, 1);
      lua_rawset(L, 1);
    }
  }
  lua_pushcfunction(L, RawNext);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

void PushArrayMetatable(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMetatableKey);
}

// No C++ object with a destructor is alive across the Lua calls below (they may longjmp):
// only references, indices and vector iterators.
void PushJsonAt(lua_State* L, const Json& value, int depth) {
  switch (value.type()) {
    case Json::value_t::null: PushJsonNull(L); return;
    case Json::value_t::boolean: lua_pushboolean(L, value.get<bool>() ? 1 : 0); return;
    case Json::value_t::number_integer:
      lua_pushinteger(L, static_cast<lua_Integer>(value.get<int64_t>()));
      return;
    case Json::value_t::number_unsigned: {
      const uint64_t u = value.get<uint64_t>();
      if (u <= static_cast<uint64_t>(LUA_MAXINTEGER)) {
        lua_pushinteger(L, static_cast<lua_Integer>(u));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(u));
      }
      return;
    }
    case Json::value_t::number_float: lua_pushnumber(L, value.get<double>()); return;
    case Json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case Json::value_t::array: {
      if (depth >= kMaxJsonDepth) luaL_error(L, "JSON nesting is deeper than %d levels", kMaxJsonDepth);
      luaL_checkstack(L, 4, "JSON nesting");
      const auto& array = value.get_ref<const Json::array_t&>();
      lua_createtable(L, static_cast<int>(std::min<size_t>(array.size(), 1u << 24)), 0);
      PushArrayMetatable(L);
      lua_setmetatable(L, -2);
      for (size_t i = 0; i < array.size(); ++i) {
        PushJsonAt(L, array[i], depth + 1);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i) + 1);
      }
      return;
    }
    case Json::value_t::object: {
      if (depth >= kMaxJsonDepth) luaL_error(L, "JSON nesting is deeper than %d levels", kMaxJsonDepth);
      luaL_checkstack(L, 4, "JSON nesting");
      const auto& object = value.get_ref<const Json::object_t&>();
      lua_createtable(L, 0, static_cast<int>(std::min<size_t>(object.size(), 1u << 24)));
      for (const auto& member : object) {
        lua_pushlstring(L, member.first.data(), member.first.size());
        PushJsonAt(L, member.second, depth + 1);
        lua_rawset(L, -3);
      }
      return;
    }
    default:  // binary and discarded values have no Lua form
      lua_pushnil(L);
      return;
  }
}

std::string FormatLuaFloat(lua_Number n) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, LUA_NUMBER_FMT, static_cast<double>(n));
  return buffer;
}

// Lua -> JSON. Uses only API calls that neither allocate in Lua nor raise.
class Converter {
 public:
  explicit Converter(lua_State* L) : L_(L) {}

  bool Convert(int idx, Json* out, int depth) {
    switch (lua_type(L_, idx)) {
      case LUA_TNIL: *out = nullptr; return true;
      case LUA_TBOOLEAN: *out = lua_toboolean(L_, idx) != 0; return true;
      case LUA_TNUMBER:
        if (lua_isinteger(L_, idx)) {
          *out = static_cast<int64_t>(lua_tointeger(L_, idx));
        } else {
          const double d = lua_tonumber(L_, idx);
          if (!std::isfinite(d)) return Fail("cannot convert NaN or infinity to JSON");
          *out = d;
        }
        return true;
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L_, idx, &len);
        if (!IsValidUtf8(std::string_view(s, len))) {
          return Fail("cannot convert a string that is not valid UTF-8 to JSON (use base64.encode)");
        }
        *out = std::string(s, len);
        return true;
      }
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L_, idx) == NullAddress()) {
          *out = nullptr;
          return true;
        }
        return Fail("cannot convert a userdata to JSON");
      case LUA_TTABLE: return ConvertTable(idx, out, depth);
      default:
        return Fail(std::string("cannot convert a ") + lua_typename(L_, lua_type(L_, idx)) + " to JSON");
    }
  }

  std::string Message() const { return where_.empty() ? error_ : error_ + " (at " + where_ + ")"; }

 private:
  enum class Kind { kPlain, kArray, kLazy };

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  Kind TableKind(int idx) {
    if (!lua_getmetatable(L_, idx)) return Kind::kPlain;
    lua_rawgetp(L_, LUA_REGISTRYINDEX, &kArrayMetatableKey);
    lua_rawgetp(L_, LUA_REGISTRYINDEX, &kLazyMetatableKey);
    const Kind kind = lua_rawequal(L_, -3, -2)   ? Kind::kArray
                      : lua_rawequal(L_, -3, -1) ? Kind::kLazy
                                                 : Kind::kPlain;
    lua_pop(L_, 3);
    return kind;
  }

  bool ConvertTable(int idx, Json* out, int depth) {
    if (depth >= kMaxJsonDepth) {
      return Fail("cannot convert a value nested deeper than " + std::to_string(kMaxJsonDepth) +
                  " levels to JSON");
    }
    const void* self = lua_topointer(L_, idx);
    if (std::find(path_.begin(), path_.end(), self) != path_.end()) {
      return Fail("cannot convert a table that contains itself to JSON");
    }
    if (!lua_checkstack(L_, 6)) return Fail("cannot convert a value this deeply nested to JSON");
    path_.push_back(self);
    const Kind kind = TableKind(idx);
    const bool ok = kind == Kind::kLazy ? ConvertLazy(idx, out, depth)
                                        : ConvertPlain(idx, out, depth, kind == Kind::kArray);
    path_.pop_back();
    return ok;
  }

  // Key at stack index -2 (during lua_next) as an object key.
  bool KeyString(std::string* key) {
    switch (lua_type(L_, -2)) {
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L_, -2, &len);
        if (!IsValidUtf8(std::string_view(s, len))) {
          return Fail("cannot convert a key that is not valid UTF-8 to JSON");
        }
        key->assign(s, len);
        return true;
      }
      case LUA_TNUMBER:
        *key = lua_isinteger(L_, -2) ? std::to_string(lua_tointeger(L_, -2))
                                     : FormatLuaFloat(lua_tonumber(L_, -2));
        return true;
      case LUA_TBOOLEAN: *key = lua_toboolean(L_, -2) ? "true" : "false"; return true;
      default:
        return Fail(std::string("cannot use a ") + lua_typename(L_, lua_type(L_, -2)) +
                    " as a JSON object key");
    }
  }

  bool ConvertPlain(int idx, Json* out, int depth, bool marked_array) {
    // A table whose keys are exactly 1..n is an array.
    lua_Integer count = 0;
    lua_Integer max_key = 0;
    bool sequence = true;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      ++count;
      if (sequence) {
        if (lua_type(L_, -2) == LUA_TNUMBER && lua_isinteger(L_, -2) && lua_tointeger(L_, -2) >= 1) {
          max_key = std::max(max_key, lua_tointeger(L_, -2));
        } else {
          sequence = false;
        }
      }
      lua_pop(L_, 1);
    }
    const bool is_array = count > 0 ? (sequence && max_key == count) : marked_array;
    if (is_array) {
      *out = Json::array();
      auto& array = out->get_ref<Json::array_t&>();
      array.resize(static_cast<size_t>(count));
      for (lua_Integer i = 1; i <= count; ++i) {
        lua_rawgeti(L_, idx, i);
        const bool ok = Convert(lua_gettop(L_), &array[static_cast<size_t>(i - 1)], depth + 1);
        lua_pop(L_, 1);
        if (!ok) {
          where_ = "[" + std::to_string(i) + "]" + where_;
          return false;
        }
      }
      return true;
    }
    *out = Json::object();
    auto& object = out->get_ref<Json::object_t&>();
    std::string key;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      if (!KeyString(&key)) return false;
      // [1] and ["1"] name the same JSON key; the first one seen wins.
      auto [slot, inserted] = object.try_emplace(key);
      if (inserted && !Convert(lua_gettop(L_), &slot->second, depth + 1)) {
        where_ = "." + key + where_;
        return false;
      }
      lua_pop(L_, 1);
    }
    return true;
  }

  // The backing object, with the members the script touched (and perhaps changed) laid over it.
  bool ConvertLazy(int idx, Json* out, int depth) {
    const Json* backing = LazyBacking(L_, idx);
    *out = backing != nullptr ? *backing : Json::object();
    std::string key;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      if (!KeyString(&key)) return false;
      Json& slot = (*out)[key];
      if (!Convert(lua_gettop(L_), &slot, depth + 1)) {
        where_ = "." + key + where_;
        return false;
      }
      lua_pop(L_, 1);
    }
    return true;
  }

  lua_State* L_;
  std::vector<const void*> path_;  // tables being converted, outermost first (cycle detection)
  std::string error_;
  std::string where_;
};

}  // namespace

void InstallJsonSupport(lua_State* L) {
  // Metatables shared by every evaluation are protected (__metatable) so that no script can
  // change them and so reach into the next evaluation.
  lua_createtable(L, 0, 2);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushliteral(L, "json.array");
  lua_setfield(L, -2, "__name");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMetatableKey);

  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, LazyIndex);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, LazyPairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyMetatableKey);

  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyBackingKey);

  // Light userdata share one metatable; json.null is the only light userdata scripts see.
  lua_pushlightuserdata(L, NullAddress());
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, NullToString);
  lua_setfield(L, -2, "__tostring");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

void PushJsonNull(lua_State* L) {
  lua_pushlightuserdata(L, NullAddress());
}

bool IsJsonNull(lua_State* L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NullAddress();
}

void MarkJsonArray(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getmetatable(L, idx)) {
    PushArrayMetatable(L);
    const bool already = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!already) luaL_error(L, "json.array: the table already has a metatable");
    return;
  }
  PushArrayMetatable(L);
  lua_setmetatable(L, idx);
}

void PushJson(lua_State* L, const Json& value) {
  PushJsonAt(L, value, 0);
}

void PushLazyObject(lua_State* L, const Json* backing) {
  if (backing == nullptr) {
    lua_newtable(L);
    return;
  }
  if (!backing->is_object()) {
    PushJson(L, *backing);
    return;
  }
  lua_newtable(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyMetatableKey);
  lua_setmetatable(L, -2);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyBackingKey);
  lua_pushvalue(L, -2);
  lua_pushlightuserdata(L, const_cast<Json*>(backing));
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

bool LuaToJson(lua_State* L, int idx, Json* out, std::string* error) {
  const int top = lua_gettop(L);
  idx = lua_absindex(L, idx);
  try {
    Converter converter(L);
    const bool ok = converter.Convert(idx, out, 0);
    lua_settop(L, top);
    if (!ok) *error = converter.Message();
    return ok;
  } catch (const std::exception& e) {
    lua_settop(L, top);
    *error = std::string("cannot convert the value to JSON: ") + e.what();
    return false;
  }
}

}  // namespace trellis::script
