// `trellis apikey create|list|delete`: manages the API keys the server accepts in `X-Api-Key`,
// directly in the configured database. `create` prints the key once (only its hash is stored).
// With SQLite, run these while the server is stopped (the file is locked by one process), or use
// the API.
#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/uuid.h"
#include "runtime/open_store.h"
#include "runtime/services.h"
#include "security/api_key.h"
#include "security/role.h"

namespace trellis::cli {
namespace {

struct ApiKeyFlags {
  ConfigFlags config;
  std::string role;
  std::string name;
  std::string expires;
  std::string output = "text";
  std::string id;
};

// Loads the configuration and opens (migrating when database.auto_migrate) the configured store.
std::unique_ptr<Store> OpenConfiguredStore(const ConfigFlags& flags, const std::string& role) {
  auto cfg = LoadConfigOrReport(flags, role);
  if (!cfg) return nullptr;
  ConfigureLoggingFrom(*cfg);
  auto values = config::DatabaseValues(*cfg);
  auto settings = values.ok() ? ParseDatabaseSettings(*values) : Result<DatabaseSettings>(values.status());
  if (!settings.ok()) {
    std::cerr << "error: " << settings.status().message() << "\n";
    return nullptr;
  }
  auto store = OpenStore(*settings, {});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return nullptr;
  }
  return std::move(store).value();
}

int RunCreate(const ApiKeyFlags& f) {
  auto role = security::ParseRole(f.role);
  if (!role) {
    std::cerr << "error: --role must be one of " << security::RoleNamesList() << "\n";
    return 1;
  }
  std::optional<std::chrono::milliseconds> lifetime;
  if (!f.expires.empty()) {
    auto d = ParseDuration(f.expires);
    if (!d.ok() || d->count() <= 0) {
      std::cerr << "error: --expires must be a positive duration such as 30d or 12h\n";
      return 1;
    }
    lifetime = *d;
  }
  auto store = OpenConfiguredStore(f.config, "apikey");
  if (!store) return 1;
  TimePoint now = std::chrono::system_clock::now();
  security::GeneratedApiKey key = security::GenerateApiKey();
  ApiKeyRecord record{.id = NewUuidV7(now),
                      .name = f.name,
                      .prefix = key.prefix,
                      .hash = key.hash,
                      .role = security::RoleName(*role),
                      .created_at = now};
  if (lifetime) record.expires_at = now + *lifetime;
  if (Status s = store->InsertApiKey(record); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::cout << key.key << "\n";
  std::cerr << "created API key " << record.id << " (" << record.prefix << "..., role " << record.role
            << (record.expires_at ? ", expires " + FormatTime(*record.expires_at)
                                  : std::string(", no expiry"))
            << "); it is shown only this once: store it now\n";
  return 0;
}

std::string Cell(const std::optional<TimePoint>& t) {
  return t ? FormatTime(*t) : "-";
}

int RunList(const ApiKeyFlags& f) {
  auto store = OpenConfiguredStore(f.config, "apikey");
  if (!store) return 1;
  auto keys = store->ListApiKeys();
  if (!keys.ok()) {
    std::cerr << "error: " << keys.status().message() << "\n";
    return 1;
  }
  if (f.output == "json") {
    Json out = Json::array();
    for (const auto& k : *keys) {
      Json j = {{"id", k.id},
                {"name", k.name},
                {"prefix", k.prefix},
                {"role", k.role},
                {"createdAt", FormatTime(k.created_at)}};
      j["expiresAt"] = k.expires_at ? Json(FormatTime(*k.expires_at)) : Json();
      j["lastUsedAt"] = k.last_used_at ? Json(FormatTime(*k.last_used_at)) : Json();
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (keys->empty()) {
    std::cout << "no API keys\n";
    return 0;
  }
  size_t name_width = 4;
  for (const auto& k : *keys) name_width = std::max(name_width, k.name.size());
  auto row = [&](const std::string& id, const std::string& name, const std::string& prefix,
                 const std::string& role, const std::string& created, const std::string& expires,
                 const std::string& used) {
    std::cout << std::left << std::setw(38) << id << std::setw(static_cast<int>(name_width) + 2) << name
              << std::setw(10) << prefix << std::setw(10) << role << std::setw(26) << created << std::setw(26)
              << expires << used << "\n";
  };
  row("ID", "NAME", "PREFIX", "ROLE", "CREATED", "EXPIRES", "LAST USED");
  for (const auto& k : *keys) {
    row(k.id, k.name.empty() ? "-" : k.name, k.prefix, k.role, FormatTime(k.created_at), Cell(k.expires_at),
        Cell(k.last_used_at));
  }
  return 0;
}

int RunDelete(const ApiKeyFlags& f) {
  auto store = OpenConfiguredStore(f.config, "apikey");
  if (!store) return 1;
  Status s = store->DeleteApiKey(f.id);
  if (s.code() == StatusCode::kNotFound) {
    std::cerr << "error: no API key with id " << f.id << "\n";
    return 1;
  }
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  std::cout << "deleted API key " << f.id << "\n";
  return 0;
}

}  // namespace

void AddApiKeyCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ApiKeyFlags>();
  auto* cmd = app.add_subcommand("apikey", "Create, list and delete API keys (X-Api-Key)");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Create an API key and print it (only this once)");
  AddConfigFlags(create, &flags->config);
  create->add_option("--role", flags->role, "Role the key grants: viewer, operator, editor or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "editor", "admin"}));
  create->add_option("--name", flags->name, "A label to tell keys apart, e.g. ci-deploy");
  create->add_option("--expires", flags->expires, "Lifetime, e.g. 90d; default: never expires");
  create->callback([flags, exit_code] { *exit_code = RunCreate(*flags); });

  auto* list = cmd->add_subcommand("list", "List API keys (never the keys themselves)");
  AddConfigFlags(list, &flags->config);
  list->add_option("--output", flags->output, "text | json")
      ->default_val("text")
      ->check(CLI::IsMember({"text", "json"}));
  list->callback([flags, exit_code] { *exit_code = RunList(*flags); });

  auto* del = cmd->add_subcommand("delete", "Delete an API key; requests using it are refused from then on");
  AddConfigFlags(del, &flags->config);
  del->add_option("id", flags->id, "The key's id (see `trellis apikey list`)")->required();
  del->callback([flags, exit_code] { *exit_code = RunDelete(*flags); });
}

}  // namespace trellis::cli
