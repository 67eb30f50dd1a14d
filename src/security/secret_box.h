// Encryption of secrets at rest (DESIGN.md section 9): AES-256-GCM under the configured
// ENCRYPTION_KEY (`security.encryption_key`), with key ids so that the key can be rotated.
//
// A KeyRing holds the current key and any previous ones (`security.previous_encryption_keys`).
// Seal always uses the current key; Open picks the key by the id stored beside the ciphertext, so
// values sealed under a previous key stay readable until `trellis secrets rotate-key` re-seals
// them under the current one. A key id is the first 16 hex characters of SHA-256 of the key bytes:
// it names a key without revealing it, and the same key always gets the same id.
//
// Each Seal draws a fresh 96-bit random nonce (NIST SP 800-38D 8.2.2: random nonces are safe for
// well under 2^32 seals per key, far more than a secrets table will see). The associated data binds
// a ciphertext to its secret's name, so a database row copied under another name does not open.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace trellis::security {

inline constexpr size_t kEncryptionKeyBytes = 32;
inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kTagBytes = 16;

struct SealedValue {
  std::string key_id;      // 16 hex characters
  std::string nonce;       // 12 raw bytes
  std::string ciphertext;  // raw bytes, the 16-byte GCM tag appended
};

class KeyRing {
 public:
  // `current` and each of `previous`: base64 (standard alphabet, padded) of exactly 32 bytes, as
  // `openssl rand -base64 32` prints. Surrounding whitespace is ignored. The error names the
  // setting (`current_name`, `previous_name`) and how to generate a key, never the key itself.
  static Result<KeyRing> FromBase64(std::string_view current, const std::vector<std::string>& previous = {},
                                    std::string_view current_name = "security.encryption_key",
                                    std::string_view previous_name = "security.previous_encryption_keys");
  // Raw 32-byte keys (tests).
  static Result<KeyRing> FromRawKeys(std::string_view current, const std::vector<std::string>& previous = {});

  KeyRing(const KeyRing&) = default;
  KeyRing(KeyRing&&) noexcept = default;
  KeyRing& operator=(const KeyRing&) = default;
  KeyRing& operator=(KeyRing&&) noexcept = default;
  ~KeyRing();

  const std::string& current_key_id() const { return keys_.front().id; }
  // Every key id, the current one first.
  std::vector<std::string> key_ids() const;
  bool HasKey(std::string_view key_id) const;

  // Encrypts under the current key. `associated_data` is authenticated, not encrypted (the name).
  Result<SealedValue> Seal(std::string_view plaintext, std::string_view associated_data) const;
  // Decrypts with the key `sealed.key_id` names. FailedPrecondition for an unknown key id (the
  // key that sealed it is not configured); InvalidArgument when authentication fails (the
  // ciphertext, nonce, tag or associated data was changed, or the wrong key has that id).
  Result<std::string> Open(const SealedValue& sealed, std::string_view associated_data) const;

  // "0123456789abcdef": the id of a raw 32-byte key.
  static std::string KeyIdOf(std::string_view raw_key);

 private:
  struct Key {
    std::string id;
    std::array<unsigned char, kEncryptionKeyBytes> bytes{};
  };
  KeyRing() = default;
  const Key* Find(std::string_view key_id) const;
  void Wipe();

  std::vector<Key> keys_;  // [0] is the current key; never empty
};

}  // namespace trellis::security
