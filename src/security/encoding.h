// Byte-level helpers the security code shares: base64 (standard and URL-safe), hex, SHA-256,
// constant-time comparison and bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
//
// Decoders are strict (no whitespace inside, correct padding, no stray bits) because what they
// decode are keys and signatures: a lenient decoder would accept two spellings of one key.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace trellis::security {

std::string Base64Encode(std::string_view bytes);
// Standard alphabet (+/), padding required. nullopt on any malformed input.
std::optional<std::string> Base64Decode(std::string_view text);
// RFC 4648 section 5 (-_), no padding, as JWTs use it.
std::string Base64UrlEncode(std::string_view bytes);
// Unpadded base64url; nullopt on any malformed input (including padding characters).
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string HexEncode(std::string_view bytes);
// Raw 32-byte digest.
std::string Sha256(std::string_view bytes);
// Lower-case hex of the SHA-256 digest (64 characters).
std::string Sha256Hex(std::string_view bytes);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` bytes from the OS CSPRNG. Aborts if the CSPRNG fails: nothing secure can continue then.
std::string RandomBytes(size_t n);

}  // namespace trellis::security
