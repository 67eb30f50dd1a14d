#include "http/router.h"

#include <algorithm>

namespace trellis::http {

struct Router::Compiled {
  struct Segment {
    std::string text;  // literal, or the parameter name
    bool param = false;
    bool rest = false;  // {name...}
  };
  std::vector<Segment> segments;
};

namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Matches `path` against a compiled pattern; fills params.
bool MatchSegments(const Router::Compiled& c, std::string_view path,
                   std::map<std::string, std::string>* params);

}  // namespace

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::Add(std::string method, std::string pattern, Handler handler, std::string tag) {
  auto c = std::make_unique<Compiled>();
  for (auto seg : SplitPath(pattern)) {
    Compiled::Segment s;
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      s.param = true;
      s.text = std::string(seg.substr(1, seg.size() - 2));
      if (s.text.size() > 3 && s.text.compare(s.text.size() - 3, 3, "...") == 0) {
        s.rest = true;
        s.text.resize(s.text.size() - 3);
      }
    } else {
      s.text = std::string(seg);
    }
    c->segments.push_back(std::move(s));
  }
  auto r = std::make_unique<Route>();
  r->method = std::move(method);
  r->pattern = std::move(pattern);
  r->handler = std::move(handler);
  r->tag = std::move(tag);
  routes_.push_back(std::move(r));
  compiled_.push_back(std::move(c));
}

namespace {

bool MatchSegments(const Router::Compiled& c, std::string_view path,
                   std::map<std::string, std::string>* params) {
  auto parts = SplitPath(path);
  size_t i = 0;
  for (const auto& seg : c.segments) {
    if (seg.rest) {
      if (i >= parts.size()) return false;
      std::string rest;
      for (size_t k = i; k < parts.size(); ++k) {
        if (k > i) rest += '/';
        rest += parts[k];
      }
      (*params)[seg.text] = rest;
      return true;
    }
    if (i >= parts.size()) return false;
    if (seg.param) {
      (*params)[seg.text] = std::string(parts[i]);
    } else if (parts[i] != seg.text) {
      return false;
    }
    ++i;
  }
  return i == parts.size();
}

}  // namespace

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  // Literal segments win over parameters: among matching routes, prefer the one with the most
  // literal segments (so /api/workflows/validate beats /api/workflows/{id}).
  int best_score = -1;
  for (size_t i = 0; i < routes_.size(); ++i) {
    std::map<std::string, std::string> params;
    if (!MatchSegments(*compiled_[i], path, &params)) continue;
    const auto& r = *routes_[i];
    if (r.method != "*" && r.method != method) {
      if (std::find(m.allowed.begin(), m.allowed.end(), r.method) == m.allowed.end())
        m.allowed.push_back(r.method);
      continue;
    }
    int score = 0;
    for (const auto& s : compiled_[i]->segments) score += s.param ? 0 : 1;
    if (score > best_score) {
      best_score = score;
      m.route = &r;
      m.params = std::move(params);
    }
  }
  if (m.route != nullptr) m.allowed.clear();
  return m;
}

}  // namespace trellis::http
