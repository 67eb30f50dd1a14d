// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by creation time
// and index well. Randomness comes from a per-thread generator seeded from the OS.
#pragma once

#include <string>

#include "core/clock.h"

namespace trellis {

std::string NewUuidV7(TimePoint now);
inline std::string NewUuidV7() {
  return NewUuidV7(std::chrono::system_clock::now());
}
bool IsUuid(std::string_view text);

}  // namespace trellis
