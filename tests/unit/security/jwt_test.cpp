// JWT minting and verification: HS256 only, expiry and not-before with leeway, known roles, and a
// rejection for each way a token can be wrong.
#include "security/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/json.h"
#include "security/encoding.h"

namespace trellis::security {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test";

TimePoint T0() {
  return *ParseTime("2026-03-01T12:00:00Z");
}

int64_t Unix(TimePoint t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// A token built by hand, so that tests can produce what a careless or hostile issuer would.
std::string Forge(const Json& header, const Json& claims, std::string_view secret = kSecret,
                  const EVP_MD* md = EVP_sha256()) {
  std::string signing = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return signing + "." + Base64UrlEncode(Hmac(md, secret, signing));
}

Json GoodClaims() {
  return {{"sub", "alice"}, {"role", "editor"}, {"iat", Unix(T0())}, {"exp", Unix(T0()) + 3600}};
}

std::string Reason(const Result<JwtClaims>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
  return r.status().message();
}

TEST(JwtTest, MintThenVerifyRoundTrips) {
  auto token = MintJwt(kSecret, Role::kOperator, "ci-bot", std::chrono::hours(1), T0());
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2);
  auto claims = VerifyJwt(*token, kSecret, T0() + std::chrono::minutes(59));
  ASSERT_TRUE(claims.ok()) << claims.status().message();
  EXPECT_EQ(claims->subject, "ci-bot");
  EXPECT_EQ(claims->role, Role::kOperator);
  EXPECT_EQ(claims->expires_at, T0() + std::chrono::hours(1));
  EXPECT_EQ(claims->issued_at, T0());
  EXPECT_EQ(claims->not_before, T0());

  // The header is what other libraries expect.
  Json header;
  ASSERT_TRUE(ParseJson(*Base64UrlDecode(token->substr(0, token->find('.'))), &header, nullptr));
  EXPECT_EQ(header["alg"], "HS256");
}

TEST(JwtTest, TokensFromOtherIssuersVerify) {
  // Without typ, without sub, without nbf/iat: still valid.
  auto claims =
      VerifyJwt(Forge({{"alg", "HS256"}}, {{"role", "viewer"}, {"exp", Unix(T0()) + 60}}), kSecret, T0());
  ASSERT_TRUE(claims.ok()) << claims.status().message();
  EXPECT_EQ(claims->subject, "");
  EXPECT_EQ(claims->role, Role::kViewer);
  EXPECT_FALSE(claims->issued_at.has_value());
  // Fractional NumericDates are allowed by RFC 7519.
  Json c = GoodClaims();
  c["exp"] = Unix(T0()) + 10.5;
  EXPECT_TRUE(VerifyJwt(Forge({{"alg", "HS256"}, {"typ", "JWT"}}, c), kSecret, T0()).ok());
}

TEST(JwtTest, AlgNoneIsRejected) {
  std::string unsigned_token = Base64UrlEncode(Json{{"alg", "none"}, {"typ", "JWT"}}.dump()) + "." +
                               Base64UrlEncode(GoodClaims().dump()) + ".";
  EXPECT_THAT(Reason(VerifyJwt(unsigned_token, kSecret, T0())), HasSubstr("alg 'none' is not accepted"));
  // Even with a valid HS256 signature attached.
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "none"}}, GoodClaims()), kSecret, T0())),
              HasSubstr("alg 'none'"));
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "None"}}, GoodClaims()), kSecret, T0())),
              HasSubstr("not accepted"));
}

TEST(JwtTest, OtherAlgorithmsAreRejected) {
  EXPECT_THAT(
      Reason(VerifyJwt(Forge({{"alg", "HS512"}}, GoodClaims(), kSecret, EVP_sha512()), kSecret, T0())),
      HasSubstr("alg 'HS512' is not accepted; tokens must be signed with HS256"));
  EXPECT_THAT(
      Reason(VerifyJwt(Forge({{"alg", "HS384"}}, GoodClaims(), kSecret, EVP_sha384()), kSecret, T0())),
      HasSubstr("HS384"));
  // Algorithm confusion: an RS256 header over an HMAC signature.
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "RS256"}}, GoodClaims()), kSecret, T0())), HasSubstr("RS256"));
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"typ", "JWT"}}, GoodClaims()), kSecret, T0())), HasSubstr("no alg"));
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", 1}}, GoodClaims()), kSecret, T0())), HasSubstr("no alg"));
}

TEST(JwtTest, UnusualHeadersAreRejected) {
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}, {"typ", "JWE"}}, GoodClaims()), kSecret, T0())),
              HasSubstr("typ must be JWT"));
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}, {"crit", {"exp"}}}, GoodClaims()), kSecret, T0())),
              HasSubstr("critical"));
  EXPECT_TRUE(VerifyJwt(Forge({{"alg", "HS256"}, {"typ", "jwt"}}, GoodClaims()), kSecret, T0()).ok());
}

TEST(JwtTest, BadSignatureIsRejected) {
  std::string other_secret(40, 'z');
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, GoodClaims(), other_secret), kSecret, T0())),
              HasSubstr("signature does not match"));

  auto token = MintJwt(kSecret, Role::kViewer, "bob", seconds(60), T0());
  ASSERT_TRUE(token.ok());
  // Changing the claims (viewer -> admin) invalidates the signature.
  std::string forged = *token;
  size_t dot1 = forged.find('.'), dot2 = forged.rfind('.');
  Json claims;
  ASSERT_TRUE(ParseJson(*Base64UrlDecode(forged.substr(dot1 + 1, dot2 - dot1 - 1)), &claims, nullptr));
  claims["role"] = "admin";
  forged = forged.substr(0, dot1 + 1) + Base64UrlEncode(claims.dump()) + forged.substr(dot2);
  EXPECT_THAT(Reason(VerifyJwt(forged, kSecret, T0())), HasSubstr("signature does not match"));

  std::string truncated = token->substr(0, token->size() - 2);
  EXPECT_THAT(Reason(VerifyJwt(truncated, kSecret, T0())), HasSubstr("signature"));
  std::string no_sig = token->substr(0, dot2 + 1);
  EXPECT_THAT(Reason(VerifyJwt(no_sig, kSecret, T0())), HasSubstr("signature is malformed"));
}

TEST(JwtTest, MalformedTokensAreRejected) {
  EXPECT_THAT(Reason(VerifyJwt("", kSecret, T0())), HasSubstr("empty"));
  EXPECT_THAT(Reason(VerifyJwt("abc", kSecret, T0())), HasSubstr("three"));
  EXPECT_THAT(Reason(VerifyJwt("a.b.c.d", kSecret, T0())), HasSubstr("three"));
  EXPECT_THAT(Reason(VerifyJwt("!!.b.c", kSecret, T0())), HasSubstr("header"));
  EXPECT_THAT(Reason(VerifyJwt(std::string(kMaxJwtBytes + 1, 'a'), kSecret, T0())), HasSubstr("longer than"));
  // A signed payload that is not an object.
  std::string signing = Base64UrlEncode(Json{{"alg", "HS256"}}.dump()) + "." + Base64UrlEncode("[1,2]");
  std::string token = signing + "." + Base64UrlEncode(Hmac(EVP_sha256(), kSecret, signing));
  EXPECT_FALSE(VerifyJwt(token, kSecret, T0()).ok());
}

TEST(JwtTest, ExpiryIsRequiredAndEnforcedWithLeeway) {
  Json c = GoodClaims();
  c.erase("exp");
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())), HasSubstr("no exp"));
  c["exp"] = "tomorrow";
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())),
              HasSubstr("'exp' is not a number"));

  auto token = MintJwt(kSecret, Role::kAdmin, "a", seconds(60), T0());
  ASSERT_TRUE(token.ok());
  TimePoint exp = T0() + seconds(60);
  EXPECT_TRUE(VerifyJwt(*token, kSecret, exp - seconds(1)).ok());
  EXPECT_TRUE(VerifyJwt(*token, kSecret, exp + kJwtLeeway - seconds(1)).ok());  // within the leeway
  EXPECT_THAT(Reason(VerifyJwt(*token, kSecret, exp + kJwtLeeway)), HasSubstr("expired"));
  EXPECT_THAT(Reason(VerifyJwt(*token, kSecret, exp + std::chrono::hours(24))), HasSubstr("expired"));
}

TEST(JwtTest, NotBeforeAndIssuedAtInTheFutureAreRejectedBeyondTheLeeway) {
  Json c = GoodClaims();
  c["nbf"] = Unix(T0()) + 600;
  c["exp"] = Unix(T0()) + 3600;
  std::string token = Forge({{"alg", "HS256"}}, c);
  EXPECT_THAT(Reason(VerifyJwt(token, kSecret, T0())), HasSubstr("not valid yet"));
  EXPECT_THAT(Reason(VerifyJwt(token, kSecret, T0() + seconds(600) - kJwtLeeway - seconds(1))),
              HasSubstr("not valid yet"));
  EXPECT_TRUE(VerifyJwt(token, kSecret, T0() + seconds(600) - kJwtLeeway).ok());

  c = GoodClaims();
  c["iat"] = Unix(T0()) + 3000;
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())),
              HasSubstr("issued in the future"));
  c["iat"] = Unix(T0()) + 20;  // clock skew
  EXPECT_TRUE(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0()).ok());
  c["nbf"] = "soon";
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())),
              HasSubstr("'nbf' is not a number"));
}

TEST(JwtTest, RoleMustBeKnown) {
  Json c = GoodClaims();
  c.erase("role");
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())), HasSubstr("no role"));
  for (Json bad : {Json("root"), Json("Admin"), Json(3), Json::array({"admin"})}) {
    c["role"] = bad;
    EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())),
                HasSubstr("role is not one of viewer, operator, editor, admin"))
        << bad.dump();
  }
  c = GoodClaims();
  c["sub"] = 42;
  EXPECT_THAT(Reason(VerifyJwt(Forge({{"alg", "HS256"}}, c), kSecret, T0())), HasSubstr("sub"));
}

TEST(JwtTest, SecretShorterThan32BytesIsRefused) {
  std::string short_secret(31, 's');
  auto minted = MintJwt(short_secret, Role::kAdmin, "a", seconds(60), T0());
  ASSERT_FALSE(minted.ok());
  EXPECT_EQ(minted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(minted.status().message(), HasSubstr("31 bytes; HS256 needs at least 32"));
  EXPECT_THAT(minted.status().message(), Not(HasSubstr(short_secret)));
  auto verified = VerifyJwt(Forge({{"alg", "HS256"}}, GoodClaims(), short_secret), short_secret, T0());
  EXPECT_EQ(verified.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(CheckJwtSecret("").message(), HasSubstr("not set"));
  EXPECT_TRUE(CheckJwtSecret(std::string(32, 's')).ok());
}

TEST(JwtTest, MintRejectsABadLifetime) {
  EXPECT_EQ(MintJwt(kSecret, Role::kAdmin, "a", seconds(0), T0()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MintJwt(kSecret, Role::kAdmin, "a", seconds(-5), T0()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_THAT(MintJwt(kSecret, Role::kAdmin, "a", std::chrono::hours(24 * 400), T0()).status().message(),
              HasSubstr("API key"));
}

TEST(RoleTest, NamesParseAndRolesNest) {
  for (Role r : AllRoles()) EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_FALSE(ParseRole("ADMIN").has_value());
  EXPECT_FALSE(ParseRole("").has_value());
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Role::kViewer));
  EXPECT_TRUE(RoleAllows(Role::kEditor, Role::kOperator));
  EXPECT_TRUE(RoleAllows(Role::kOperator, Role::kOperator));
  EXPECT_FALSE(RoleAllows(Role::kOperator, Role::kEditor));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Role::kOperator));
  EXPECT_FALSE(RoleAllows(Role::kEditor, Role::kAdmin));
}

}  // namespace
}  // namespace trellis::security
