#include "security/ssrf_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace trellis {
namespace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Host names as compared against the allow-list: lower-case, no brackets, no trailing dot.
std::string NormalizeHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return ToLower(host);
}

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.') return false;
  return std::all_of(host.begin(), host.end(), IsHostNameChar) && host.find("..") == std::string_view::npos;
}

bool InRange(uint32_t addr, uint32_t base, int prefix_bits) {
  const uint32_t mask = prefix_bits == 0 ? 0 : ~uint32_t{0} << (32 - prefix_bits);
  return (addr & mask) == (base & mask);
}

constexpr uint32_t Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | uint32_t{d};
}

std::optional<std::string> V4Restriction(uint32_t a) {
  if (a == 0) return "unspecified address";
  if (InRange(a, Ip4(0, 0, 0, 0), 8)) return "reserved address (this network, 0.0.0.0/8)";
  if (InRange(a, Ip4(127, 0, 0, 0), 8)) return "loopback address";
  if (InRange(a, Ip4(10, 0, 0, 0), 8) || InRange(a, Ip4(172, 16, 0, 0), 12) ||
      InRange(a, Ip4(192, 168, 0, 0), 16)) {
    return "private address";
  }
  if (a == Ip4(169, 254, 169, 254)) return "link-local address (cloud metadata)";
  if (InRange(a, Ip4(169, 254, 0, 0), 16)) return "link-local address";
  // Shared address space; Alibaba Cloud's metadata service (100.100.100.200) lives here.
  if (InRange(a, Ip4(100, 64, 0, 0), 10)) return "shared (CGNAT) address";
  // IETF protocol assignments; Oracle Cloud's metadata service (192.0.0.192) lives here.
  if (InRange(a, Ip4(192, 0, 0, 0), 24)) return "reserved address (IETF protocol assignments)";
  if (InRange(a, Ip4(192, 0, 2, 0), 24) || InRange(a, Ip4(198, 51, 100, 0), 24) ||
      InRange(a, Ip4(203, 0, 113, 0), 24)) {
    return "reserved address (documentation)";
  }
  if (InRange(a, Ip4(198, 18, 0, 0), 15)) return "reserved address (benchmarking)";
  if (InRange(a, Ip4(224, 0, 0, 0), 4)) return "multicast address";
  if (a == Ip4(255, 255, 255, 255)) return "broadcast address";
  if (InRange(a, Ip4(240, 0, 0, 0), 4)) return "reserved address";
  return std::nullopt;
}

std::optional<std::string> Embedded(uint32_t v4, const char* form) {
  auto reason = V4Restriction(v4);
  if (!reason) return std::nullopt;
  return *reason + " (" + form + ")";
}

bool StartsWith(const std::array<uint8_t, 16>& b, std::initializer_list<uint8_t> prefix) {
  return std::equal(prefix.begin(), prefix.end(), b.begin());
}

bool MatchesCidr(const IpAddress& addr, const IpAddress& base, int prefix_bits) {
  const auto& a = addr.bytes();
  const auto& b = base.bytes();
  int full = prefix_bits / 8;
  if (!std::equal(a.begin(), a.begin() + full, b.begin())) return false;
  int rest = prefix_bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// IpAddress

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress ip;
  ip.is_v4_ = true;
  ip.bytes_[10] = 0xFF;
  ip.bytes_[11] = 0xFF;
  ip.bytes_[12] = static_cast<uint8_t>(host_order >> 24);
  ip.bytes_[13] = static_cast<uint8_t>(host_order >> 16);
  ip.bytes_[14] = static_cast<uint8_t>(host_order >> 8);
  ip.bytes_[15] = static_cast<uint8_t>(host_order);
  return ip;
}

IpAddress IpAddress::FromBytes(const std::array<uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.bytes_ = bytes;
  ip.is_v4_ = false;
  return ip;
}

uint32_t IpAddress::low32() const {
  return (uint32_t{bytes_[12]} << 24) | (uint32_t{bytes_[13]} << 16) | (uint32_t{bytes_[14]} << 8) |
         uint32_t{bytes_[15]};
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return V4(ntohl(v4.s_addr));
  if (auto pct = s.find('%'); pct != std::string::npos) s.resize(pct);  // zone id: fe80::1%eth0
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
  IpAddress ip;
  std::memcpy(ip.bytes_.data(), &v6, 16);
  return ip;
}

std::optional<IpAddress> IpAddress::ParseLenient(std::string_view text) {
  if (auto ip = Parse(text)) return ip;
  if (text.empty() || text.size() > 64) return std::nullopt;
  // glibc's inet_aton tolerates trailing text after whitespace; a URL host never contains any.
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.'; })) {
    return std::nullopt;
  }
  std::string s(text);
  in_addr v4{};
  if (inet_aton(s.c_str(), &v4) == 0) return std::nullopt;
  return V4(ntohl(v4.s_addr));
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* addr) {
  if (addr == nullptr) return std::nullopt;
  if (addr->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof(in));
    return V4(ntohl(in.sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof(in6));
    IpAddress ip;
    std::memcpy(ip.bytes_.data(), &in6.sin6_addr, 16);
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4_) {
    in_addr v4{};
    v4.s_addr = htonl(low32());
    inet_ntop(AF_INET, &v4, buf, sizeof(buf));
  } else {
    in6_addr v6{};
    std::memcpy(&v6, bytes_.data(), 16);
    inet_ntop(AF_INET6, &v6, buf, sizeof(buf));
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// SsrfGuard

SsrfGuard::SsrfGuard(const std::vector<std::string>& allow_hosts) {
  for (const auto& entry : allow_hosts) AddEntry(entry);
}

Result<SsrfGuard> SsrfGuard::Create(const std::vector<std::string>& allow_hosts) {
  SsrfGuard guard;
  for (const auto& entry : allow_hosts) {
    if (!guard.AddEntry(entry)) {
      return InvalidArgument("http.allow_hosts entry '" + entry +
                             "' is not a host name, *.domain, IP address or CIDR block");
    }
  }
  return guard;
}

bool SsrfGuard::AddEntry(std::string_view raw) {
  std::string_view entry = Trim(raw);
  if (entry.empty()) return false;
  if (auto slash = entry.find('/'); slash != std::string_view::npos) {
    auto ip = IpAddress::Parse(entry.substr(0, slash));
    std::string_view bits_text = entry.substr(slash + 1);
    int bits = -1;
    auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (!ip || ec != std::errc() || end != bits_text.data() + bits_text.size() || bits < 0 ||
        bits > (ip->is_v4() ? 32 : 128)) {
      return false;
    }
    const int prefix = ip->is_v4() ? 96 + bits : bits;
    // Clear the host bits so that the stored base is canonical.
    auto bytes = ip->bytes();
    for (int i = prefix; i < 128; ++i) bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
    IpAddress masked = IpAddress::FromBytes(bytes);
    cidrs_.push_back({masked, prefix});
    return true;
  }
  if (auto ip = IpAddress::Parse(entry)) {
    cidrs_.push_back({*ip, 128});
    return true;
  }
  if (entry.size() > 2 && entry.substr(0, 2) == "*.") {
    std::string domain = NormalizeHost(entry.substr(2));
    if (!IsValidHostName(domain)) return false;
    suffixes_.push_back("." + domain);
    return true;
  }
  std::string host = NormalizeHost(entry);
  if (!IsValidHostName(host)) return false;
  hosts_.push_back(std::move(host));
  return true;
}

bool SsrfGuard::IsHostAllowListed(std::string_view host) const {
  std::string h = NormalizeHost(host);
  if (h.empty()) return false;
  if (std::find(hosts_.begin(), hosts_.end(), h) != hosts_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return h.size() > suffix.size() && h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

bool SsrfGuard::IsAddressAllowListed(const IpAddress& addr) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(),
                     [&](const Cidr& c) { return MatchesCidr(addr, c.base, c.prefix_bits); });
}

std::optional<std::string> SsrfGuard::Restriction(const IpAddress& addr) {
  const auto& b = addr.bytes();
  const bool mapped = StartsWith(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF});
  if (addr.is_v4()) return V4Restriction(addr.low32());
  if (mapped) return Embedded(addr.low32(), "IPv4-mapped");
  if (StartsWith(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})) {
    if (addr.low32() == 0) return "unspecified address";
    if (addr.low32() == 1) return "loopback address";
    return Embedded(addr.low32(), "IPv4-compatible");
  }
  if (StartsWith(b, {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0})) return Embedded(addr.low32(), "NAT64");
  if (StartsWith(b, {0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01})) return "private address (local-use NAT64)";
  if (StartsWith(b, {0x20, 0x02})) {
    const uint32_t v4 =
        (uint32_t{b[2]} << 24) | (uint32_t{b[3]} << 16) | (uint32_t{b[4]} << 8) | uint32_t{b[5]};
    return Embedded(v4, "6to4");
  }
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "link-local address";
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "private address (site-local)";
  // AWS's IPv6 instance metadata endpoint.
  if (addr == *IpAddress::Parse("fd00:ec2::254")) return "private address (cloud metadata)";
  if ((b[0] & 0xFE) == 0xFC) return "private address (unique local)";
  if (b[0] == 0xFF) return "multicast address";
  if (StartsWith(b, {0x01, 0x00, 0, 0, 0, 0, 0, 0})) return "reserved address (discard-only)";
  if (StartsWith(b, {0x20, 0x01, 0x0D, 0xB8})) return "reserved address (documentation)";
  return std::nullopt;
}

Status SsrfGuard::CheckAddress(std::string_view host, const sockaddr* addr) const {
  auto ip = IpAddress::FromSockaddr(addr);
  if (!ip) {
    return FailedPrecondition("HttpRequest to " + std::string(host) + " denied: not an IPv4 or IPv6 address");
  }
  return CheckAddress(host, *ip);
}

Status SsrfGuard::CheckAddress(std::string_view host, const IpAddress& addr) const {
  auto reason = Restriction(addr);
  if (!reason) return Status::Ok();
  if (IsHostAllowListed(host) || IsAddressAllowListed(addr)) return Status::Ok();
  std::string shown_host = host.empty() ? addr.ToString() : NormalizeHost(host);
  std::string target = shown_host;
  auto host_ip = IpAddress::Parse(shown_host);
  if (!host_ip || host_ip->bytes() != addr.bytes()) target += " (" + addr.ToString() + ")";
  return FailedPrecondition("HttpRequest to " + target + " denied: " + *reason +
                            " (allow it with http.allow_hosts)");
}

Status SsrfGuard::CheckUrl(std::string_view url) const {
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return InvalidArgument("HttpRequest URL contains whitespace or control characters");
    }
  }
  const auto colon = url.find(':');
  const auto first_delim = url.find_first_of("/?#");
  if (colon == std::string_view::npos || colon == 0 ||
      (first_delim != std::string_view::npos && first_delim < colon)) {
    return InvalidArgument("HttpRequest URL '" + std::string(url) +
                           "' is not absolute (expected http:// or https://)");
  }
  const std::string scheme = ToLower(url.substr(0, colon));
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument("HttpRequest URL scheme '" + scheme + "' is not allowed (only http and https)");
  }
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != "//") {
    return InvalidArgument("HttpRequest URL '" + std::string(url) + "' has no host (expected " + scheme +
                           "://host/...)");
  }
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return InvalidArgument("HttpRequest URL has an unterminated IPv6 host");
    host = authority.substr(0, close + 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  if (host.empty() || host == "[]") {
    return InvalidArgument("HttpRequest URL '" + std::string(url) + "' has no host");
  }
  if (auto ip = IpAddress::ParseLenient(NormalizeHost(host))) return CheckAddress(host, *ip);
  return Status::Ok();
}

}  // namespace trellis
