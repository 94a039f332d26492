// GET /internal/health?deep=1: whether this node can do its work now: Podman reachable (and its
// version), the routing directory writable, and the last heartbeat. 200 when Podman and the
// routing directory are fine, 503 otherwise.
#pragma once

#include "heartbeat.h"
#include "http_api.h"
#include "podman/client.h"
#include "settings.h"
#include "traefik/route_dir.h"

namespace agent {

class NodeHealth {
 public:
  NodeHealth(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, Heartbeat& heartbeat)
      : settings_(settings), podman_(podman), routes_(routes), heartbeat_(heartbeat) {}
  Reply deep();

 private:
  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  Heartbeat& heartbeat_;
};

}  // namespace agent
