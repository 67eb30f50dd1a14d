#include "security/jwt.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <strings.h>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "core/json.h"
#include "security/encoding.h"

namespace trellis::security {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, FreeDeleter>;

Status Reject(std::string reason) {
  return InvalidArgument("invalid bearer token: " + std::move(reason));
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixSeconds(int64_t s) {
  return TimePoint(std::chrono::seconds(s));
}

// A NumericDate claim: nullopt when absent; an error when present but not a finite number.
Result<std::optional<int64_t>> NumericDate(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  if (!it->is_number()) return Reject(std::string("claim '") + name + "' is not a number");
  double v = it->get<double>();
  // Beyond ±2^53 a double no longer holds whole seconds, and no real token needs that range.
  if (!std::isfinite(v) || std::fabs(v) > 9.0e15)
    return Reject(std::string("claim '") + name + "' is out of range");
  return std::optional<int64_t>(static_cast<int64_t>(std::floor(v)));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

Status CheckHeader(std::string_view encoded) {
  auto text = Base64UrlDecode(encoded);
  Json header;
  if (!text || !ParseJson(*text, &header, nullptr) || !header.is_object()) {
    return Reject("the header is not base64url-encoded JSON");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return Reject("the header has no alg");
  const auto& name = alg->get_ref<const std::string&>();
  if (name != "HS256") {
    return Reject("alg '" + (name.size() > 16 ? name.substr(0, 16) + "..." : name) +
                  "' is not accepted; tokens must be signed with HS256");
  }
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || strcasecmp(typ->get_ref<const std::string&>().c_str(), "JWT") != 0) {
      return Reject("typ must be JWT");
    }
  }
  if (header.contains("crit")) return Reject("critical header extensions are not supported");
  return Status::Ok();
}

}  // namespace

Status CheckJwtSecret(std::string_view secret) {
  if (secret.empty()) {
    return FailedPrecondition(
        "security.jwt_secret (JWT_SECRET) is not set; generate one with `openssl rand -base64 48`");
  }
  if (secret.size() < kMinJwtSecretBytes) {
    return FailedPrecondition("security.jwt_secret is " + std::to_string(secret.size()) +
                              " bytes; HS256 needs at least " + std::to_string(kMinJwtSecretBytes) +
                              " (RFC 7518 section 3.2); generate one with `openssl rand -base64 48`");
  }
  return Status::Ok();
}

Result<std::string> MintJwt(std::string_view secret, Role role, std::string_view subject,
                            std::chrono::seconds ttl, TimePoint now) {
  if (Status s = CheckJwtSecret(secret); !s.ok()) return s;
  if (ttl.count() <= 0) return InvalidArgument("the token lifetime must be positive");
  if (ttl > kMaxJwtTtl) {
    return InvalidArgument(
        "the token lifetime is longer than 366 days; use an API key (`trellis apikey create`) "
        "for long-lived access");
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Internal("libjwt: cannot allocate a token");
  JwtPtr jwt(raw);
  const int64_t iat = UnixSeconds(now);
  std::string sub(subject);
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                  static_cast<int>(secret.size())) != 0 ||
      (!sub.empty() && jwt_add_grant(jwt.get(), "sub", sub.c_str()) != 0) ||
      jwt_add_grant(jwt.get(), "role", RoleName(role)) != 0 ||
      jwt_add_grant_int(jwt.get(), "iat", iat) != 0 || jwt_add_grant_int(jwt.get(), "nbf", iat) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", iat + static_cast<int64_t>(ttl.count())) != 0) {
    return Internal("libjwt: cannot build the token");
  }
  CString encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return Internal("libjwt: cannot encode the token");
  return std::string(encoded.get());
}

Result<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, TimePoint now) {
  if (Status s = CheckJwtSecret(secret); !s.ok()) return s;
  if (token.empty()) return Reject("empty");
  if (token.size() > kMaxJwtBytes) return Reject("longer than " + std::to_string(kMaxJwtBytes) + " bytes");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Reject("not three dot-separated parts");
  }
  if (Status s = CheckHeader(token.substr(0, dot1)); !s.ok()) return s;

  // Our own constant-time check first (see jwt.h).
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature || signature->size() != 32) return Reject("the signature is malformed");
  if (!ConstantTimeEquals(*signature, HmacSha256(secret, token.substr(0, dot2)))) {
    return Reject("the signature does not match");
  }

  std::string text(token);
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                      static_cast<int>(secret.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) return Reject("the token does not decode");
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return Reject("tokens must be signed with HS256");
  CString grants(jwt_get_grants_json(jwt.get(), nullptr));
  Json claims;
  if (!grants || !ParseJson(grants.get(), &claims, nullptr) || !claims.is_object()) {
    return Reject("the claims are not a JSON object");
  }

  JwtClaims out;
  const int64_t now_s = UnixSeconds(now);
  const int64_t leeway = kJwtLeeway.count();
  auto exp = NumericDate(claims, "exp");
  if (!exp.ok()) return exp.status();
  if (!*exp) return Reject("it has no exp (expiry) claim");
  if (now_s >= **exp + leeway) return Reject("it has expired");
  out.expires_at = FromUnixSeconds(**exp);
  auto nbf = NumericDate(claims, "nbf");
  if (!nbf.ok()) return nbf.status();
  if (*nbf) {
    if (now_s + leeway < **nbf) return Reject("it is not valid yet (nbf is in the future)");
    out.not_before = FromUnixSeconds(**nbf);
  }
  auto iat = NumericDate(claims, "iat");
  if (!iat.ok()) return iat.status();
  if (*iat) {
    if (now_s + leeway < **iat) return Reject("it was issued in the future (iat)");
    out.issued_at = FromUnixSeconds(**iat);
  }

  auto role = claims.find("role");
  if (role == claims.end()) return Reject("it has no role claim");
  std::optional<Role> parsed =
      role->is_string() ? ParseRole(role->get_ref<const std::string&>()) : std::nullopt;
  if (!parsed) return Reject(std::string("the role is not one of ") + RoleNamesList());
  out.role = *parsed;
  if (auto sub = claims.find("sub"); sub != claims.end()) {
    if (!sub->is_string()) return Reject("sub is not a string");
    out.subject = sub->get<std::string>();
  }
  return out;
}

}  // namespace trellis::security
