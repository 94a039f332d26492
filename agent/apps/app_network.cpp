#include "apps/app_network.h"

#include <Poco/Logger.h>

#include "apps/bridge_address.h"
#include "podman/networks.h"

namespace agent {
namespace {
Poco::Logger& logger() { return Poco::Logger::get("deploy"); }
}  // namespace

void AppNetwork::ensure() {
  if (ready_.load()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (ready_.load()) return;
  if (!podman::networks::exists(podman_, settings_.network)) {
    try {
      podman::networks::create(podman_, settings_.network);
      logger().information("created network " + settings_.network);
    } catch (const podman::Conflict&) {
      // created meanwhile by someone else: fine
    }
  }
  bridge_ = podman::networks::inspect(podman_, settings_.network).interface_name;
  ready_ = true;
}

std::vector<std::string> AppNetwork::subnets() {
  // Read again after a minute (a network made again may have another subnet); a failed read is
  // not tried again for 5 s, so callers without a token cannot make the agent ask Podman at will.
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(subnets_mutex_);
  if (now >= subnets_next_read_) {
    try {
      subnets_ = podman::networks::inspect(podman_, settings_.network).subnets;
      subnets_next_read_ = now + std::chrono::seconds(60);
    } catch (const std::exception& e) {
      subnets_next_read_ = now + std::chrono::seconds(5);
      logger().warning("cannot read the subnets of network " + settings_.network + ": " + e.what());
    }
  }
  return subnets_;
}

void AppNetwork::pin_bridge() {
  std::string bridge;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bridge = bridge_;
  }
  try {
    if (pin_bridge_address(bridge))
      logger().information("pinned the MAC address of bridge " + bridge + " so that container removals cannot change it");
  } catch (const std::exception& e) {
    logger().warning(e.what());
  }
}

}  // namespace agent
