// `trellis token --role R [--ttl 1h] [--subject S]`: prints a bearer token (JWT, HS256) signed with
// the configured security.jwt_secret, for calling the API from scripts and CI.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "core/duration.h"
#include "security/jwt.h"

namespace trellis::cli {
namespace {

struct TokenFlags {
  ConfigFlags config;
  std::string role;
  std::string ttl = "1h";
  std::string subject = "cli";
};

int RunToken(const TokenFlags& f) {
  auto cfg = LoadConfigOrReport(f.config, "token");
  if (!cfg) return 1;
  auto role = security::ParseRole(f.role);
  if (!role) {
    std::cerr << "error: --role must be one of " << security::RoleNamesList() << "\n";
    return 1;
  }
  auto ttl = ParseDuration(f.ttl);
  if (!ttl.ok()) {
    std::cerr << "error: --ttl: " << ttl.status().message() << "\n";
    return 1;
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  auto token = security::MintJwt(cfg->GetString("security.jwt_secret"), *role, f.subject, seconds,
                                 std::chrono::system_clock::now());
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

void AddTokenCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<TokenFlags>();
  auto* cmd = app.add_subcommand("token", "Print an API bearer token (JWT) signed with security.jwt_secret");
  AddConfigFlags(cmd, &flags->config);
  cmd->add_option("--role", flags->role, "Role the token grants: viewer, operator, editor or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "editor", "admin"}));
  cmd->add_option("--ttl", flags->ttl, "Lifetime, e.g. 15m, 1h, 7d (at most 366d)")->capture_default_str();
  cmd->add_option("--subject", flags->subject, "The token's subject (sub), e.g. who it is for")
      ->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = RunToken(*flags); });
}

}  // namespace trellis::cli
