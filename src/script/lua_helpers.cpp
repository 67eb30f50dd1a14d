#include "script/lua_helpers.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <climits>
#include <exception>
#include <lua.hpp>
#include <string>

#include "core/json.h"
#include "script/lua_json.h"

// Lua raises errors with longjmp, so the C functions below keep no C++ object with a destructor
// alive across a Lua call that may raise; C++ work happens in noexcept helpers that leave their
// results in a per-thread scratch area (a lua_State is used by one thread at a time).
namespace trellis::script {
namespace {

struct Scratch {
  Json json;
  std::string text;
  std::string error;
};

Scratch& GetScratch() {
  thread_local Scratch scratch;
  return scratch;
}

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool EncodeToScratch(lua_State* L, int idx, int indent) noexcept {
  Scratch& s = GetScratch();
  bool ok = LuaToJson(L, idx, &s.json, &s.error);
  if (ok) {
    try {
      s.text = s.json.dump(indent < 0 ? -1 : indent);
    } catch (const std::exception& e) {
      s.error = e.what();
      ok = false;
    }
  }
  s.json = nullptr;
  return ok;
}

bool DecodeToScratch(const char* text, size_t len) noexcept {
  Scratch& s = GetScratch();
  try {
    s.json = Json::parse(text, text + len);
    return true;
  } catch (const std::exception& e) {
    // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
    s.error = e.what();
    const size_t bracket = s.error.find("] ");
    if (s.error.starts_with("[json.exception.") && bracket != std::string::npos)
      s.error.erase(0, bracket + 2);
    s.json = nullptr;
    return false;
  }
}

int JsonEncode(lua_State* L) {
  luaL_checkany(L, 1);
  const lua_Integer indent = luaL_optinteger(L, 2, -1);
  if (!EncodeToScratch(L, 1, static_cast<int>(indent < 16 ? indent : 16))) {
    return luaL_error(L, "json.encode: %s", GetScratch().error.c_str());
  }
  lua_pushlstring(L, GetScratch().text.data(), GetScratch().text.size());
  return 1;
}

int JsonDecode(lua_State* L) {
  size_t len = 0;
  const char* text = luaL_checklstring(L, 1, &len);
  if (!DecodeToScratch(text, len)) return luaL_error(L, "json.decode: %s", GetScratch().error.c_str());
  PushJson(L, GetScratch().json);
  GetScratch().json = nullptr;
  return 1;
}

int JsonArray(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  MarkJsonArray(L, 1);
  return 1;
}

int HexEncode(lua_State* L) {
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(luaL_checklstring(L, 1, &len));
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, len * 2);
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHexDigits[in[i] >> 4];
    out[2 * i + 1] = kHexDigits[in[i] & 0xF];
  }
  luaL_pushresultsize(&b, len * 2);
  return 1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int HexDecode(lua_State* L) {
  size_t len = 0;
  const char* in = luaL_checklstring(L, 1, &len);
  if (len % 2 != 0) return luaL_error(L, "hex.decode: odd number of hex digits");
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, len / 2);
  for (size_t i = 0; i < len; i += 2) {
    const int hi = HexValue(in[i]);
    const int lo = HexValue(in[i + 1]);
    if (hi < 0 || lo < 0)
      return luaL_error(L, "hex.decode: invalid hex digit at position %d",
                        static_cast<int>(i + (hi < 0 ? 1 : 2)));
    out[i / 2] = static_cast<char>((hi << 4) | lo);
  }
  luaL_pushresultsize(&b, len / 2);
  return 1;
}

int Base64Encode(lua_State* L) {
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(luaL_checklstring(L, 1, &len));
  const size_t out_len = (len + 2) / 3 * 4;
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, out_len);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < len ? uint32_t{in[i + 1]} << 8 : 0) |
                       (i + 2 < len ? uint32_t{in[i + 2]} : 0);
    out[o++] = kBase64Alphabet[(n >> 18) & 63];
    out[o++] = kBase64Alphabet[(n >> 12) & 63];
    out[o++] = i + 1 < len ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? kBase64Alphabet[n & 63] : '=';
  }
  luaL_pushresultsize(&b, out_len);
  return 1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Accepts the standard and URL-safe alphabets, with or without padding.
int Base64Decode(lua_State* L) {
  size_t len = 0;
  const char* in = luaL_checklstring(L, 1, &len);
  size_t data_len = len;
  while (data_len > 0 && len - data_len < 2 && in[data_len - 1] == '=') --data_len;
  if (data_len % 4 == 1 || (data_len != len && len % 4 != 0)) {
    return luaL_error(L, "base64.decode: invalid length");
  }
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, data_len / 4 * 3 + 2);
  size_t o = 0;
  uint32_t bits = 0;
  int nbits = 0;
  for (size_t i = 0; i < data_len; ++i) {
    const int v = Base64Value(in[i]);
    if (v < 0)
      return luaL_error(L, "base64.decode: invalid character at position %d", static_cast<int>(i + 1));
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out[o++] = static_cast<char>((bits >> nbits) & 0xFF);
    }
  }
  luaL_pushresultsize(&b, o);
  return 1;
}

void PushHex(lua_State* L, const unsigned char* digest, size_t len) {
  char text[2 * EVP_MAX_MD_SIZE];
  for (size_t i = 0; i < len; ++i) {
    text[2 * i] = kHexDigits[digest[i] >> 4];
    text[2 * i + 1] = kHexDigits[digest[i] & 0xF];
  }
  lua_pushlstring(L, text, 2 * len);
}

int Sha256(lua_State* L) {
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(luaL_checklstring(L, 1, &len));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(in, len, digest);
  PushHex(L, digest, sizeof digest);
  return 1;
}

int HmacSha256(lua_State* L) {
  size_t key_len = 0;
  size_t msg_len = 0;
  const char* key = luaL_checklstring(L, 1, &key_len);
  const auto* msg = reinterpret_cast<const unsigned char*>(luaL_checklstring(L, 2, &msg_len));
  if (key_len > INT_MAX) return luaL_error(L, "hmac_sha256: key too long");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (HMAC(EVP_sha256(), key, static_cast<int>(key_len), msg, msg_len, digest, &digest_len) == nullptr) {
    return luaL_error(L, "hmac_sha256: OpenSSL failed");
  }
  PushHex(L, digest, digest_len);
  return 1;
}

}  // namespace

void OpenHelperLibraries(lua_State* L, int table_index) {
  table_index = lua_absindex(L, table_index);

  const luaL_Reg json_functions[] = {
      {"encode", JsonEncode}, {"decode", JsonDecode}, {"array", JsonArray}, {nullptr, nullptr}};
  luaL_newlib(L, json_functions);
  PushJsonNull(L);
  lua_setfield(L, -2, "null");
  lua_setfield(L, table_index, "json");

  const luaL_Reg base64_functions[] = {
      {"encode", Base64Encode}, {"decode", Base64Decode}, {nullptr, nullptr}};
  luaL_newlib(L, base64_functions);
  lua_setfield(L, table_index, "base64");

  const luaL_Reg hex_functions[] = {{"encode", HexEncode}, {"decode", HexDecode}, {nullptr, nullptr}};
  luaL_newlib(L, hex_functions);
  lua_setfield(L, table_index, "hex");

  lua_pushcfunction(L, Sha256);
  lua_setfield(L, table_index, "sha256");
  lua_pushcfunction(L, HmacSha256);
  lua_setfield(L, table_index, "hmac_sha256");
}

}  // namespace trellis::script
