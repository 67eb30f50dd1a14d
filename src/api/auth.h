// Authentication of API requests: `Authorization: Bearer <JWT>` (HS256 under security.jwt_secret,
// security/jwt.h) or `X-Api-Key` (stored hashed; looked up through a short cache so a flood of
// requests does not become a flood of queries, and so a deleted key stops working within
// kApiKeyCacheTtl).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/dispatcher.h"
#include "store/store.h"

namespace trellis::api {

inline constexpr std::chrono::seconds kApiKeyCacheTtl{5};

class Authenticator {
 public:
  // `jwt_secret` empty: bearer tokens are refused (API keys still work).
  Authenticator(Store& store, std::string jwt_secret, const Clock& clock);

  Result<Principal> Authenticate(const http::Request& req);

 private:
  Result<Principal> FromApiKey(const std::string& key);

  Store& store_;
  std::string jwt_secret_;
  const Clock& clock_;
  struct Cached {
    std::optional<ApiKeyRecord> record;  // nullopt: no such key
    std::chrono::steady_clock::time_point fetched;
    std::chrono::steady_clock::time_point touched;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // by hash
};

}  // namespace trellis::api
