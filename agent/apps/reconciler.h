// Keeps the routing files true to the containers: at start, every RUNTIME_RECONCILE_SECONDS, and
// within moments of a Podman event (start, died, restart, remove) for a managed container.
// Per app it keeps one container (container_choice.h: the one a sleeping route slept in, else the
// running one the route points at, else the newest running, else the newest, which is started
// again), removes the others unless a deploy holds the app or they are in their retirement grace
// period, and writes or removes the route. Idempotent.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apps/app_parts.h"
#include "podman/client.h"
#include "config/settings.h"
#include "traefik/route.h"
#include "traefik/route_dir.h"

namespace agent {

struct ReconcileSummary {
  int apps = 0;
  int routes_written = 0;
  int routes_removed = 0;
  int containers_removed = 0;
  int containers_started = 0;
  int containers_renamed = 0;
  size_t temporary_files_removed = 0;
  int apps_failed = 0;  // full passes: apps whose repair threw (logged; the pass goes on)
  int apps_busy = 0;    // apps skipped because a deploy, stop or another pass held them
  bool changed() const {
    return routes_written || routes_removed || containers_removed || containers_started || containers_renamed ||
           temporary_files_removed;
  }
  std::string describe() const;
  void add(const ReconcileSummary& other);
};

class Reconciler {
 public:
  Reconciler(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts);
  ~Reconciler();

  void start();  // runs a pass now, then periodically and on events
  void stop();

  // One pass over every app. Throws podman::Unreachable when Podman is down.
  ReconcileSummary run_once();
  // One app only (after an event).
  ReconcileSummary reconcile_app(const std::string& app_id);

  // True while the Podman events stream is established (libpod accepted it).
  bool events_connected() const { return events_connected_.load(); }

  // A full pass starts a kept container that is not running only once it has been down this long:
  // libpod's restart lets go of the container while it waits for the stop, and a pass that
  // started it then made the restart's own start fail. A host reboot's containers stopped long
  // ago. Set before start().
  std::chrono::milliseconds start_stopped_after{std::chrono::seconds(10)};

  // How a sleeping app's route must read now (scale to zero's part, above this one): the route to
  // write, or nullopt when the app must be woken (scale to zero is off). Unset: sleeping routes
  // are left as they are. Set before start().
  std::function<std::optional<traefik::Route>(const traefik::Route& sleeping)> sleeping_route_now;

 private:
  // start_stopped: start a kept container that is not running (full passes: after a host reboot).
  // Event-driven passes leave that to Podman's restart policy and to the next full pass, so they
  // never race a `podman restart` or a policy restart.
  void reconcile_containers(const std::string& app_id, std::vector<podman::containers::Container> containers,
                            ReconcileSummary& summary, bool start_stopped);
  // A full pass's work on one app found by the list: claim, inspect, reconcile, release.
  void reconcile_listed_app(const std::string& app_id, const std::vector<std::string>& ids, ReconcileSummary& summary);
  void periodic_loop();
  void events_loop();

  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  AppParts& parts_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::string> pending_apps_;
  bool stopping_ = false;
  std::atomic<bool> stop_events_{false};
  std::atomic<bool> events_connected_{false};
  std::thread periodic_;
  std::thread events_;
};

}  // namespace agent
