// Bearer tokens for the HTTP API (DESIGN.md section 6): JWTs signed with HS256 under JWT_SECRET
// (`security.jwt_secret`), minted by `trellis token` or by any JWT library.
//
// Verification is pinned to HS256 and strict:
//   * the header's alg must be "HS256": "none", HS384/512 and every asymmetric alg are rejected
//     (no algorithm confusion); a `crit` header is rejected (no extension is understood); `typ`,
//     when present, must be "JWT";
//   * the signature is checked in constant time (CRYPTO_memcmp) before any claim is looked at.
//     libjwt then decodes and verifies the token a second time; its own comparison in 1.10 is
//     strcmp, which is why it is not the only check;
//   * `exp` is required; `nbf` and `iat` are optional. All are NumericDates (seconds). A leeway of
//     kJwtLeeway (30 s) absorbs clock skew between the issuer and this node: a token is accepted
//     until exp + 30 s, from nbf - 30 s, and when iat is at most 30 s in the future;
//   * `role` is required and must be one of admin, editor, operator, viewer; `sub`, when present,
//     must be a string.
// Every rejection is InvalidArgument with a short reason that is safe to return to the client (it
// never echoes the token); the HTTP server answers 401 for any of them.
//
// The secret must be at least 32 bytes (RFC 7518 section 3.2: an HS256 key must be at least as long
// as the hash). A shorter one is refused, not merely warned about: any token signed with it can be
// brute-forced offline, and an API protected by it only looks protected. Check it at start-up with
// CheckJwtSecret.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "security/role.h"

namespace trellis::security {

inline constexpr size_t kMinJwtSecretBytes = 32;
inline constexpr std::chrono::seconds kJwtLeeway{30};
// Longest lifetime Mint accepts. JWTs cannot be revoked (short of changing the secret), so
// long-lived automation should use API keys, which can be deleted.
inline constexpr std::chrono::hours kMaxJwtTtl{24 * 366};
// Longer tokens are rejected before parsing.
inline constexpr size_t kMaxJwtBytes = 8192;

struct JwtClaims {
  std::string subject;  // "sub"; empty when the token has none
  Role role = Role::kViewer;
  TimePoint expires_at{};               // "exp"
  std::optional<TimePoint> issued_at;   // "iat"
  std::optional<TimePoint> not_before;  // "nbf"
};

// FailedPrecondition when unset or shorter than kMinJwtSecretBytes (the message says how to
// generate one, never the secret).
Status CheckJwtSecret(std::string_view secret);

// An HS256 token with sub, role, iat = nbf = now, exp = now + ttl. InvalidArgument when ttl is not
// positive or exceeds kMaxJwtTtl; FailedPrecondition for a bad secret.
Result<std::string> MintJwt(std::string_view secret, Role role, std::string_view subject,
                            std::chrono::seconds ttl, TimePoint now);

// The token's claims if it is valid at `now` under `secret` (see the rules above).
Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, TimePoint now);

}  // namespace trellis::security
