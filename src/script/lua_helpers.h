// The helper libraries scripts see besides Lua's own: json, base64, hex, sha256 and hmac_sha256
// (DESIGN.md section 3). They are pure functions of their arguments; now() and uuid(), which
// depend on the evaluation, live in script_engine.cpp.
#pragma once

struct lua_State;

namespace trellis::script {

// Sets json, base64, hex, sha256 and hmac_sha256 as fields of the table at `table_index`.
// Requires InstallJsonSupport (lua_json.h) to have run on the state. Call in protected mode.
void OpenHelperLibraries(lua_State* L, int table_index);

}  // namespace trellis::script
