// API roles (DESIGN.md section 6), carried by JWTs and API keys.
//
// The roles are nested: admin ⊇ editor ⊇ operator ⊇ viewer. A route names the least role it needs
// and RoleAllows(have, need) decides. What each role is for:
//   viewer   – read definitions, instances, journals, stats;
//   operator – also run, cancel and retry instances, send events, replay webhooks;
//   editor   – also create, change, publish and delete definitions;
//   admin    – also manage secrets and API keys.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace trellis::security {

// Ordered from least to most privileged; the numeric order is the inclusion order.
enum class Role { kViewer = 0, kOperator = 1, kEditor = 2, kAdmin = 3 };

// "admin", "editor", "operator", "viewer".
const char* RoleName(Role role);
// Exact lower-case names only; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);
// Every role, least privileged first (for help texts and messages).
const std::vector<Role>& AllRoles();
// "viewer, operator, editor, admin".
const char* RoleNamesList();

// True when a caller holding `have` may do what needs `need`.
constexpr bool RoleAllows(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

}  // namespace trellis::security
