// API key generation, display prefix, stored hash; and the encoding helpers they rest on.
#include "security/api_key.h"

#include <gtest/gtest.h>

#include <set>

#include "security/encoding.h"

namespace trellis::security {
namespace {

TEST(ApiKeyTest, GeneratedKeysHaveTheDocumentedShape) {
  GeneratedApiKey k = GenerateApiKey();
  EXPECT_EQ(k.key.size(), 36u);
  EXPECT_EQ(k.key.rfind("trk_", 0), 0u);
  EXPECT_TRUE(LooksLikeApiKey(k.key)) << k.key;
  EXPECT_EQ(k.prefix, k.key.substr(0, 8));
  EXPECT_EQ(k.hash, Sha256Hex(k.key));
  EXPECT_EQ(k.hash.size(), 64u);
  EXPECT_EQ(k.hash.find(k.key.substr(4)), std::string::npos);
}

TEST(ApiKeyTest, KeysAreUniqueAndUseTheWholeAlphabet) {
  std::set<std::string> keys;
  std::set<char> chars;
  for (int i = 0; i < 500; ++i) {
    GeneratedApiKey k = GenerateApiKey();
    keys.insert(k.key);
    for (char c : k.key.substr(4)) chars.insert(c);
  }
  EXPECT_EQ(keys.size(), 500u);
  EXPECT_EQ(chars.size(), 62u);  // 16000 draws from 62 symbols
}

TEST(ApiKeyTest, HashIsStableHexSha256AndMatchingIsExact) {
  EXPECT_EQ(HashApiKey("trk_abc"), Sha256Hex("trk_abc"));
  EXPECT_EQ(HashApiKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  GeneratedApiKey k = GenerateApiKey();
  EXPECT_TRUE(ApiKeyMatchesHash(k.key, k.hash));
  std::string other = k.key;
  other.back() = other.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(ApiKeyMatchesHash(other, k.hash));
  EXPECT_FALSE(ApiKeyMatchesHash(k.key, k.hash.substr(1)));
}

TEST(ApiKeyTest, ShapeCheck) {
  EXPECT_FALSE(LooksLikeApiKey(""));
  EXPECT_FALSE(LooksLikeApiKey("trk_short"));
  EXPECT_FALSE(LooksLikeApiKey("xyz_" + std::string(32, 'a')));
  EXPECT_FALSE(LooksLikeApiKey("trk_" + std::string(31, 'a') + "-"));
  EXPECT_TRUE(LooksLikeApiKey("trk_" + std::string(32, 'Z')));
  EXPECT_EQ(ApiKeyPrefix("trk_"), "trk_");
}

TEST(EncodingTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(EncodingTest, Base64IsStrict) {
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(Base64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_FALSE(Base64Decode("aGVsbG8").has_value());    // padding missing
  EXPECT_FALSE(Base64Decode("aGVsbG9=").has_value());   // non-zero leftover bits
  EXPECT_FALSE(Base64Decode("aGV sbG8=").has_value());  // whitespace inside
  EXPECT_FALSE(Base64Decode("aGVsbG8_").has_value());   // URL alphabet
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("-_8=").has_value());
  EXPECT_FALSE(Base64UrlDecode("a").has_value());
  for (size_t n = 0; n < 40; ++n) {
    std::string bytes = RandomBytes(n);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  }
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
}

}  // namespace
}  // namespace trellis::security
