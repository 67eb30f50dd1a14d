// AES-256-GCM sealing of secrets: round trips, tamper detection, key ids and rotation, and the
// errors a misconfigured ENCRYPTION_KEY gets.
#include "security/secret_box.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "security/encoding.h"

namespace trellis::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Key(char fill) {
  return std::string(kEncryptionKeyBytes, fill);
}

KeyRing Ring(char fill, const std::vector<std::string>& previous = {}) {
  auto r = KeyRing::FromRawKeys(Key(fill), previous);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

TEST(SecretBoxTest, RoundTrip) {
  KeyRing ring = Ring('a');
  for (std::string plain : {std::string("s3cr3t-value"), std::string(""), std::string(100000, 'x'),
                            std::string("bin\0ary\xff", 8)}) {
    auto sealed = ring.Seal(plain, "TOKEN");
    ASSERT_TRUE(sealed.ok()) << sealed.status().message();
    EXPECT_EQ(sealed->key_id, ring.current_key_id());
    EXPECT_EQ(sealed->nonce.size(), kNonceBytes);
    EXPECT_EQ(sealed->ciphertext.size(), plain.size() + kTagBytes);
    if (plain.size() >= 4) {
      EXPECT_EQ(sealed->ciphertext.find(plain), std::string::npos);
    }
    auto opened = ring.Open(*sealed, "TOKEN");
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EXPECT_EQ(*opened, plain);
  }
}

TEST(SecretBoxTest, EverySealUsesAFreshNonce) {
  KeyRing ring = Ring('a');
  auto a = ring.Seal("same", "N");
  auto b = ring.Seal("same", "N");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_NE(a->ciphertext, b->ciphertext);
}

TEST(SecretBoxTest, KeyIdIsTheFirst16HexOfTheKeysSha256) {
  KeyRing ring = Ring('a');
  EXPECT_EQ(ring.current_key_id(), Sha256Hex(Key('a')).substr(0, 16));
  EXPECT_EQ(ring.current_key_id().size(), 16u);
  EXPECT_NE(Ring('b').current_key_id(), ring.current_key_id());
}

TEST(SecretBoxTest, TamperedCiphertextNonceTagOrAssociatedDataFailAuthentication) {
  KeyRing ring = Ring('a');
  auto sealed = ring.Seal("s3cr3t-value", "TOKEN");
  ASSERT_TRUE(sealed.ok());
  auto expect_rejected = [&](const SealedValue& v, std::string_view ad) {
    auto r = ring.Open(v, ad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("failed authentication"));
    EXPECT_THAT(r.status().message(), Not(HasSubstr("s3cr3t")));
  };
  SealedValue v = *sealed;
  v.ciphertext[0] ^= 1;
  expect_rejected(v, "TOKEN");
  v = *sealed;
  v.ciphertext.back() ^= 1;  // the tag
  expect_rejected(v, "TOKEN");
  v = *sealed;
  v.nonce[5] ^= 1;
  expect_rejected(v, "TOKEN");
  expect_rejected(*sealed, "OTHER_NAME");  // a row copied under another name
  expect_rejected(*sealed, "");
  v = *sealed;
  v.ciphertext.resize(v.ciphertext.size() - 1);  // truncated
  expect_rejected(v, "TOKEN");

  v = *sealed;
  v.nonce = "short";
  auto r = ring.Open(v, "TOKEN");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("malformed"));
}

TEST(SecretBoxTest, AWrongKeyWithTheSameIdFailsAuthentication) {
  auto sealed = Ring('a').Seal("value", "N");
  ASSERT_TRUE(sealed.ok());
  SealedValue v = *sealed;
  KeyRing other = Ring('b');
  v.key_id = other.current_key_id();  // pretend: the id matches, the key does not
  auto r = other.Open(v, "N");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(SecretBoxTest, UnknownKeyIdIsAClearFailedPrecondition) {
  auto sealed = Ring('a').Seal("value", "N");
  ASSERT_TRUE(sealed.ok());
  auto r = Ring('b').Open(*sealed, "N");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr(sealed->key_id));
  EXPECT_THAT(r.status().message(), HasSubstr("security.previous_encryption_keys"));
}

TEST(SecretBoxTest, RotationOldKeyStillOpensAndNewSealsUseTheCurrentKey) {
  KeyRing old_ring = Ring('a');
  auto old_sealed = old_ring.Seal("legacy", "N");
  ASSERT_TRUE(old_sealed.ok());

  KeyRing rotated = Ring('b', {Key('a')});
  EXPECT_EQ(rotated.current_key_id(), Ring('b').current_key_id());
  EXPECT_EQ(rotated.key_ids(),
            (std::vector<std::string>{Ring('b').current_key_id(), old_ring.current_key_id()}));
  EXPECT_TRUE(rotated.HasKey(old_ring.current_key_id()));
  auto opened = rotated.Open(*old_sealed, "N");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened, "legacy");

  auto fresh = rotated.Seal("new", "N");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->key_id, rotated.current_key_id());
  // The old ring alone cannot read what the new key sealed.
  EXPECT_EQ(old_ring.Open(*fresh, "N").status().code(), StatusCode::kFailedPrecondition);
}

TEST(SecretBoxTest, ConfiguredKeysAreBase64OfExactly32Bytes) {
  std::string good = Base64Encode(Key('k'));
  auto ring = KeyRing::FromBase64("  " + good + "\n", {Base64Encode(Key('p'))});
  ASSERT_TRUE(ring.ok()) << ring.status().message();
  EXPECT_EQ(ring->current_key_id(), KeyRing::KeyIdOf(Key('k')));
  EXPECT_TRUE(ring->HasKey(KeyRing::KeyIdOf(Key('p'))));
  // The same key listed again as a previous key is harmless.
  auto dup = KeyRing::FromBase64(good, {good});
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->key_ids().size(), 1u);
}

TEST(SecretBoxTest, BadKeyConfigurationSaysWhatIsWrongAndHowToGenerateAKey) {
  auto error = [](std::string_view current, std::vector<std::string> previous = {}) {
    auto r = KeyRing::FromBase64(current, previous);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_THAT(error(""), HasSubstr("security.encryption_key is not set"));
  EXPECT_EQ(KeyRing::FromBase64("").status().code(), StatusCode::kFailedPrecondition);
  std::string not_base64 = "this is not base64!";
  EXPECT_THAT(error(not_base64), HasSubstr("not valid base64"));
  EXPECT_THAT(error(not_base64), Not(HasSubstr(not_base64)));
  std::string short_key = Base64Encode(std::string(16, 'x'));
  EXPECT_THAT(error(short_key), HasSubstr("decodes to 16 bytes; AES-256 needs exactly 32"));
  EXPECT_THAT(error(short_key), Not(HasSubstr(short_key)));
  EXPECT_THAT(error(Base64Encode(std::string(33, 'x'))), HasSubstr("33 bytes"));
  // The raw 32 characters instead of their base64: a common mistake.
  EXPECT_THAT(error(Key('r')), HasSubstr("base64"));
  for (const auto& msg : {error(""), error(short_key)}) {
    EXPECT_THAT(msg, HasSubstr("openssl rand -base64 32"));
  }
  EXPECT_THAT(error(Base64Encode(Key('k')), {"bad"}), HasSubstr("security.previous_encryption_keys[0]"));
  EXPECT_EQ(KeyRing::FromRawKeys("short").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trellis::security
