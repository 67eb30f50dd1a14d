// Secrets (DESIGN.md sections 6 and 9): named values that workflows read as `secrets.NAME`, written
// through the API (`PUT /api/secrets/{name}`) and never readable back. SecretsService stores each
// value sealed with AES-256-GCM under the configured key ring (security/secret_box.h), the name as
// associated data, and serves the engine a decrypted snapshot.
//
// Snapshots and staleness. Snapshot() returns an immutable {name: value} object shared by every
// engine. The service asks the store for Store::SecretsGeneration at most once per
// `check_interval` (1 s by default) and reloads everything only when the generation changed. So:
//   * a Put or Delete through this service is seen by the next burst on this node;
//   * a change made on another node is seen by bursts that start more than check_interval (plus one
//     reload) after it committed;
//   * while the store cannot be reached the last good snapshot is served, and a warning logged.
// An instance's burst uses one snapshot throughout (the engine holds it; EngineServices).
//
// A secret that no configured key opens (sealed under a key that was removed from
// security.previous_encryption_keys, or tampered with) is left out of the snapshot and logged by
// name and key id, never by value; the rest still load.
//
// Thread-safe. The engines' fast path (nothing changed, not time to check) takes no lock.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "security/secret_box.h"
#include "store/store.h"

namespace trellis {

inline constexpr size_t kMaxSecretNameLength = 128;
inline constexpr size_t kMaxSecretValueBytes = 64 * 1024;

// What listings show: never the value.
struct SecretInfo {
  std::string name;
  std::string key_id;  // the key it is sealed under
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct KeyRotationReport {
  std::string key_id;               // the current key, which everything is now sealed under
  size_t resealed = 0;              // were under an older key
  size_t already_current = 0;       // were already under the current key (left alone)
  std::vector<std::string> failed;  // "NAME: reason" for each secret no configured key opens
};

// The key ring from security.encryption_key and security.previous_encryption_keys (a
// comma-separated list). FailedPrecondition when the key is unset, InvalidArgument when a key is
// malformed; both say how to generate a key.
Result<security::KeyRing> KeyRingFromConfig(const config::Config& config);

class SecretsService;
// The hook for processes that run workflows (`trellis worker`, the server): the service over
// `store` with the configured keys, loaded once (Refresh) so that a store or key problem shows at
// start-up. No encryption key configured: a service without keys (workflows see no secrets; a
// warning is logged when secrets are stored). A malformed key, or a store that cannot be read:
// the error. Then set `services.secrets_source = service->Source()` before building the Node, and
// keep the service alive longer than the Node.
Result<std::unique_ptr<SecretsService>> MakeSecretsService(const config::Config& config, Store& store);

class SecretsService {
 public:
  struct Options {
    const Clock* clock = &SystemClock::Instance();
    std::chrono::milliseconds check_interval{1000};
  };

  // Without `keys` (no encryption key configured) names can be listed and deleted, but Put and
  // RotateKey fail with FailedPrecondition and snapshots are empty.
  SecretsService(Store& store, std::optional<security::KeyRing> keys, Options options);
  SecretsService(Store& store, std::optional<security::KeyRing> keys)
      : SecretsService(store, std::move(keys), Options{}) {}
  SecretsService(const SecretsService&) = delete;
  SecretsService& operator=(const SecretsService&) = delete;

  // [A-Za-z_][A-Za-z0-9_]{0,127}: a valid Lua identifier, so `secrets.NAME` works in scripts and
  // templates. InvalidArgument saying what is wrong.
  static Status ValidateName(std::string_view name);

  // Creates or replaces a secret. InvalidArgument for a bad name, an empty value, a value over
  // kMaxSecretValueBytes or one that is not UTF-8; FailedPrecondition without an encryption key;
  // the store's error otherwise.
  Status Put(std::string_view name, std::string_view value);
  // NotFound when there is no such secret.
  Status Delete(std::string_view name);
  // Names, key ids and times, ordered by name.
  Result<std::vector<SecretInfo>> List();

  // The current {name: value} object; never null. Cheap when nothing changed.
  std::shared_ptr<const Json> Snapshot();
  // Replaces `held` with the current snapshot when it is not already that one: what the engine
  // calls at the start of each burst (EngineServices::secrets_source).
  void UpdateHeld(std::shared_ptr<const Json>& held);
  // A callable for EngineServices::secrets_source. The service must outlive every engine using it.
  std::function<void(std::shared_ptr<const Json>&)> Source();
  // Reloads now, whatever the generation says; the store's error when it fails (the previous
  // snapshot is kept). For start-up, where an unreachable store should be reported, not masked.
  Status Refresh();

  // Re-seals every secret that is not under the current key. Secrets that fail to open are reported
  // in `failed` and left as they are; the others are still re-sealed.
  Result<KeyRotationReport> RotateKey();

 private:
  // Re-reads the generation when it is time (or `force`), and reloads when it changed.
  Status MaybeReload(bool force);
  Status Reload(int64_t generation);
  void Publish(std::shared_ptr<const Json> snapshot);
  bool CheckDue() const;
  void Invalidate() { next_check_.store(std::numeric_limits<int64_t>::min()); }
  int64_t NowTicks() const { return options_.clock->Now().time_since_epoch().count(); }

  Store& store_;
  const std::optional<security::KeyRing> keys_;
  const Options options_;

  // Lock-free fast path: when the next generation check is due (clock ticks), and the snapshot now
  // published (== current_.get()), so that UpdateHeld can see "unchanged" without a lock.
  std::atomic<int64_t> next_check_{std::numeric_limits<int64_t>::min()};
  std::atomic<const Json*> current_raw_{nullptr};
  std::atomic<bool> loaded_{false};

  // Serialises store reads for refreshing; guards generation_ and failing_.
  std::mutex refresh_mu_;
  int64_t generation_ = -1;
  bool failing_ = false;  // the last check failed (logged once until it recovers)

  // Guards current_ only (held for a pointer copy).
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Json> current_;
};

}  // namespace trellis
