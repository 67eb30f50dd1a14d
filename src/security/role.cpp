#include "security/role.h"

namespace trellis::security {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kEditor: return "editor";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : AllRoles()) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

const std::vector<Role>& AllRoles() {
  static const std::vector<Role> roles = {Role::kViewer, Role::kOperator, Role::kEditor, Role::kAdmin};
  return roles;
}

const char* RoleNamesList() {
  return "viewer, operator, editor, admin";
}

}  // namespace trellis::security
