#include "security/ssrf_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace trellis {
namespace {

IpAddress Ip(const std::string& text) {
  auto ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip.value_or(IpAddress{});
}

Status Check(const SsrfGuard& guard, const std::string& addr, const std::string& host = "") {
  return guard.CheckAddress(host.empty() ? addr : host, Ip(addr));
}

// --- Denied by default -------------------------------------------------------------------------

class DeniedAddressTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(DeniedAddressTest, IsDeniedWithReason) {
  const auto& [addr, reason] = GetParam();
  Status s = Check(SsrfGuard(), addr);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << addr;
  EXPECT_NE(s.message().find(reason), std::string::npos) << addr << ": " << s.message();
  EXPECT_NE(s.message().find("allow it with http.allow_hosts"), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    RestrictedRanges, DeniedAddressTest,
    ::testing::Values(
        std::pair{"127.0.0.1", "loopback address"}, std::pair{"127.255.255.254", "loopback address"},
        std::pair{"::1", "loopback address"}, std::pair{"0.0.0.0", "unspecified address"},
        std::pair{"0.1.2.3", "reserved address (this network"}, std::pair{"::", "unspecified address"},
        std::pair{"10.0.0.1", "private address"}, std::pair{"10.255.255.255", "private address"},
        std::pair{"172.16.0.1", "private address"}, std::pair{"172.31.255.255", "private address"},
        std::pair{"192.168.1.1", "private address"}, std::pair{"169.254.0.1", "link-local address"},
        std::pair{"169.254.169.254", "link-local address (cloud metadata)"},
        std::pair{"100.64.0.1", "shared (CGNAT) address"},
        std::pair{"100.127.255.255", "shared (CGNAT) address"},
        std::pair{"100.100.100.200", "shared (CGNAT) address"},
        std::pair{"192.0.0.192", "reserved address (IETF protocol assignments)"},
        std::pair{"198.18.0.1", "reserved address (benchmarking)"},
        std::pair{"192.0.2.1", "reserved address (documentation)"},
        std::pair{"224.0.0.1", "multicast address"}, std::pair{"239.255.255.250", "multicast address"},
        std::pair{"240.0.0.1", "reserved address"}, std::pair{"255.255.255.255", "broadcast address"},
        std::pair{"fe80::1", "link-local address"}, std::pair{"febf:ffff::1", "link-local address"},
        std::pair{"fec0::1", "private address (site-local)"},
        std::pair{"fc00::1", "private address (unique local)"},
        std::pair{"fd12:3456::1", "private address (unique local)"},
        std::pair{"fd00:ec2::254", "private address (cloud metadata)"},
        std::pair{"ff02::1", "multicast address"}, std::pair{"100::1", "reserved address (discard-only)"},
        std::pair{"2001:db8::1", "reserved address (documentation)"},
        // IPv4 embedded in IPv6.
        std::pair{"::ffff:127.0.0.1", "loopback address (IPv4-mapped)"},
        std::pair{"::ffff:169.254.169.254", "link-local address (cloud metadata) (IPv4-mapped)"},
        std::pair{"::ffff:10.1.2.3", "private address (IPv4-mapped)"},
        std::pair{"::ffff:0.0.0.0", "unspecified address (IPv4-mapped)"},
        std::pair{"::ffff:100.64.1.1", "shared (CGNAT) address (IPv4-mapped)"},
        std::pair{"::ffff:224.0.0.1", "multicast address (IPv4-mapped)"},
        std::pair{"::ffff:7f00:1", "loopback address (IPv4-mapped)"},
        std::pair{"::127.0.0.1", "loopback address (IPv4-compatible)"},
        std::pair{"::192.168.0.1", "private address (IPv4-compatible)"},
        std::pair{"64:ff9b::a9fe:a9fe", "link-local address (cloud metadata) (NAT64)"},
        std::pair{"64:ff9b:1::1", "private address (local-use NAT64)"},
        std::pair{"2002:7f00:1::1", "loopback address (6to4)"},
        std::pair{"2002:c0a8:101::", "private address (6to4)"}));

TEST(SsrfGuardTest, PublicAddressesAreAllowed) {
  SsrfGuard guard;
  for (const char* addr :
       {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.1", "100.63.255.255",
        "100.128.0.1", "169.253.1.1", "192.167.1.1", "223.255.255.255", "2606:4700::1111",
        "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_TRUE(Check(guard, addr).ok()) << addr << ": " << Check(guard, addr).ToString();
  }
}

TEST(SsrfGuardTest, DenialMessageNamesHostAndReason) {
  Status s = Check(SsrfGuard(), "127.0.0.1");
  EXPECT_EQ(s.message(),
            "HttpRequest to 127.0.0.1 denied: loopback address (allow it with http.allow_hosts)");
}

TEST(SsrfGuardTest, DenialMessageShowsResolvedAddressWhenHostIsAName) {
  Status s = Check(SsrfGuard(), "169.254.169.254", "metadata.google.internal");
  EXPECT_EQ(
      s.message(),
      "HttpRequest to metadata.google.internal (169.254.169.254) denied: link-local address (cloud metadata) "
      "(allow it with http.allow_hosts)");
}

// --- Allow-list --------------------------------------------------------------------------------

TEST(SsrfGuardTest, AllowListedIpAddressIsAllowed) {
  SsrfGuard guard({"127.0.0.1", "::1"});
  EXPECT_TRUE(Check(guard, "127.0.0.1").ok());
  EXPECT_TRUE(Check(guard, "::1").ok());
  EXPECT_FALSE(Check(guard, "127.0.0.2").ok());
  EXPECT_FALSE(Check(guard, "10.0.0.1").ok());
}

TEST(SsrfGuardTest, AllowListedIpv4AlsoAllowsItsIpv4MappedForm) {
  SsrfGuard guard({"127.0.0.1"});
  EXPECT_TRUE(Check(guard, "::ffff:127.0.0.1").ok());
  // The IPv4-compatible form is a different IPv6 address, not the same destination.
  EXPECT_FALSE(Check(guard, "::127.0.0.1").ok());
}

TEST(SsrfGuardTest, AllowListedCidrCoversItsRangeOnly) {
  SsrfGuard guard({"10.0.0.0/8", "192.168.1.0/24", "fd00::/8"});
  EXPECT_TRUE(Check(guard, "10.0.0.1").ok());
  EXPECT_TRUE(Check(guard, "10.255.255.255").ok());
  EXPECT_TRUE(Check(guard, "::ffff:10.9.9.9").ok());
  EXPECT_TRUE(Check(guard, "192.168.1.77").ok());
  EXPECT_FALSE(Check(guard, "192.168.2.1").ok());
  EXPECT_TRUE(Check(guard, "fd12::1").ok());
  EXPECT_FALSE(Check(guard, "fc00::1").ok());
  EXPECT_FALSE(Check(guard, "127.0.0.1").ok());
  EXPECT_FALSE(Check(guard, "172.16.0.1").ok());
}

TEST(SsrfGuardTest, CidrWithHostBitsSetIsNormalised) {
  SsrfGuard guard({"172.16.5.4/12"});
  EXPECT_TRUE(Check(guard, "172.31.0.1").ok());
  EXPECT_TRUE(Check(guard, "172.16.0.1").ok());
  EXPECT_FALSE(Check(guard, "10.0.0.1").ok());
}

TEST(SsrfGuardTest, CidrPrefixesOfZeroAllowEverything) {
  SsrfGuard guard({"0.0.0.0/0", "::/0"});
  for (const char* addr : {"127.0.0.1", "10.0.0.1", "::1", "fe80::1", "::ffff:169.254.169.254"}) {
    EXPECT_TRUE(Check(guard, addr).ok()) << addr;
  }
}

TEST(SsrfGuardTest, Ipv4ZeroPrefixDoesNotAllowNativeIpv6) {
  SsrfGuard guard({"0.0.0.0/0"});
  EXPECT_TRUE(Check(guard, "127.0.0.1").ok());
  EXPECT_FALSE(Check(guard, "::1").ok());
  EXPECT_FALSE(Check(guard, "fe80::1").ok());
}

TEST(SsrfGuardTest, AllowListedHostNameAllowsAnyAddressItResolvesTo) {
  SsrfGuard guard({"Internal-API.svc.cluster.local"});
  EXPECT_TRUE(Check(guard, "10.1.2.3", "internal-api.svc.cluster.local").ok());
  EXPECT_TRUE(Check(guard, "10.1.2.3", "INTERNAL-API.svc.cluster.local.").ok());
  EXPECT_FALSE(Check(guard, "10.1.2.3", "other.svc.cluster.local").ok());
  EXPECT_FALSE(Check(guard, "10.1.2.3", "evil-internal-api.svc.cluster.local").ok());
}

TEST(SsrfGuardTest, WildcardAllowsSubdomainsButNotTheBareDomainOrLookalikes) {
  SsrfGuard guard({"*.corp.example"});
  EXPECT_TRUE(Check(guard, "10.0.0.1", "api.corp.example").ok());
  EXPECT_TRUE(Check(guard, "10.0.0.1", "a.b.corp.example").ok());
  EXPECT_FALSE(Check(guard, "10.0.0.1", "corp.example").ok());
  EXPECT_FALSE(Check(guard, "10.0.0.1", "evilcorp.example").ok());
  EXPECT_FALSE(Check(guard, "10.0.0.1", "corp.example.evil.com").ok());
}

TEST(SsrfGuardTest, LocalhostNameIsNotImplicitlyAllowed) {
  EXPECT_FALSE(Check(SsrfGuard(), "127.0.0.1", "localhost").ok());
  EXPECT_TRUE(Check(SsrfGuard({"localhost"}), "127.0.0.1", "localhost").ok());
}

TEST(SsrfGuardTest, CreateRejectsMalformedEntries) {
  for (const char* bad : {"", "   ", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "nothex::/8", "a b",
                          "*.", "http://example.com", "host/8", "10.0.0.0/-1"}) {
    auto guard = SsrfGuard::Create({bad});
    EXPECT_FALSE(guard.ok()) << "'" << bad << "'";
    if (!guard.ok()) {
      EXPECT_EQ(guard.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(SsrfGuardTest, CreateAcceptsEveryEntryKind) {
  auto guard = SsrfGuard::Create({"example.com", "*.svc.cluster.local", "127.0.0.1", "::1", "10.0.0.0/8",
                                  "fd00::/8", " 192.168.0.0/16 ", "my_host"});
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  EXPECT_TRUE(Check(*guard, "192.168.3.4").ok());
}

TEST(SsrfGuardTest, LenientConstructorIgnoresMalformedEntriesAndStillDenies) {
  SsrfGuard guard({"10.0.0.0/33", "127.0.0.1/x"});
  EXPECT_FALSE(Check(guard, "10.0.0.1").ok());
  EXPECT_FALSE(Check(guard, "127.0.0.1").ok());
}

// --- sockaddr ----------------------------------------------------------------------------------

TEST(SsrfGuardTest, ChecksIpv4Sockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(80);
  inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
  Status s = SsrfGuard().CheckAddress("metadata", reinterpret_cast<const sockaddr*>(&in));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("cloud metadata"), std::string::npos);

  inet_pton(AF_INET, "93.184.216.34", &in.sin_addr);
  EXPECT_TRUE(SsrfGuard().CheckAddress("example.com", reinterpret_cast<const sockaddr*>(&in)).ok());
}

TEST(SsrfGuardTest, ChecksIpv6SockaddrIncludingMappedIpv4) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
  Status s = SsrfGuard().CheckAddress("x", reinterpret_cast<const sockaddr*>(&in6));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("loopback address (IPv4-mapped)"), std::string::npos) << s.message();
  EXPECT_TRUE(SsrfGuard({"127.0.0.0/8"}).CheckAddress("x", reinterpret_cast<const sockaddr*>(&in6)).ok());

  inet_pton(AF_INET6, "2606:4700::1111", &in6.sin6_addr);
  EXPECT_TRUE(SsrfGuard().CheckAddress("x", reinterpret_cast<const sockaddr*>(&in6)).ok());
}

TEST(SsrfGuardTest, NonInetSockaddrIsDenied) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(SsrfGuard().CheckAddress("x", reinterpret_cast<const sockaddr*>(&un)).ok());
  EXPECT_FALSE(SsrfGuard().CheckAddress("x", static_cast<const sockaddr*>(nullptr)).ok());
}

// --- URLs --------------------------------------------------------------------------------------

TEST(SsrfGuardTest, CheckUrlAcceptsHttpAndHttpsWithPublicOrNamedHosts) {
  SsrfGuard guard;
  for (const char* url :
       {"http://example.com", "https://example.com/a?b=c#d", "HTTPS://Example.COM:8443/",
        "http://user:pw@example.com/", "https://8.8.8.8/", "https://[2606:4700::1111]:443/x"}) {
    EXPECT_TRUE(guard.CheckUrl(url).ok()) << url << ": " << guard.CheckUrl(url).ToString();
  }
}

TEST(SsrfGuardTest, CheckUrlRejectsOtherSchemes) {
  SsrfGuard guard;
  for (const char* url :
       {"file:///etc/passwd", "gopher://127.0.0.1:6379/_", "ftp://example.com/", "dict://x:11211/",
        "ldap://example.com", "javascript:alert(1)", "httpx://example.com"}) {
    Status s = guard.CheckUrl(url);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("only http and https"), std::string::npos) << s.message();
  }
}

TEST(SsrfGuardTest, CheckUrlRejectsMalformedUrls) {
  SsrfGuard guard;
  for (const char* url : {"", "example.com/path", "/relative", "http:example.com", "http://", "http:///path",
                          "http://[::1/", "http://exa mple.com/", "http://example.com/\r\nX: y", "://x"}) {
    EXPECT_EQ(guard.CheckUrl(url).code(), StatusCode::kInvalidArgument) << "'" << url << "'";
  }
}

TEST(SsrfGuardTest, CheckUrlDeniesLiteralRestrictedHosts) {
  SsrfGuard guard;
  for (const char* url : {"http://127.0.0.1/", "http://localhost.@127.0.0.1:8080/", "http://[::1]:80/",
                          "http://[::ffff:169.254.169.254]/latest/meta-data", "http://169.254.169.254/",
                          "http://10.0.0.1:9000", "http://0.0.0.0/", "http://2130706433/", "http://0x7f.1/",
                          "http://0177.0.0.1/", "http://127.1/", "http://[fe80::1%25eth0]/"}) {
    EXPECT_EQ(guard.CheckUrl(url).code(), StatusCode::kFailedPrecondition) << url;
  }
}

TEST(SsrfGuardTest, CheckUrlAllowsAllowListedLiteralHosts) {
  SsrfGuard guard({"127.0.0.1", "::1"});
  EXPECT_TRUE(guard.CheckUrl("http://127.0.0.1:8080/x").ok());
  EXPECT_TRUE(guard.CheckUrl("http://[::1]:8080/x").ok());
  EXPECT_FALSE(guard.CheckUrl("http://127.0.0.2/").ok());
}

TEST(SsrfGuardTest, CheckUrlLeavesNamesToTheConnectTimeCheck) {
  // Names are resolved by the client; CheckAddress on the resolved address is what denies them.
  EXPECT_TRUE(SsrfGuard().CheckUrl("http://localhost:8080/").ok());
}

// --- IpAddress ---------------------------------------------------------------------------------

TEST(IpAddressTest, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(Ip("10.1.2.3").ToString(), "10.1.2.3");
  EXPECT_TRUE(Ip("10.1.2.3").is_v4());
  EXPECT_EQ(Ip("[::1]").ToString(), "::1");
  EXPECT_FALSE(Ip("::1").is_v4());
  EXPECT_EQ(Ip("fe80::1%eth0").ToString(), "fe80::1");
  EXPECT_EQ(Ip("::ffff:127.0.0.1").ToString(), "::ffff:127.0.0.1");
}

TEST(IpAddressTest, StrictParseRejectsLegacyIpv4FormsButLenientAcceptsThem) {
  for (const char* legacy : {"2130706433", "0x7f.1", "127.1", "0177.0.0.1"}) {
    EXPECT_FALSE(IpAddress::Parse(legacy).has_value()) << legacy;
    auto ip = IpAddress::ParseLenient(legacy);
    ASSERT_TRUE(ip.has_value()) << legacy;
    EXPECT_EQ(ip->ToString(), "127.0.0.1") << legacy;
  }
  EXPECT_FALSE(IpAddress::ParseLenient("127.0.0.1 trailing").has_value());
  EXPECT_FALSE(IpAddress::ParseLenient("example.com").has_value());
}

TEST(IpAddressTest, RejectsGarbage) {
  for (const char* bad : {"", "1.2.3", "256.1.1.1", "1.2.3.4.5", ":::", "g::1", "[1.2.3.4]x"}) {
    EXPECT_FALSE(IpAddress::Parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace trellis
