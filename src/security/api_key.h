// API keys for the HTTP API (`X-Api-Key`, DESIGN.md section 6).
//
// A key is `trk_` followed by 32 base62 characters (~190 bits from the OS CSPRNG), so it is easy to
// recognise in a leaked file and long enough never to be guessed. Only its SHA-256 (hex) is stored;
// a plain fast hash is right here because the key is random and long, unlike a password. The server
// looks a key up by its hash (Store::FindApiKey), so no key is ever compared or scanned in the
// clear. The first 8 characters (`trk_AbCd`) are kept as a display prefix so that operators can
// tell keys apart in listings.
#pragma once

#include <string>
#include <string_view>

namespace trellis::security {

inline constexpr std::string_view kApiKeyScheme = "trk_";
inline constexpr size_t kApiKeyRandomChars = 32;
inline constexpr size_t kApiKeyPrefixChars = 8;

struct GeneratedApiKey {
  std::string key;     // shown to the user once, never stored
  std::string prefix;  // ApiKeyPrefix(key)
  std::string hash;    // HashApiKey(key)
};

GeneratedApiKey GenerateApiKey();

// The first kApiKeyPrefixChars characters (the whole text when shorter).
std::string ApiKeyPrefix(std::string_view key);
// Lower-case hex SHA-256 of the whole key: what is stored and looked up.
std::string HashApiKey(std::string_view key);
// `trk_` + 32 base62 characters. A quick shape check before any lookup.
bool LooksLikeApiKey(std::string_view key);
// Constant-time equality of a presented key and the stored hash (hashes the key first).
bool ApiKeyMatchesHash(std::string_view key, std::string_view stored_hash);

}  // namespace trellis::security
