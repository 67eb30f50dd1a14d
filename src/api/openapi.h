// The OpenAPI 3.1 document of the HTTP API (served at /api/openapi.json). A test checks that it
// lists exactly the router's routes and lints it with an OpenAPI validator.
#pragma once

#include <string>

namespace trellis::api {

const std::string& OpenApiDocument();

}  // namespace trellis::api
