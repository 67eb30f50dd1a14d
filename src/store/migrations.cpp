#include "store/migrations.h"

#include <nettle/sha2.h>

#include <map>

namespace trellis {

std::string MigrationChecksum(const Migration& m) {
  // nettle, not OpenSSL: see CMakeLists.txt (NETTLE).
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, m.sql.size(), reinterpret_cast<const uint8_t*>(m.sql.data()));
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_SIZE);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::vector<const Migration*>> PlanMigrations(const std::vector<Migration>& known,
                                                     const std::vector<MigrationInfo>& applied) {
  std::map<int, const Migration*> by_version;
  for (const auto& m : known) by_version[m.version] = &m;
  std::map<int, const MigrationInfo*> done;
  for (const auto& a : applied) {
    auto it = by_version.find(a.version);
    if (it == by_version.end()) {
      return FailedPrecondition("the database has migration " + std::to_string(a.version) + " (" + a.name +
                                ") that this trellis binary does not know: it was migrated by a newer "
                                "version; run that version or newer");
    }
    std::string expected = MigrationChecksum(*it->second);
    if (a.checksum != expected) {
      return FailedPrecondition("migration " + std::to_string(a.version) + " (" + a.name +
                                ") was changed after it was applied: checksum in the database " + a.checksum +
                                ", in this binary " + expected +
                                ". Applied migrations are immutable; put the change in a new migration");
    }
    done[a.version] = &a;
  }
  std::vector<const Migration*> todo;
  for (const auto& [version, m] : by_version) {
    if (!done.count(version)) todo.push_back(m);
  }
  return todo;
}

std::vector<MigrationInfo> MigrationStatusList(const std::vector<Migration>& known,
                                               const std::vector<MigrationInfo>& applied) {
  std::map<int, const MigrationInfo*> done;
  for (const auto& a : applied) done[a.version] = &a;
  std::vector<MigrationInfo> out;
  for (const auto& m : known) {
    MigrationInfo info{.version = m.version, .name = m.name, .checksum = MigrationChecksum(m)};
    if (auto it = done.find(m.version); it != done.end()) info.applied_at = it->second->applied_at;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace trellis
