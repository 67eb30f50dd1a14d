// SsrfGuard decides whether an outgoing HttpRequest may reach an address (DESIGN.md section 9).
//
// Workflow authors control the URLs of HttpRequest activities, so without a guard a workflow could
// read the cloud metadata service (169.254.169.254), the engine's own admin port, or anything else
// on the private network. The guard denies loopback, link-local, private, unique-local, CGNAT,
// unspecified, multicast and reserved addresses (and IPv4 embedded in IPv6: mapped ::ffff:a.b.c.d,
// compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16) unless the operator allow-lists the
// host name or the address (`http.allow_hosts`). Public addresses are always allowed.
//
// The check that matters is CheckAddress on the address the client is about to connect to, after
// DNS resolution: checking only the URL's host name is defeated by DNS rebinding. CheckUrl is an
// early, cheap rejection of bad schemes and literal IP hosts.
//
// Allow-list entries: a host name ("internal-api.svc.cluster.local", case-insensitive), a wildcard
// for subdomains ("*.svc.cluster.local"), an IP address ("127.0.0.1", "::1") or a CIDR block
// ("10.0.0.0/8", "fd00::/8"). An IPv4 entry also matches the IPv4-mapped IPv6 form of the address.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace trellis {

// An IPv4 or IPv6 address. IPv4 is stored as its IPv4-mapped IPv6 form (::ffff:a.b.c.d) with
// is_v4() true, so one representation serves both families.
class IpAddress {
 public:
  // Strict textual forms only (inet_pton): "10.1.2.3", "::1", "::ffff:127.0.0.1". IPv6 may be
  // wrapped in brackets and may carry a zone ("fe80::1%eth0"), which is ignored.
  static std::optional<IpAddress> Parse(std::string_view text);
  // Also accepts the legacy IPv4 forms getaddrinfo resolves ("2130706433", "0x7f.1", "0177.0.0.1"),
  // for checking URL hosts before they reach the resolver.
  static std::optional<IpAddress> ParseLenient(std::string_view text);
  // AF_INET or AF_INET6; nullopt for other families or a null pointer.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* addr);
  static IpAddress V4(uint32_t host_order);
  // An IPv6 address from its 16 network-order bytes (an IPv4-mapped value stays an IPv6 address).
  static IpAddress FromBytes(const std::array<uint8_t, 16>& bytes);

  bool is_v4() const { return is_v4_; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // The IPv4 address held in the low 32 bits (meaningful when is_v4(), or for embedded forms).
  uint32_t low32() const;
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
  bool is_v4_ = false;
};

class SsrfGuard {
 public:
  // Denies every restricted address; allows public ones.
  SsrfGuard() = default;
  // Entries that are neither an IP, a CIDR nor a plausible host name are ignored (they can only
  // make the guard stricter). Configuration should use Create to report them instead.
  explicit SsrfGuard(const std::vector<std::string>& allow_hosts);
  // Like the constructor, but a malformed entry ("10.0.0.0/33", "", "a b") is InvalidArgument.
  static Result<SsrfGuard> Create(const std::vector<std::string>& allow_hosts);

  // OK if `addr` may be contacted on behalf of a request to `host` (the URL's host name, used for
  // host-name allow-list entries and in the message). FailedPrecondition otherwise, with a message
  // like "HttpRequest to 127.0.0.1 denied: loopback address (allow it with http.allow_hosts)".
  Status CheckAddress(std::string_view host, const sockaddr* addr) const;
  Status CheckAddress(std::string_view host, const IpAddress& addr) const;

  // InvalidArgument unless the URL is absolute http:// or https:// with a host. If the host is a
  // literal IP address it is checked like CheckAddress (FailedPrecondition when denied).
  Status CheckUrl(std::string_view url) const;

  // Why an address is restricted ("loopback address", "link-local address (cloud metadata)", ...),
  // or nullopt for a public address. Ignores the allow-list.
  static std::optional<std::string> Restriction(const IpAddress& addr);

  bool IsHostAllowListed(std::string_view host) const;
  bool IsAddressAllowListed(const IpAddress& addr) const;

 private:
  struct Cidr {
    IpAddress base;       // with the bits beyond prefix_bits cleared
    int prefix_bits = 0;  // out of 128 (IPv4 entries are stored as mapped, i.e. 96 + v4 prefix)
  };
  // Adds one entry; false if it is malformed.
  bool AddEntry(std::string_view entry);

  std::vector<std::string> hosts_;     // lower-case, no trailing dot
  std::vector<std::string> suffixes_;  // from "*.example.com": ".example.com"
  std::vector<Cidr> cidrs_;
};

}  // namespace trellis
