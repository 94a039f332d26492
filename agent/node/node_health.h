// GET /internal/health?deep=1: whether this node can do its work now: Podman reachable (and its
// version and OCI runtime), the routing directory writable, and the last heartbeat. ok when Podman
// and the routing directory are fine (the HTTP layer answers 200, else 503).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "node/heartbeat.h"
#include "podman/client.h"
#include "config/settings.h"
#include "traefik/route_dir.h"

namespace agent {

struct HealthReport {
  bool ok = false;
  struct {
    std::string endpoint;
    bool reachable = false;
    std::string version, oci_runtime, error;
  } podman;
  struct {
    bool enabled = false;
    std::string dir;
    bool writable = false;
  } routing;
  nlohmann::json heartbeat;  // the last heartbeat's result, as Heartbeat reports it
};

class NodeHealth {
 public:
  NodeHealth(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, Heartbeat& heartbeat)
      : settings_(settings), podman_(podman), routes_(routes), heartbeat_(heartbeat) {}
  HealthReport check();

 private:
  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  Heartbeat& heartbeat_;
};

}  // namespace agent
