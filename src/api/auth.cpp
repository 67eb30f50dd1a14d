#include "api/auth.h"

#include <strings.h>

#include "core/log.h"
#include "security/api_key.h"
#include "security/jwt.h"

namespace trellis::api {

Authenticator::Authenticator(Store& store, std::string jwt_secret, const Clock& clock)
    : store_(store), jwt_secret_(std::move(jwt_secret)), clock_(clock) {}

Result<Principal> Authenticator::Authenticate(const http::Request& req) {
  std::string authorization = req.headers.Get("Authorization");
  if (!authorization.empty()) {
    if (authorization.size() < 7 || strncasecmp(authorization.c_str(), "Bearer ", 7) != 0)
      return InvalidArgument("the Authorization header must be 'Bearer <token>'");
    if (jwt_secret_.empty())
      return InvalidArgument("bearer tokens are not accepted: this server has no security.jwt_secret");
    auto claims = security::VerifyJwt(std::string_view(authorization).substr(7), jwt_secret_, clock_.Now());
    if (!claims.ok()) return InvalidArgument("the bearer token was refused: " + claims.status().message());
    return Principal{security::RoleName(claims->role), claims->subject.empty() ? "jwt" : claims->subject,
                     "jwt"};
  }
  std::string key = req.headers.Get("X-Api-Key");
  if (!key.empty()) return FromApiKey(key);
  return InvalidArgument(
      "credentials are required: send 'Authorization: Bearer <JWT>' or 'X-Api-Key: <key>'");
}

Result<Principal> Authenticator::FromApiKey(const std::string& key) {
  if (!security::LooksLikeApiKey(key)) return InvalidArgument("the API key is not valid");
  std::string hash = security::HashApiKey(key);
  auto now = std::chrono::steady_clock::now();
  std::optional<ApiKeyRecord> record;
  bool touch = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && now - it->second.fetched < kApiKeyCacheTtl) {
      record = it->second.record;
      if (record && now - it->second.touched > std::chrono::minutes(1)) {
        it->second.touched = now;
        touch = true;
      }
    } else {
      auto found = store_.FindApiKey(hash);
      if (!found.ok()) return Unavailable("API keys cannot be checked now: " + found.status().message());
      record = *found;
      if (cache_.size() > 10000) cache_.clear();
      cache_[hash] = Cached{record, now, now};
      touch = record.has_value();
    }
  }
  if (!record) return InvalidArgument("the API key is not valid");
  if (record->expires_at && *record->expires_at <= clock_.Now())
    return InvalidArgument("the API key has expired");
  if (touch) {
    Status s = store_.TouchApiKey(record->id, clock_.Now());
    if (!s.ok())
      LogDebug("could not record an API key's use", {{"key", record->prefix}, {"error", s.message()}});
  }
  return Principal{record->role, record->id, "api-key"};
}

}  // namespace trellis::api
