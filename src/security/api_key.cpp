#include "security/api_key.h"

#include <openssl/crypto.h>

#include "security/encoding.h"

namespace trellis::security {
namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

GeneratedApiKey GenerateApiKey() {
  GeneratedApiKey out;
  out.key.reserve(kApiKeyScheme.size() + kApiKeyRandomChars);
  out.key = kApiKeyScheme;
  // Rejection sampling: only bytes below 248 (= 4 * 62) are used, so every character is uniform.
  while (out.key.size() < kApiKeyScheme.size() + kApiKeyRandomChars) {
    std::string batch = RandomBytes(48);
    for (unsigned char b : batch) {
      if (b >= 248) continue;
      out.key += kBase62[b % 62];
      if (out.key.size() == kApiKeyScheme.size() + kApiKeyRandomChars) break;
    }
    OPENSSL_cleanse(batch.data(), batch.size());
  }
  out.prefix = ApiKeyPrefix(out.key);
  out.hash = HashApiKey(out.key);
  return out;
}

std::string ApiKeyPrefix(std::string_view key) {
  return std::string(key.substr(0, kApiKeyPrefixChars));
}

std::string HashApiKey(std::string_view key) {
  return Sha256Hex(key);
}

bool LooksLikeApiKey(std::string_view key) {
  if (key.size() != kApiKeyScheme.size() + kApiKeyRandomChars || !key.starts_with(kApiKeyScheme))
    return false;
  for (char c : key.substr(kApiKeyScheme.size())) {
    if (!IsBase62(c)) return false;
  }
  return true;
}

bool ApiKeyMatchesHash(std::string_view key, std::string_view stored_hash) {
  return ConstantTimeEquals(HashApiKey(key), stored_hash);
}

}  // namespace trellis::security
