#include "engine/redaction.h"

namespace trellis {

void RedactSecrets(std::string& text, const Json& secrets) {
  for (const auto& [name, v] : secrets.items()) {
    if (!v.is_string()) continue;
    const auto& secret = v.get_ref<const std::string&>();
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
      text.replace(pos, secret.size(), kRedacted);
    }
  }
}

void RedactSecrets(Json& value, const Json& secrets) {
  if (value.is_string()) {
    RedactSecrets(value.get_ref<std::string&>(), secrets);
  } else if (value.is_structured()) {
    for (auto& child : value) RedactSecrets(child, secrets);
  }
}

}  // namespace trellis
