#include "container_spec.h"

namespace podman::containers {

nlohmann::json to_json(const Spec& spec) {
  nlohmann::json j = {{"name", spec.name}, {"image", spec.image}};
  if (!spec.labels.empty()) j["labels"] = spec.labels;
  if (!spec.env.empty()) j["env"] = spec.env;
  if (!spec.network.empty()) {
    j["netns"] = {{"nsmode", "bridge"}};
    j["networks"] = {{spec.network, nlohmann::json::object()}};
  }
  if (spec.init) j["init"] = true;
  if (!spec.restart_policy.empty()) j["restart_policy"] = spec.restart_policy;
  if (spec.stop_timeout) j["stop_timeout"] = *spec.stop_timeout;

  nlohmann::json limits = nlohmann::json::object();
  if (spec.cpus) {
    limits["cpu"]["period"] = 100000;
    limits["cpu"]["quota"] = static_cast<int64_t>(*spec.cpus * 100000);
  }
  if (spec.cpu_shares) limits["cpu"]["shares"] = *spec.cpu_shares;
  if (!spec.cpuset_cpus.empty()) limits["cpu"]["cpus"] = spec.cpuset_cpus;
  if (spec.memory) limits["memory"]["limit"] = *spec.memory;
  if (spec.memory_swap) limits["memory"]["swap"] = *spec.memory_swap;
  if (spec.pids_limit) limits["pids"]["limit"] = *spec.pids_limit;
  if (!limits.empty()) j["resource_limits"] = limits;

  if (spec.userns_auto) {
    // Both: the namespace mode alone is taken and ignored (Podman 4.3 runs the container in the
    // node's user namespace); the id mapping asks storage for a range of its own.
    j["userns"] = {{"nsmode", "auto"}};
    j["idmappings"] = {{"AutoUserNs", true}};
    // A private IPC namespace: the removal of a user-namespaced container failed more often on its
    // shm mount with a shareable one ("device or resource busy" on Podman 4.3); it still does at
    // times (test/userns_test.cpp, `make test-userns`).
    j["ipcns"] = {{"nsmode", "private"}};
  }
  if (spec.no_new_privileges) j["no_new_privileges"] = true;
  if (!spec.cap_drop.empty()) j["cap_drop"] = spec.cap_drop;
  if (spec.log_size) j["log_configuration"] = {{"size", *spec.log_size}};
  if (!spec.rlimits.empty()) {
    j["r_limits"] = nlohmann::json::array();
    for (const auto& r : spec.rlimits) j["r_limits"].push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
  }
  return j;
}

}  // namespace podman::containers
