#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.h"

namespace trellis::config {
namespace {

using ::testing::HasSubstr;

TEST(ConfigDocsTest, CheckedInDocMatchesTheKeyTable) {
  std::ifstream in(std::string(TRELLIS_SOURCE_DIR) + "/docs/configuration.md", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == ConfigurationDocMarkdown())
      << "docs/configuration.md is stale; run `build/trellis config --docs > docs/configuration.md`";
}

TEST(ConfigDocsTest, EveryKeyIsDocumentedWithItsEnvironmentName) {
  std::string doc = ConfigurationDocMarkdown();
  for (const auto& k : ConfigKeys()) {
    EXPECT_THAT(doc, HasSubstr("| `" + k.path + "` | `" + EnvName(k.path) + "`")) << k.path;
  }
  EXPECT_THAT(doc, HasSubstr("`TRELLIS_DATABASE__PASSWORD_FILE`"));
  EXPECT_THAT(doc, HasSubstr("`DATABASE_URL_FILE`"));
  EXPECT_THAT(doc, HasSubstr("`JWT_SECRET_FILE`"));
}

}  // namespace
}  // namespace trellis::config
