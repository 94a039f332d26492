// The network the apps join (RUNTIME_DOCKER_NETWORK): created when missing, once, and its host
// bridge's MAC address pinned (bridge_address.h) each time a container starts on it.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "podman/client.h"
#include "config/settings.h"

namespace agent {

class AppNetwork {
 public:
  AppNetwork(const Settings& settings, podman::Client& podman) : settings_(settings), podman_(podman) {}

  // Before a container start.
  void ensure();
  // The network was found gone: the next ensure() looks again (and makes it).
  void forget() { ready_ = false; }
  // After a container start: the bridge exists once a container is attached, and netavark deletes
  // it with the last one, so this is checked each time (one sysfs read when already pinned).
  void pin_bridge();
  // The network's subnets ("10.89.0.0/24"), read from Podman at most once a minute; empty while
  // Podman has never said (no network yet, Podman down): callers that deny by subnet then deny everyone.
  std::vector<std::string> subnets();

 private:
  const Settings& settings_;
  podman::Client& podman_;
  std::atomic<bool> ready_{false};
  std::string bridge_;
  std::mutex subnets_mutex_;
  std::vector<std::string> subnets_;  // kept through a failed read: a network does not move often
  std::chrono::steady_clock::time_point subnets_next_read_{};
  std::mutex mutex_;
};

}  // namespace agent
