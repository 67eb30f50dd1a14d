// Method + path-pattern routing. Patterns are literal segments and `{name}` parameters, with an
// optional trailing `{name...}` that takes the rest of the path (webhook paths). A path that
// matches a pattern under another method answers 405 with `Allow`; no match at all is 404.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/message.h"

namespace trellis::http {

using Handler = std::function<void(Request&, Reply)>;

struct Route {
  std::string method;   // GET, POST, ... or "*" for any
  std::string pattern;  // "/api/workflows/{id}/versions/{version}"
  Handler handler;
  std::string tag;  // free-form data for the layer above (e.g. the role a route needs)
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  void Add(std::string method, std::string pattern, Handler handler, std::string tag = "");

  struct Match {
    const Route* route = nullptr;      // null: no route for this method
    std::vector<std::string> allowed;  // when route is null: methods the path supports (405)
    std::map<std::string, std::string> params;
  };
  Match Find(std::string_view method, std::string_view path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  struct Compiled;  // a pattern split into segments (router.cpp)

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace trellis::http
