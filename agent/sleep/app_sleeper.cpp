#include "sleep/app_sleeper.h"

#include <Poco/Logger.h>

#include <random>
#include <set>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/errors.h"
#include "podman/networks.h"
#include "apps/readiness.h"

namespace agent {
namespace pc = podman::containers;

namespace {
Poco::Logger& logger() { return Poco::Logger::get("sleep"); }

std::string random_secret() {
  std::random_device random;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) s += hex[random() & 15];
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

AppSleeper::AppSleeper(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts)
    : settings_(settings), podman_(podman), routes_(routes), parts_(parts), secret_(settings.wake_secret) {}

AppSleeper::~AppSleeper() { stop(); }

void AppSleeper::adopt_secret() {
  if (secret_.empty() && routes_) {
    // The secret the sleeping apps' routing files carry (Traefik sends it), so that a restart does
    // not turn their wakes into 403s.
    for (const auto& app : routes_->list()) {
      try {
        auto route = routes_->read(app);
        if (route && route->wake_secret) {
          secret_ = *route->wake_secret;
          break;
        }
      } catch (const std::exception&) {
      }
    }
  }
  if (secret_.empty()) secret_ = random_secret();
}


bool AppSleeper::enabled() const { return settings_.idle_sleep_seconds > 0 && routes_ != nullptr; }

std::optional<traefik::Route> AppSleeper::sleeping_route_now(const traefik::Route& sleeping) const {
  if (!enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  if (waker_url_.empty()) return sleeping;
  traefik::Route now = sleeping;
  now.upstreams = {waker_url_};
  now.wake_secret = secret_;
  return now;
}

void AppSleeper::start() {
  if (!enabled()) return;
  start_waker();
  scanner_ = std::thread([this] { scan_loop(); });
}

void AppSleeper::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_up_.notify_all();
  if (scanner_.joinable()) scanner_.join();
  std::unique_ptr<Waker> waker;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waker.swap(waker_);
  }
  if (waker) waker->stop();
}

bool AppSleeper::start_waker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waker_) return true;
  }
  if (secret_.empty()) adopt_secret();  // before the first route to the waker is written
  Waker::Options options;
  options.secret = secret_;
  options.max_connections = settings_.max_connections;
  try {
    if (!settings_.wake_listen.empty()) {
      auto colon = settings_.wake_listen.rfind(':');
      options.host = settings_.wake_listen.substr(0, colon);
      options.port = std::stoi(settings_.wake_listen.substr(colon + 1));
    } else {
      parts_.network.ensure();
      auto network = podman::networks::inspect(podman_, settings_.network);
      if (network.gateways.empty()) throw std::runtime_error("network " + settings_.network + " has no gateway address");
      options.host = network.gateways.front();
      options.port = 7006;
    }
    auto waker = std::make_unique<Waker>(options, [this](const std::string& app) { return wake_for_request(app); });
    waker->start();
    std::lock_guard<std::mutex> lock(mutex_);
    waker_url_ = waker->url();
    waker_ = std::move(waker);
    logger().information("waker listening on " + waker_url_);
    return true;
  } catch (const std::exception& e) {
    logger().warning(std::string("waker not started (no app sleeps until it is): ") + e.what());
    return false;
  }
}

int AppSleeper::waker_port() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waker_ ? waker_->port() : 0;
}

bool AppSleeper::sleeping(const std::string& app_id) const {
  if (!routes_) return false;
  try {
    auto route = routes_->read(app_id);
    return route && route->sleeping();
  } catch (const std::exception&) {
    return false;
  }
}

int AppSleeper::sleeping_count() const {
  if (!routes_) return 0;
  int n = 0;
  for (const auto& app : routes_->list()) n += sleeping(app) ? 1 : 0;
  return n;
}

namespace {
// A caller that names a user may only act on that user's app.
void check_owner(const std::vector<pc::Container>& containers, const std::string& app_id, const std::optional<std::string>& user_id) {
  if (containers.empty()) throw AppError("app_not_found", "app " + app_id + " has no container on this node");
  if (user_id && label_of(containers.front(), labels::kUserId) != *user_id)
    throw AppError("app_owned_by_another_user", "app " + app_id + " belongs to another user");
}
}  // namespace

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

std::pair<std::string, int> AppSleeper::wake(const std::string& app_id, const std::optional<std::string>& user_id) {
  auto t0 = std::chrono::steady_clock::now();
  auto claim = parts_.locks.acquire(app_id, AppLocks::Holder::other, std::chrono::seconds(settings_.app_lock_wait_seconds));
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

Waker::Outcome AppSleeper::wake_for_request(const std::string& app_id) {
  Waker::Outcome outcome;
  try {
    if (!routes_ || !routes_->read(app_id)) return outcome;  // not_here: no route, no app of this node
    auto [host, port] = wake(app_id);
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
  int slept = 0;
  for (auto& f : falling) {
    try {
      stop_container(f.app, f.container);
      ++slept;
      f.claim.release();  // a wake of it need not wait for the other apps' stops
    } catch (const std::exception& e) {
      logger().warning("app " + f.app + ": container not stopped: " + e.what());
    }
  }
  if (slept) metrics().apps_sleeping(sleeping_count());
  return slept;
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
