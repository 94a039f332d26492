// Putting an app to sleep: its route to the waker, Traefik's grace, its container stopped.
#include "sleep/app_sleeper.h"

#include <Poco/Logger.h>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/errors.h"

namespace agent {
namespace pc = podman::containers;

namespace {
Poco::Logger& logger() { return Poco::Logger::get("sleep"); }
}  // namespace

// A caller that names a user may only act on that user's app.
void AppSleeper::check_owner(const std::vector<pc::Container>& containers, const std::string& app_id,
                             const std::optional<std::string>& user_id) {
  if (containers.empty()) throw AppError("app_not_found", "app " + app_id + " has no container on this node");
  if (user_id && label_of(containers.front(), labels::kUserId) != *user_id)
    throw AppError("app_owned_by_another_user", "app " + app_id + " belongs to another user");
}

void AppSleeper::sleep(const std::string& app_id, const std::optional<std::string>& user_id) {
  std::string url;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    url = waker_url_;
  }
  if (url.empty() || !routes_) throw AppError("scale_to_zero_off", "apps cannot sleep: RUNTIME_IDLE_SLEEP_SECONDS is 0 or the waker does not listen");
  auto claim = parts_.locks.acquire(app_id, AppLocks::Holder::other, std::chrono::seconds(settings_.app_lock_wait_seconds));
  sleep_held(app_id, user_id);
  metrics().apps_sleeping(sleeping_count());
}

void AppSleeper::sleep_held(const std::string& app_id, const std::optional<std::string>& user_id) {
  auto container = route_to_waker(app_id, user_id);
  if (!container) return;  // asleep already
  // Traefik applies the file after its throttle: until then requests still reach the container.
  std::this_thread::sleep_for(std::chrono::seconds(settings_.retire_grace_seconds));
  stop_container(app_id, *container);
}

std::optional<pc::Container> AppSleeper::route_to_waker(const std::string& app_id, const std::optional<std::string>& user_id) {
  std::string url;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    url = waker_url_;
  }
  auto containers = containers_of(podman_, app_id);
  check_owner(containers, app_id, user_id);
  auto current = routes_->read(app_id);
  if (current && current->sleeping()) return std::nullopt;
  const pc::Container* serving = nullptr;
  for (const auto& c : containers) {
    if (c.state.running && routes_to(settings_, current, c)) serving = &c;
  }
  if (!serving) throw AppError("app_not_running", "app " + app_id + " has no running, routed container to put to sleep");
  auto route = *route_for(settings_, *serving);
  route.upstreams = {url};
  route.wake_secret = secret_;
  if (auto deploy = label_of(*serving, labels::kDeployId); !deploy.empty()) route.wake_deploy = deploy;
  write_route(*routes_, route);
  parts_.statuses.invalidate(app_id);
  return *serving;
}

void AppSleeper::stop_container(const std::string& app_id, const pc::Container& container) {
  pc::stop(podman_, container.id, static_cast<unsigned>(settings_.stop_timeout_seconds));
  parts_.statuses.invalidate(app_id);
  logger().information("app " + app_id + " sleeps (container " + container.name + " stopped)");
}

}  // namespace agent
