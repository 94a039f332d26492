#include "node_health.h"

#include "podman/system.h"

namespace agent {

Reply NodeHealth::deep() {
  nlohmann::json podman = {{"endpoint", settings_.podman_socket}, {"reachable", false}};
  try {
    auto info = podman::system::info(podman_);
    podman["reachable"] = true;
    podman["version"] = info.version;
    podman["ociRuntime"] = info.oci_runtime;
  } catch (const podman::Error& e) {
    podman["error"] = e.message();
  }
  nlohmann::json routing = {{"enabled", routes_ != nullptr}};
  bool routing_ok = true;
  if (routes_) {
    routing["dir"] = routes_->directory();
    routing_ok = routes_->writable();
    routing["writable"] = routing_ok;
  }
  bool ok = podman["reachable"].get<bool>() && routing_ok;
  return {ok ? 200 : 503, {{"ok", ok}, {"podman", podman}, {"routing", routing}, {"heartbeat", heartbeat_.last_result()}}, ""};
}

}  // namespace agent
