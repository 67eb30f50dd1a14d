#include "http/message.h"

#include <strings.h>

namespace trellis::http {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void Headers::Set(std::string name, std::string value) {
  for (auto& [n, v] : fields_) {
    if (IEquals(n, name)) {
      v = std::move(value);
      return;
    }
  }
  Add(std::move(name), std::move(value));
}

std::string Headers::Get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (IEquals(n, name)) return v;
  }
  return "";
}

bool Headers::Has(std::string_view name) const {
  for (const auto& f : fields_) {
    if (IEquals(f.first, name)) return true;
  }
  return false;
}

std::string Request::Query(std::string_view name) const {
  std::string out;
  auto range = query.equal_range(std::string(name));
  for (auto it = range.first; it != range.second; ++it) out = it->second;
  return out;
}

const std::string& Request::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

Response Response::JsonBody(int status, const Json& body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::Empty(int status) {
  Response r;
  r.status = status;
  return r;
}

std::string PercentDecode(std::string_view s, bool plus_is_space, bool* ok) {
  std::string out;
  out.reserve(s.size());
  *ok = true;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        *ok = false;
        return out;
      }
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') {
        *ok = false;
        return out;
      }
      out += decoded;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool ParseTarget(std::string_view target, std::string* path, std::multimap<std::string, std::string>* query) {
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  size_t hash = raw_path.find('#');
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  bool ok = true;
  *path = PercentDecode(raw_path, false, &ok);
  if (!ok) return false;
  if (q == std::string_view::npos) return true;
  std::string_view qs = target.substr(q + 1);
  size_t frag = qs.find('#');
  if (frag != std::string_view::npos) qs = qs.substr(0, frag);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true, &ok);
    if (!ok) return false;
    std::string value;
    if (eq != std::string_view::npos) {
      value = PercentDecode(pair.substr(eq + 1), true, &ok);
      if (!ok) return false;
    }
    query->emplace(std::move(key), std::move(value));
  }
  return true;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
  }
}

}  // namespace trellis::http
