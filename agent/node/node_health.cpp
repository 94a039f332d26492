#include "node/node_health.h"

#include "podman/system.h"

namespace agent {

HealthReport NodeHealth::check() {
  HealthReport r;
  r.podman.endpoint = settings_.podman_socket;
  try {
    auto info = podman::system::info(podman_);
    r.podman.reachable = true;
    r.podman.version = info.version;
    r.podman.oci_runtime = info.oci_runtime;
  } catch (const podman::Error& e) {
    r.podman.error = e.message();
  }
  r.routing.enabled = routes_ != nullptr;
  bool routing_ok = true;
  if (routes_) {
    r.routing.dir = routes_->directory();
    r.routing.writable = routing_ok = routes_->writable();
  }
  r.ok = r.podman.reachable && routing_ok;
  r.heartbeat = heartbeat_.last_result();
  return r;
}

}  // namespace agent
