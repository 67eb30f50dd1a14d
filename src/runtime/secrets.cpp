#include "runtime/secrets.h"

#include "core/log.h"
#include "script/utf8.h"

namespace trellis {
namespace {

bool IsNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}

constexpr const char* kNoKey =
    "security.encryption_key (ENCRYPTION_KEY) is not set, so secrets cannot be encrypted; generate a key "
    "with "
    "`openssl rand -base64 32`";

}  // namespace

Result<security::KeyRing> KeyRingFromConfig(const config::Config& config) {
  return security::KeyRing::FromBase64(
      config.GetString("security.encryption_key"),
      config::SplitList(config.GetString("security.previous_encryption_keys")));
}

Result<std::unique_ptr<SecretsService>> MakeSecretsService(const config::Config& config, Store& store) {
  std::optional<security::KeyRing> keys;
  auto ring = KeyRingFromConfig(config);
  if (ring.ok()) {
    keys = std::move(ring).value();
  } else if (ring.status().code() != StatusCode::kFailedPrecondition) {  // set but malformed
    return ring.status();
  }
  auto service = std::make_unique<SecretsService>(store, std::move(keys));
  if (Status s = service->Refresh(); !s.ok()) return Status(s.code(), "cannot load secrets: " + s.message());
  return service;
}

SecretsService::SecretsService(Store& store, std::optional<security::KeyRing> keys, Options options)
    : store_(store), keys_(std::move(keys)), options_(options) {
  Publish(std::make_shared<const Json>(Json::object()));
}

Status SecretsService::ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgument("a secret name must not be empty");
  if (name.size() > kMaxSecretNameLength) {
    return InvalidArgument("a secret name must be at most " + std::to_string(kMaxSecretNameLength) +
                           " characters");
  }
  if (!IsNameStart(name[0])) {
    return InvalidArgument("secret name '" + std::string(name) + "' must start with a letter or '_'");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return InvalidArgument("secret name '" + std::string(name) +
                             "' may contain only letters, digits and '_' (it is used as secrets.NAME)");
    }
  }
  return Status::Ok();
}

Status SecretsService::Put(std::string_view name, std::string_view value) {
  if (Status s = ValidateName(name); !s.ok()) return s;
  const std::string n(name);
  if (value.empty()) return InvalidArgument("secret '" + n + "': the value is empty");
  if (value.size() > kMaxSecretValueBytes) {
    return InvalidArgument("secret '" + n + "': the value is larger than " +
                           std::to_string(kMaxSecretValueBytes) + " bytes");
  }
  if (!script::IsValidUtf8(value)) return InvalidArgument("secret '" + n + "': the value is not valid UTF-8");
  if (!keys_) return FailedPrecondition(kNoKey);
  auto sealed = keys_->Seal(value, n);
  if (!sealed.ok()) return sealed.status();
  TimePoint now = options_.clock->Now();
  SecretRecord record{.name = n,
                      .key_id = sealed->key_id,
                      .nonce = std::move(sealed->nonce),
                      .ciphertext = std::move(sealed->ciphertext),
                      .created_at = now,
                      .updated_at = now};
  Status s = store_.PutSecret(record);
  Invalidate();
  if (s.ok()) LogInfo("secret stored", {{"secret", n}, {"keyId", record.key_id}});
  return s;
}

Status SecretsService::Delete(std::string_view name) {
  Status s = store_.DeleteSecret(std::string(name));
  Invalidate();
  if (s.ok()) LogInfo("secret deleted", {{"secret", std::string(name)}});
  return s;
}

Result<std::vector<SecretInfo>> SecretsService::List() {
  auto records = store_.ListSecrets();
  if (!records.ok()) return records.status();
  std::vector<SecretInfo> out;
  out.reserve(records->size());
  for (const auto& r : *records) {
    out.push_back(
        {.name = r.name, .key_id = r.key_id, .created_at = r.created_at, .updated_at = r.updated_at});
  }
  return out;
}

bool SecretsService::CheckDue() const {
  // Until the first load has finished, every caller waits for it (MaybeReload blocks then): the
  // placeholder published by the constructor must not be served as if it were the secrets.
  return !loaded_.load(std::memory_order_acquire) ||
         NowTicks() >= next_check_.load(std::memory_order_relaxed);
}

std::shared_ptr<const Json> SecretsService::Snapshot() {
  if (CheckDue()) (void)MaybeReload(false);
  std::lock_guard lock(snapshot_mu_);
  return current_;
}

void SecretsService::UpdateHeld(std::shared_ptr<const Json>& held) {
  if (CheckDue()) (void)MaybeReload(false);
  // `held` keeps its object alive, so no newer snapshot can share its address: equal pointers mean
  // the same snapshot.
  if (held && held.get() == current_raw_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(snapshot_mu_);
  held = current_;
}

std::function<void(std::shared_ptr<const Json>&)> SecretsService::Source() {
  return [this](std::shared_ptr<const Json>& held) { UpdateHeld(held); };
}

Status SecretsService::Refresh() {
  return MaybeReload(true);
}

Status SecretsService::MaybeReload(bool force) {
  std::unique_lock lock(refresh_mu_, std::defer_lock);
  if (force || !loaded_.load()) {
    lock.lock();  // nothing loaded yet: wait for it rather than run without secrets
  } else if (!lock.try_lock()) {
    return Status::Ok();  // another thread is checking; the published snapshot is served meanwhile
  }
  const int64_t now = NowTicks();
  // Checked (or loaded) while we waited for the lock.
  if (!force && now < next_check_.load() && (loaded_.load() || failing_)) return Status::Ok();
  next_check_.store(now + std::chrono::duration_cast<TimePoint::duration>(options_.check_interval).count());
  // The generation is read before the secrets, so a change racing the reload is at worst loaded
  // twice, never missed.
  auto generation = store_.SecretsGeneration();
  Status s = generation.status();
  if (generation.ok() && (force || !loaded_.load() || *generation != generation_)) s = Reload(*generation);
  if (!s.ok()) {
    if (!failing_) {
      LogWarn("cannot refresh secrets; workflows get the last snapshot loaded", {{"error", s.message()}});
    }
    failing_ = true;
  } else if (failing_) {
    LogInfo("secrets refreshed again");
    failing_ = false;
  }
  return s;
}

Status SecretsService::Reload(int64_t generation) {
  auto records = store_.ListSecrets();
  if (!records.ok()) return records.status();
  auto snapshot = std::make_shared<Json>(Json::object());
  if (keys_) {
    for (const auto& r : *records) {
      auto value = keys_->Open({r.key_id, r.nonce, r.ciphertext}, r.name);
      if (value.ok()) {
        (*snapshot)[r.name] = std::move(value).value();
      } else {
        LogWarn("a secret cannot be decrypted and is left out; workflows will not see it",
                {{"secret", r.name}, {"keyId", r.key_id}, {"error", value.status().message()}});
      }
    }
  } else if (!records->empty()) {
    LogWarn(std::string("secrets are stored but workflows cannot read them: ") + kNoKey,
            {{"count", records->size()}});
  }
  generation_ = generation;
  Publish(std::move(snapshot));
  loaded_.store(true);
  return Status::Ok();
}

void SecretsService::Publish(std::shared_ptr<const Json> snapshot) {
  std::lock_guard lock(snapshot_mu_);
  current_ = std::move(snapshot);
  current_raw_.store(current_.get(), std::memory_order_release);
}

Result<KeyRotationReport> SecretsService::RotateKey() {
  if (!keys_) return FailedPrecondition(kNoKey);
  auto records = store_.ListSecrets();
  if (!records.ok()) return records.status();
  KeyRotationReport report;
  report.key_id = keys_->current_key_id();
  Status failure;
  for (const auto& r : *records) {
    if (r.key_id == report.key_id) {
      ++report.already_current;
      continue;
    }
    auto value = keys_->Open({r.key_id, r.nonce, r.ciphertext}, r.name);
    if (!value.ok()) {
      report.failed.push_back(r.name + ": " + value.status().message());
      continue;
    }
    auto sealed = keys_->Seal(*value, r.name);
    if (!sealed.ok()) {
      failure = sealed.status();
      break;
    }
    SecretRecord updated = r;
    updated.key_id = sealed->key_id;
    updated.nonce = std::move(sealed->nonce);
    updated.ciphertext = std::move(sealed->ciphertext);
    if (Status s = store_.PutSecret(updated); !s.ok()) {
      failure = s;
      break;
    }
    ++report.resealed;
  }
  Invalidate();
  if (!failure.ok()) return failure;
  LogInfo("secrets re-sealed under the current key",
          {{"keyId", report.key_id}, {"resealed", report.resealed}, {"failed", report.failed.size()}});
  return report;
}

}  // namespace trellis
