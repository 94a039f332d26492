// One app's route as Traefik's file provider reads it: a router matching the app's base path
// (and nothing longer that merely starts with it), a stripPrefix middleware and a load-balanced
// service. render() gives YAML valid for Traefik v2.11 and v3; parse() reads it back.
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

  bool operator==(const Route& o) const {
    return app_id == o.app_id && base_path == o.base_path && upstreams == o.upstreams && entry_points == o.entry_points &&
           priority == o.priority;
  }
};

class RouteFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string router_name(const std::string& app_id);      // rt-app-{appId}
std::string middleware_name(const std::string& app_id);  // rt-mw-{appId}
std::string service_name(const std::string& app_id);     // rt-svc-{appId}

// Path(`/apps/10`) || PathPrefix(`/apps/10/`)
std::string rule_for(const std::string& base_path);

// The YAML document. Throws RouteFormatError for a route that cannot be rendered safely
// (a base path or upstream with characters that would break the rule or the YAML).
std::string render(const Route& route);

// Reads a document written by render(). Throws RouteFormatError.
Route parse(const std::string& yaml_text);

}  // namespace traefik
