// The OpenAPI 3.1 document of the agent's HTTP API (agent/api/openapi.json, built into the
// binary), served at GET /openapi.json. The suites check every answer they receive against it
// (test/openapi_check.py), so it cannot drift from the code.
#pragma once

#include <string>

namespace agent {

const std::string& openapi_document();

}  // namespace agent
