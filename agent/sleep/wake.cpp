// Waking a sleeping app: the container it slept in started, ready, routed again.
#include "sleep/app_sleeper.h"

#include <Poco/Logger.h>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/errors.h"
#include "apps/readiness.h"

#include <algorithm>
#include <thread>

namespace agent {
namespace pc = podman::containers;

namespace {
Poco::Logger& logger() { return Poco::Logger::get("sleep"); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::pair<std::string, int> AppSleeper::wake(const std::string& app_id, const std::optional<std::string>& user_id,
                                             std::optional<std::chrono::milliseconds> claim_wait) {
  auto t0 = std::chrono::steady_clock::now();
  auto claim = parts_.locks.acquire(app_id, AppLocks::Holder::other,
                                    claim_wait ? *claim_wait : std::chrono::milliseconds(settings_.app_lock_wait_seconds * 1000));
  std::optional<traefik::Route> route;
  if (routes_) route = routes_->read(app_id);
  auto containers = containers_of(podman_, app_id);
  check_owner(containers, app_id, user_id);
  auto upstream_of = [](const traefik::Route& r) {
    std::string hostport = r.upstreams.front().substr(7);  // http://ip:port
    auto colon = hostport.rfind(':');
    return std::make_pair(hostport.substr(0, colon), std::stoi(hostport.substr(colon + 1)));
  };
  if (route && !route->sleeping()) {
    // Awake already (woken by an earlier request; Traefik has not applied the file yet).
    return upstream_of(*route);
  }
  if (containers.empty()) throw AppError("app_not_found", "app " + app_id + " has no container to wake");
  // The container the app slept in, when its route names it (a redeploy killed before its switch
  // may have left a newer one); else the newest.
  sort_newest_first(containers);
  pc::Container c = containers.front();
  if (route && route->wake_deploy)
    for (const auto& candidate : containers)
      if (label_of(candidate, labels::kDeployId) == *route->wake_deploy) c = candidate;
  const int restarts_before = c.restart_count;  // an app that once crashed and came back is no crash now
  try {
    if (!c.state.running) {
      parts_.network.ensure();
      pc::start(podman_, c.id);
      parts_.network.pin_bridge();
    }
    int port = std::stoi(label_of(c, labels::kPort));
    c = wait_until_ready(podman_, settings_, c.id, port, restarts_before);
    auto awake = route_for(settings_, c);
    if (!awake) throw AppError("app_not_ready", "app " + app_id + " has no address on " + settings_.network);
    if (routes_) write_route(*routes_, *awake);
    parts_.statuses.invalidate(app_id);
    metrics().wake("woken", seconds_since(t0));
    logger().information("app " + app_id + " woke in " + std::to_string(static_cast<int>(seconds_since(t0) * 1000)) + " ms");
    return upstream_of(*awake);
  } catch (const std::exception& e) {
    // Still asleep: its route stays on the waker, and the next request tries again.
    stop_for_good(c.id);
    parts_.statuses.invalidate(app_id);
    auto* app_error = dynamic_cast<const AppError*>(&e);
    metrics().wake(app_error ? app_error->code() : "failed", seconds_since(t0));
    throw;
  }
}

// A container that failed to wake may be in its restart policy's loop (exit, restart, exit). libpod
// decides on a restart in the cleanup that follows an exit: until then the container is "stopped"
// (a stop answers "already stopped" and does not keep it down), after it either runs again or is
// "exited" for good. So: stop it while it runs, wait while it is "stopped" or "stopping", done once
// it is seen down otherwise ("exited") twice in a row. 10 s at most.
void AppSleeper::stop_for_good(const std::string& id) {
  int settled = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (settled < 2) {
    if (seconds_since(t0) >= 10) {
      logger().warning("container " + id + " did not settle down after a failed wake (restart policy still acting?)");
      return;
    }
    try {
      auto c = pc::inspect(podman_, id);
      if (c.state.running) {
        settled = 0;
        pc::stop(podman_, id, 0);
      } else {
        bool pending = c.state.status == "stopped" || c.state.status == "stopping";
        settled = pending ? 0 : settled + 1;
      }
    } catch (const podman::NotFound&) {
      return;
    } catch (const std::exception&) {
      settled = 0;  // libpod is between states: look again
    }
    if (settled < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Waker::Outcome AppSleeper::wake_for_request(const std::string& app_id, std::chrono::steady_clock::time_point give_up_by) {
  Waker::Outcome outcome;
  try {
    if (!routes_ || !routes_->read(app_id)) return outcome;  // not_here: no route, no app of this node
    // The claim is waited for no longer than the waiting requests wait for their answer.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up_by - std::chrono::steady_clock::now());
    auto limit = std::chrono::milliseconds(settings_.app_lock_wait_seconds * 1000);
    auto [host, port] = wake(app_id, std::nullopt, std::max(std::chrono::milliseconds(0), std::min(left, limit)));
    outcome.kind = Waker::Outcome::Kind::relay;
    outcome.host = host;
    outcome.port = port;
  } catch (const AppError& e) {
    if (e.code() == "app_not_found") return outcome;
    outcome.kind = Waker::Outcome::Kind::failed;
    outcome.detail = e.what();
  } catch (const std::exception& e) {
    outcome.kind = Waker::Outcome::Kind::failed;
    outcome.detail = e.what();
  }
  return outcome;
}

}  // namespace agent
