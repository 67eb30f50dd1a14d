// UTF-8 validation: strings leaving Lua become JSON, whose serializer rejects invalid UTF-8 (and
// would throw far from the script that produced it), so conversion checks them up front.
#pragma once

#include <string_view>

namespace trellis::script {

// True for well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace trellis::script
