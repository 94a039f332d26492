// The HTTP side of each app's database: POST /agent/cleanup-orphaned (token) and the Studio's
// explorer under /api/fun-ai/deploy/mongo/ (the earlier agent's paths, parameters and answers
// {"code":200,"message":"success","data":{...}}). The explorer takes the token, or no token from
// an address in RUNTIME_MONGO_EXPLORER_ALLOW_FROM that is not on the apps' network: an app can
// never reach another app's data through it.
#pragma once

#include <string>
#include <vector>

#include "api/http_api.h"

namespace agent {

std::vector<Endpoint> mongo_endpoints(const Settings& settings, AppParts& parts);

// true when `peer` is in one of the allowed ranges and in none of the apps' subnets (an empty
// list of subnets, when Podman cannot say, admits no one).
bool explorer_admits(const std::vector<std::string>& allow_from, const std::vector<std::string>& app_subnets, const std::string& peer);

}  // namespace agent
