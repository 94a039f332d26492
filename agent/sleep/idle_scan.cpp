// The idle scan: apps whose containers received nothing for RUNTIME_IDLE_SLEEP_SECONDS sleep.
#include "sleep/app_sleeper.h"

#include <Poco/Logger.h>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/lanes.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/errors.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

namespace agent {
namespace pc = podman::containers;

namespace {
Poco::Logger& logger() { return Poco::Logger::get("sleep"); }
constexpr size_t kStopLanes = 8;
}  // namespace

int AppSleeper::scan_once() {
  if (!enabled() || !start_waker()) return 0;
  auto now = std::chrono::steady_clock::now();
  std::map<std::string, uint64_t> input;
  for (const auto& s : pc::stats(podman_)) input[s.id] = s.net_input;
  // Which app each running container serves: from a container list, made again only when a
  // container appears that the last one did not have (a scan is then a single stats call).
  bool unknown = false;
  for (const auto& [id, bytes] : input) unknown |= !app_of_.count(id);
  if (unknown) {
    app_of_.clear();
    for (const auto& c : pc::list(podman_, {labels::managed_filter()}, false)) {
      auto app = c.labels.find(labels::kAppId);
      if (app != c.labels.end()) app_of_[c.id] = app->second;
    }
    for (const auto& [id, bytes] : input) app_of_.emplace(id, "");  // not an app's (Traefik, say): known too
  }
  // An app is idle when every running container of it is (a new version has its own counters).
  std::map<std::string, bool> app_idle;
  std::map<std::string, Traffic> seen;
  for (const auto& [id, bytes] : input) {
    auto app = app_of_.find(id);
    if (app == app_of_.end() || app->second.empty()) continue;  // not an app's container
    auto before = traffic_.find(id);
    Traffic t{bytes, now};
    if (before != traffic_.end() && before->second.bytes == bytes) t.since = before->second.since;
    seen[id] = t;
    bool idle = std::chrono::duration_cast<std::chrono::seconds>(now - t.since).count() >= settings_.idle_sleep_seconds;
    auto it = app_idle.emplace(app->second, true).first;
    it->second = it->second && idle;
  }
  std::set<std::string> idle_apps;
  for (const auto& [app, idle] : app_idle)
    if (idle) idle_apps.insert(app);
  traffic_.swap(seen);
  // Every idle app's route goes to the waker first, then one wait for Traefik, then the stops: a
  // scan that puts many apps to sleep waits the grace period once.
  struct Falling {
    AppLocks::Claim claim;
    std::string app;
    pc::Container container;
  };
  std::vector<Falling> falling;
  for (const auto& app : idle_apps) {
    auto claim = parts_.locks.try_acquire(app);
    if (!claim) continue;  // a deploy, stop or reconcile is at work on it
    try {
      auto container = route_to_waker(app, std::nullopt);
      if (container) falling.push_back({std::move(claim), app, *container});
    } catch (const std::exception& e) {
      logger().warning("app " + app + " did not go to sleep: " + e.what());
    }
  }
  if (!falling.empty()) std::this_thread::sleep_for(std::chrono::seconds(settings_.retire_grace_seconds));
  // The stops side by side, kStopLanes at a time: a scan that puts 50 apps to sleep takes about
  // one stop timeout per kStopLanes apps, not one per app; each claim goes as its stop ends.
  std::atomic<int> slept{0};
  run_in_lanes(falling.size(), kStopLanes, [&](size_t i) {
    auto& f = falling[i];
    try {
      stop_container(f.app, f.container);
      ++slept;
    } catch (const std::exception& e) {
      logger().warning("app " + f.app + ": container not stopped: " + e.what());
    }
    f.claim.release();
    return true;
  });
  if (slept) metrics().apps_sleeping(sleeping_count());
  return slept.load();
}

void AppSleeper::scan_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_up_.wait_for(lock, std::chrono::seconds(settings_.idle_scan_seconds), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      scan_once();
    } catch (const std::exception& e) {
      logger().warning(std::string("idle scan failed: ") + e.what());
    }
    lock.lock();
  }
}

}  // namespace agent
