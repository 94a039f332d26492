// Scale to zero: puts idle apps to sleep and wakes them on their next request.
//
// Sleeping is recorded in the app's routing file, where Traefik and the agent's other state
// already look: a sleeping app's route keeps its rule but sends requests to the waker, with the
// app's id and the node's wake secret in a headers middleware (traefik/route.h). Its container is
// stopped, not removed, so a wake is a start. Reconcile reads the routing file back: it neither
// starts a sleeping app's container nor rewrites its route, and it survives agent restarts.
//
//   sleep (sleep.cpp): route -> waker, wait RUNTIME_RETIRE_GRACE_SECONDS (Traefik applies it), stop
//          the container.
//   wake (wake.cpp): start the container it slept in, wait until it accepts TCP, route -> container.
//   idle scan (idle_scan.cpp): the apps that received nothing for a while go to sleep together.
// Both hold the app (AppLocks): never during a deploy, stop, delete or reconcile of it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apps/app_parts.h"
#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"
#include "traefik/route_dir.h"
#include "sleep/waker.h"

namespace agent {

class AppSleeper {
 public:
  AppSleeper(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts);
  ~AppSleeper();

  // Scale to zero is on (RUNTIME_IDLE_SLEEP_SECONDS > 0, and routing files are written).
  bool enabled() const;
  // The waker and the idle scan (when enabled). The waker starts as soon as its address is known
  // (the apps' network may not exist yet): the scan thread retries until it does.
  void start();
  void stop();

  // POST /agent/apps/sleep: throws AppError app_not_found, app_not_running, app_busy, or
  // "scale_to_zero_off" while the waker does not listen.
  void sleep(const std::string& app_id, const std::optional<std::string>& user_id = std::nullopt);
  // POST /agent/apps/wake, and the waker: the address the app listens on ("ip", port) once it
  // is awake. Throws AppError app_not_found, app_exited, app_not_ready, app_busy.
  // claim_wait: how long it waits for a deploy, stop or reconcile of the app (default
  // RUNTIME_APP_LOCK_WAIT_SECONDS).
  std::pair<std::string, int> wake(const std::string& app_id, const std::optional<std::string>& user_id = std::nullopt,
                                   std::optional<std::chrono::milliseconds> claim_wait = std::nullopt);
  // Apps whose routing file says they sleep.
  int sleeping_count() const;
  // A sleeping app's route as it must be now: on the current waker address and secret; nullopt
  // when scale to zero is off (the app must be woken and routed to its container). Unchanged
  // while the waker has not started.
  std::optional<traefik::Route> sleeping_route_now(const traefik::Route& sleeping) const;

  // One idle scan: apps whose containers received nothing for RUNTIME_IDLE_SLEEP_SECONDS sleep.
  // Returns how many were put to sleep.
  int scan_once();
  // The waker's port (0 while it does not listen), for tests.
  int waker_port() const;
  std::string secret() const { return secret_; }

 private:
  // RUNTIME_WAKE_SECRET, else the one the sleeping apps' routing files carry (Traefik sends it, so a
  // restart does not turn their wakes into 403s), else a new random one.
  void adopt_secret();
  bool sleeping(const std::string& app_id) const;
  bool start_waker();
  Waker::Outcome wake_for_request(const std::string& app_id, std::chrono::steady_clock::time_point give_up_by);
  static void check_owner(const std::vector<podman::containers::Container>& containers, const std::string& app_id,
                          const std::optional<std::string>& user_id);
  void sleep_held(const std::string& app_id, const std::optional<std::string>& user_id);
  // The app's route to the waker; the container that served it (none when it slept already).
  // Throws app_not_found, or app_owned_by_another_user when user_id names another owner.
  std::optional<podman::containers::Container> route_to_waker(const std::string& app_id, const std::optional<std::string>& user_id);
  void stop_container(const std::string& app_id, const podman::containers::Container& container);
  void scan_loop();
  void stop_for_good(const std::string& container_id);

  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  AppParts& parts_;
  std::string secret_;
  mutable std::mutex mutex_;
  std::unique_ptr<Waker> waker_;
  std::string waker_url_;
  struct Traffic {
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::map<std::string, Traffic> traffic_;  // by container id; scan thread only
  std::map<std::string, std::string> app_of_;  // container id -> app id (managed, running); scan thread only
  std::condition_variable wake_up_;
  bool stopping_ = false;
  std::thread scanner_;
};

}  // namespace agent
