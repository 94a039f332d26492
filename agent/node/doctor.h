// fun-ai-runtime-agent doctor: checks this node as the service would run on it and says, for each
// failure, how to fix it. It changes nothing on the node except what a heartbeat changes (the
// Deploy plane's record of this node).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/settings.h"

namespace agent {

struct Finding {
  enum class Result { passed, failed, skipped };
  Result result = Result::passed;
  std::string check;   // "podman", "registry", ...
  std::string detail;  // what was found
  std::string fix;     // failed: the fix, in one sentence
};

// Every check after the settings (which the caller has loaded), in order.
std::vector<Finding> run_doctor(const Settings& settings);

// One line: "PASS  podman     ...", "FAIL  registry   ... Fix: ...", "SKIP  heartbeat  ...".
std::string format_finding(const Finding& finding);

}  // namespace agent
