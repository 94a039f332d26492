// One app's route as Traefik's file provider reads it: a router matching the app's base path
// (and nothing longer that merely starts with it), a stripPrefix middleware and a load-balanced
// service. render() gives YAML valid for Traefik v2.11 and v3; parse() reads it back.
//
// A sleeping app's route (wake_secret set) sends its requests to the agent's waker instead of the
// container, through one more middleware, `headers` with customRequestHeaders, that names the app
// and carries the node's wake secret (Traefik replaces whatever a client sent in those headers).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace traefik {

struct Route {
  std::string app_id;
  std::string base_path;               // "/apps/10": no trailing '/', no backticks
  std::vector<std::string> upstreams;  // "http://10.89.0.5:3000"
  std::vector<std::string> entry_points;  // empty = all entry points
  std::optional<int> priority;
  std::optional<std::string> wake_secret;  // set: the app sleeps, upstreams is the waker
  // Sleeping: the deploy whose container was put to sleep ([A-Za-z0-9_-]; absent in routes written
  // before it was recorded). A crash mid-redeploy of a sleeping app must keep that one.
  std::optional<std::string> wake_deploy;

  bool sleeping() const { return wake_secret.has_value(); }
  bool operator==(const Route& o) const {
    return app_id == o.app_id && base_path == o.base_path && upstreams == o.upstreams && entry_points == o.entry_points &&
           priority == o.priority && wake_secret == o.wake_secret && wake_deploy == o.wake_deploy;
  }
};

inline const std::string kWakeAppHeader = "X-Funai-Wake-App";
inline const std::string kWakeSecretHeader = "X-Funai-Wake-Secret";
inline const std::string kWakeDeployHeader = "X-Funai-Wake-Deploy";

class RouteFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string router_name(const std::string& app_id);      // rt-app-{appId}
std::string middleware_name(const std::string& app_id);  // rt-mw-{appId}
std::string service_name(const std::string& app_id);     // rt-svc-{appId}
std::string wake_middleware_name(const std::string& app_id);  // rt-wake-{appId}

// Path(`/apps/10`) || PathPrefix(`/apps/10/`)
std::string rule_for(const std::string& base_path);

// The YAML document. Throws RouteFormatError for a route that cannot be rendered safely
// (a base path or upstream with characters that would break the rule or the YAML).
std::string render(const Route& route);

// Reads a document written by render(). Throws RouteFormatError.
Route parse(const std::string& yaml_text);

}  // namespace traefik
