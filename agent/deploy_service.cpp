#include "deploy_service.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "api_error.h"
#include "app_labels.h"
#include "bridge_address.h"
#include "metrics.h"
#include "podman/images.h"
#include "podman/networks.h"

namespace agent {

namespace pc = podman::containers;
using Clock = std::chrono::steady_clock;

namespace {

Poco::Logger& logger() { return Poco::Logger::get("deploy"); }

// Fault injection for the crash-safety tests: FUNAI_FAULT_KILL_AT=after_start|after_switch makes
// the process die by SIGKILL at that point of a redeploy, as a power cut would. Unset in production.
void fault_point(const char* name) {
  static const char* configured = std::getenv("FUNAI_FAULT_KILL_AT");
  if (configured && std::strcmp(configured, name) == 0) {
    logger().warning(std::string("fault injection: killing the agent at ") + name);
    ::kill(::getpid(), SIGKILL);
  }
}

std::string label_of(const pc::Container& c, const char* key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? "" : it->second;
}

std::string new_deploy_id() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return std::to_string(ns);
}

bool accepts_tcp(const std::string& ip, int port) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(ip, static_cast<Poco::UInt16>(port)), Poco::Timespan(0, 300 * 1000));
    socket.close();
    return true;
  } catch (...) {
    return false;
  }
}

std::string last_lines(const std::string& text, size_t count) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t pos = t.size();
  for (size_t n = 0; n < count && pos > 0; ++n) {
    auto nl = t.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  std::string out = t.substr(pos == 0 ? 0 : pos + 1);
  if (out.size() > 2000) out = out.substr(out.size() - 2000);
  return out;
}

bool has_exited(const pc::Container& c) {
  return !c.state.running && (c.state.status == "exited" || c.state.status == "stopped" || c.state.status == "dead");
}

}  // namespace

class DeployService::InflightGuard {
 public:
  // A deploy meeting another deploy of the same app is refused (409) when `reject`; anything else
  // waits its turn (a reconcile pass holds an app for milliseconds).
  InflightGuard(DeployService& service, const std::string& app_id, bool is_deploy, bool reject)
      : service_(service), app_id_(app_id) {
    std::unique_lock<std::mutex> lock(service_.inflight_mutex_);
    auto held = service_.inflight_.find(app_id_);
    if (held != service_.inflight_.end() && held->second && is_deploy && reject)
      throw ApiError(409, "deploy_in_progress", "a deploy of app " + app_id_ + " is already in progress");
    service_.inflight_done_.wait(lock, [&] { return service_.inflight_.count(app_id_) == 0; });
    service_.inflight_[app_id_] = is_deploy;
  }
  ~InflightGuard() {
    {
      std::lock_guard<std::mutex> lock(service_.inflight_mutex_);
      service_.inflight_.erase(app_id_);
    }
    service_.inflight_done_.notify_all();
  }

 private:
  DeployService& service_;
  std::string app_id_;
};

DeployService::DeployService(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes)
    : settings_(settings),
      podman_(podman),
      routes_(routes),
      puller_(settings, podman),
      images_(settings, podman),
      retirer_([this] { retire_loop(); }) {}

DeployService::~DeployService() {
  {
    std::lock_guard<std::mutex> lock(retire_mutex_);
    stopping_ = true;
  }
  retire_wake_.notify_all();
  retirer_.join();
}

nlohmann::json DeployService::deploy(const DeployRequest& request) {
  auto started = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  struct Invalidate {
    DeployService& s;
    const std::string& app;
    ~Invalidate() { s.invalidate(app); }
  } invalidate_after{*this, request.app.app_id};
  invalidate(request.app.app_id);
  try {
    auto result = deploy_unmetered(request);
    metrics().deploy("success", seconds());
    return result;
  } catch (const ApiError& e) {
    metrics().deploy(e.code(), seconds());
    throw;
  } catch (const podman::Unreachable&) {
    metrics().deploy("podman_unavailable", seconds());
    throw;
  } catch (const podman::Error&) {
    metrics().deploy("podman_error", seconds());
    throw;
  } catch (...) {
    metrics().deploy("internal_error", seconds());
    throw;
  }
}

nlohmann::json DeployService::deploy_unmetered(const DeployRequest& request) {
  const auto& app = request.app;
  InflightGuard guard(*this, app.app_id, true, settings_.inflight_reject);
  auto started = Clock::now();

  auto existing = containers_of(app.app_id);
  check_owner(existing, app);
  ensure_network();
  PreparedImage image = prepare_image(request.image);

  const std::string final_name = labels::container_name(app.user_id, app.app_id);
  const std::string deploy_id = new_deploy_id();
  bool name_taken = std::any_of(existing.begin(), existing.end(), [&](const pc::Container& c) { return c.name == final_name; });
  const std::string new_name = name_taken ? final_name + "-next-" + deploy_id.substr(deploy_id.size() - 9) : final_name;

  try {
    pc::create(podman_, spec_for(request, new_name, deploy_id));
  } catch (const podman::Conflict& e) {
    throw ApiError(409, "name_in_use", "a container named " + new_name + " already exists and is not managed by the agent: " + e.message());
  } catch (const podman::NotFound& e) {
    throw ApiError(502, "image_unavailable", "image " + request.image + " is not on this node: " + e.message());
  }

  pc::Container fresh;
  try {
    pc::start(podman_, new_name);
    pin_bridge();
    wait_until_ready(new_name, request.container_port);
    fresh = pc::inspect(podman_, new_name);
    fault_point("after_start");
    switch_route(fresh);
    fault_point("after_switch");
  } catch (...) {
    try {
      pc::remove(podman_, new_name, true, 0);
    } catch (const std::exception& e) {
      logger().warning("could not remove failed container " + new_name + ": " + e.what());
    }
    throw;
  }

  // The route now points at the new container: retire the old ones after the grace period.
  for (const auto& old : existing) {
    std::string retired = old.name;
    if (old.name == final_name) {
      retired = final_name + "-old-" + old.id.substr(0, 12);
      try {
        pc::rename(podman_, old.name, retired);
      } catch (const podman::Error& e) {
        logger().warning("could not rename " + old.name + " to " + retired + ": " + e.what());
        retired = old.id;
      }
    }
    schedule_retirement(retired, old.image_id);
  }
  std::string container_name = new_name;
  if (new_name != final_name) {
    try {
      pc::rename(podman_, new_name, final_name);
      container_name = final_name;
    } catch (const podman::Error& e) {
      logger().warning("could not rename " + new_name + " to " + final_name + ": " + e.what());
    }
  }

  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  logger().information("deployed app " + app.app_id + " (user " + app.user_id + ", image " + request.image + ") as " +
                       container_name + " at " + fresh.ip_on(settings_.network) + ":" + std::to_string(request.container_port) +
                       " in " + std::to_string(ms) + " ms; retiring " + std::to_string(existing.size()) + " old container(s)");
  if (on_change_) on_change_();

  nlohmann::json preview = nullptr;
  if (!settings_.node_gateway_base_url.empty()) preview = settings_.node_gateway_base_url + request.base_path + "/";
  nlohmann::json answer = {{"appId", app.app_id},
                           {"containerName", container_name},
                           {"status", "DEPLOYED"},
                           {"previewUrl", preview},
                           {"imageId", fresh.image_id.empty() ? image.image_id : fresh.image_id},
                           {"pulled", image.pulled}};
  if (!image.warning.empty()) answer["warning"] = image.warning;
  return answer;
}

pc::Spec DeployService::spec_for(const DeployRequest& request, const std::string& name, const std::string& deploy_id) const {
  pc::Spec spec;
  spec.name = name;
  spec.image = request.image;
  spec.network = settings_.network;
  spec.init = settings_.app_init;
  spec.restart_policy = settings_.app_restart_policy;
  spec.stop_timeout = static_cast<unsigned>(settings_.stop_timeout_seconds);
  spec.labels = {{labels::kManaged, "true"},
                 {labels::kUserId, request.app.user_id},
                 {labels::kAppId, request.app.app_id},
                 {labels::kPort, std::to_string(request.container_port)},
                 {labels::kBasePath, request.base_path},
                 {labels::kImage, request.image},
                 {labels::kDeployId, deploy_id}};
  spec.env = {{"PORT", std::to_string(request.container_port)}, {"BASE_PATH", request.base_path}};
  spec.cpus = settings_.app_cpus;
  spec.cpu_shares = settings_.app_cpu_shares;
  spec.cpuset_cpus = settings_.app_cpuset_cpus;
  spec.memory = settings_.app_memory;
  spec.memory_swap = settings_.app_memory_swap;
  spec.pids_limit = settings_.app_pids_limit;
  for (const auto& u : settings_.app_ulimits) spec.rlimits.push_back({u.name, u.soft, u.hard});
  return spec;
}

void DeployService::ensure_network() {
  if (network_ready_.load()) return;
  std::lock_guard<std::mutex> lock(network_mutex_);
  if (network_ready_.load()) return;
  if (!podman::networks::exists(podman_, settings_.network)) {
    try {
      podman::networks::create(podman_, settings_.network);
      logger().information("created network " + settings_.network);
    } catch (const podman::Conflict&) {
      // created meanwhile by someone else: fine
    }
  }
  bridge_ = podman::networks::inspect(podman_, settings_.network).interface_name;
  network_ready_ = true;
}

void DeployService::pin_bridge() {
  // The bridge exists once a container is attached; netavark deletes it with the last one, so
  // this is checked on every deploy (a read of one sysfs file when already pinned).
  try {
    if (pin_bridge_address(bridge_))
      logger().information("pinned the MAC address of bridge " + bridge_ + " so that container removals cannot change it");
  } catch (const std::exception& e) {
    logger().warning(e.what());
  }
}

PreparedImage DeployService::prepare_image(const std::string& image) {
  try {
    PreparedImage prepared = puller_.prepare(image);
    bool checked = settings_.pull_policy == PullPolicy::always || settings_.pull_policy == PullPolicy::newer;
    metrics().image_pull(prepared.pulled ? "pulled" : !prepared.warning.empty() ? "local_copy" : checked ? "unchanged" : "local");
    return prepared;
  } catch (const PullFailed& e) {
    metrics().image_pull(e.reason());
    if (e.reason() == "not_local") throw ApiError(502, "image_unavailable", e.what());
    throw ApiError(502, "image_pull_failed", e.what());
  }
}

void DeployService::wait_until_ready(const std::string& name, int port) {
  auto deadline = Clock::now() + std::chrono::seconds(settings_.ready_timeout_seconds);
  auto pause = std::chrono::milliseconds(10);
  while (true) {
    auto c = pc::inspect(podman_, name);
    if (has_exited(c) || c.restart_count > 0) {
      std::string tail;
      try {
        tail = last_lines(pc::logs(podman_, name, 20).combined, 20);
      } catch (const podman::Error&) {
      }
      std::string how = c.state.oom_killed ? " (killed: out of memory)" : "";
      throw ApiError(502, "app_exited",
                     "container " + name + " exited with code " + std::to_string(c.state.exit_code) + how +
                         " before it accepted connections on port " + std::to_string(port) + "; last log lines:\n" + tail);
    }
    std::string ip = c.ip_on(settings_.network);
    if (c.state.running && !ip.empty() && accepts_tcp(ip, port)) return;
    if (Clock::now() >= deadline) {
      std::string tail;
      try {
        tail = last_lines(pc::logs(podman_, name, 20).combined, 20);
      } catch (const podman::Error&) {
      }
      throw ApiError(502, "app_not_ready",
                     "container " + name + " did not accept TCP connections on port " + std::to_string(port) + " within " +
                         std::to_string(settings_.ready_timeout_seconds) + " s; last log lines:\n" + tail);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

std::optional<traefik::Route> DeployService::route_for(const pc::Container& c) const {
  std::string ip = c.ip_on(settings_.network);
  std::string port = label_of(c, labels::kPort);
  if (ip.empty() || port.empty()) return std::nullopt;
  traefik::Route route;
  route.app_id = label_of(c, labels::kAppId);
  route.base_path = label_of(c, labels::kBasePath);
  if (route.base_path.empty()) route.base_path = "/apps/" + route.app_id;
  route.upstreams = {"http://" + ip + ":" + port};
  route.entry_points = settings_.traefik_entrypoints;
  return route;
}

void DeployService::switch_route(const pc::Container& c) {
  if (!routes_) return;
  auto route = route_for(c);
  if (!route) throw ApiError(502, "app_not_ready", "container " + c.name + " has no IP on network " + settings_.network);
  try {
    routes_->write(*route);
  } catch (const std::exception& e) {
    throw ApiError(500, "routing_write_failed", std::string("cannot write the routing file: ") + e.what());
  }
}

void DeployService::schedule_retirement(const std::string& container, const std::string& image_id) {
  {
    std::lock_guard<std::mutex> lock(retire_mutex_);
    retirements_.push_back({container, image_id, Clock::now() + std::chrono::seconds(settings_.retire_grace_seconds)});
  }
  retire_wake_.notify_all();
}

void DeployService::retire(const Retirement& r) {
  try {
    pc::remove(podman_, r.container, true, static_cast<unsigned>(settings_.stop_timeout_seconds));
    logger().information("retired old container " + r.container);
  } catch (const std::exception& e) {
    logger().warning("could not retire old container " + r.container + " (the next reconcile will): " + e.what());
    return;
  }
  images_.remove_if_orphaned(r.image_id);  // the image of a moved tag, now used by nothing
}

void DeployService::retire_loop() {
  std::unique_lock<std::mutex> lock(retire_mutex_);
  while (true) {
    auto now = Clock::now();
    std::vector<Retirement> due;
    for (auto it = retirements_.begin(); it != retirements_.end();) {
      if (it->due <= now || stopping_) {
        due.push_back(*it);
        it = retirements_.erase(it);
      } else {
        ++it;
      }
    }
    if (!due.empty()) {
      lock.unlock();
      for (const auto& r : due) retire(r);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (retirements_.empty()) {
      retire_wake_.wait(lock);
    } else {
      auto next = std::min_element(retirements_.begin(), retirements_.end(),
                                   [](const Retirement& a, const Retirement& b) { return a.due < b.due; })->due;
      retire_wake_.wait_until(lock, next);
    }
  }
}

void DeployService::retire_pending_now() {
  std::vector<Retirement> pending;
  {
    std::lock_guard<std::mutex> lock(retire_mutex_);
    pending.swap(retirements_);
  }
  for (const auto& r : pending) retire(r);
}

bool DeployService::try_claim(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(inflight_mutex_);
  if (inflight_.count(app_id)) return false;
  inflight_[app_id] = false;
  return true;
}

void DeployService::release(const std::string& app_id) {
  {
    std::lock_guard<std::mutex> lock(inflight_mutex_);
    inflight_.erase(app_id);
  }
  inflight_done_.notify_all();
}

bool DeployService::retiring(const pc::Container& c) {
  std::lock_guard<std::mutex> lock(retire_mutex_);
  return std::any_of(retirements_.begin(), retirements_.end(),
                     [&](const Retirement& r) { return r.container == c.name || r.container == c.id; });
}

std::vector<pc::Container> DeployService::containers_of(const std::string& app_id) {
  std::vector<pc::Container> out;
  for (const auto& s : pc::list(podman_, {labels::managed_filter(), labels::app_filter(app_id)})) {
    try {
      out.push_back(pc::inspect(podman_, s.id));
    } catch (const podman::NotFound&) {
      // removed between list and inspect
    }
  }
  std::sort(out.begin(), out.end(), [](const pc::Container& a, const pc::Container& b) {
    return label_of(a, labels::kDeployId) > label_of(b, labels::kDeployId);
  });
  return out;
}

void DeployService::check_owner(const std::vector<pc::Container>& existing, const AppRef& app) const {
  for (const auto& c : existing) {
    std::string owner = label_of(c, labels::kUserId);
    if (owner != app.user_id)
      throw ApiError(409, "app_owned_by_another_user",
                     "app " + app.app_id + " is deployed on this node by user " + owner + " (container " + c.name +
                         "); stop it first");
  }
}

size_t DeployService::stop_containers(const AppRef& app, std::vector<ImageCollector::Use>* images) {
  invalidate(app.app_id);
  auto existing = containers_of(app.app_id);
  check_owner(existing, app);
  if (routes_) {
    try {
      routes_->remove(app.app_id);
    } catch (const std::exception& e) {
      throw ApiError(500, "routing_write_failed", std::string("cannot remove the routing file: ") + e.what());
    }
  }
  for (const auto& c : existing) {
    pc::remove(podman_, c.id, true, static_cast<unsigned>(settings_.stop_timeout_seconds));
    if (images) images->push_back({c.image.empty() ? label_of(c, labels::kImage) : c.image, c.image_id});
  }
  invalidate(app.app_id);
  return existing.size();
}

nlohmann::json DeployService::stop(const AppRef& app) {
  InflightGuard guard(*this, app.app_id, false, false);
  std::vector<ImageCollector::Use> images;
  size_t count = stop_containers(app, &images);
  if (settings_.cleanup_images_on_stop) {
    auto removal = images_.remove_app_images(images);
    for (const auto& image : removal.kept) logger().information("kept image " + image + ": another container uses it");
  }
  logger().information("stopped app " + app.app_id + " (user " + app.user_id + "): " + std::to_string(count) +
                       " container(s) removed");
  if (on_change_) on_change_();
  return {{"appId", app.app_id}, {"status", "STOPPED"}};
}

nlohmann::json DeployService::remove(const AppRef& app) {
  InflightGuard guard(*this, app.app_id, false, false);
  std::vector<ImageCollector::Use> images;
  size_t count = stop_containers(app, &images);
  auto removal = images_.remove_app_images(images);
  logger().information("deleted app " + app.app_id + " (user " + app.user_id + "): " + std::to_string(count) + " container(s), " +
                       std::to_string(removal.removed.size()) + " image(s) removed, " + std::to_string(removal.kept.size()) +
                       " kept");
  if (on_change_) on_change_();
  return {{"appId", app.app_id},
          {"status", "DELETED"},
          {"images", {{"removed", removal.removed}, {"kept", removal.kept}}}};
}

nlohmann::json DeployService::describe(const pc::Container& c) const {
  std::string app_id = label_of(c, labels::kAppId);
  std::string port = label_of(c, labels::kPort);
  std::string ip = c.ip_on(settings_.network);
  bool routed = false;
  if (routes_) {
    try {
      auto current = routes_->read(app_id);
      auto expected = route_for(c);
      routed = current && expected && current->upstreams == expected->upstreams;
    } catch (const std::exception&) {
      routed = false;
    }
  }
  nlohmann::json j = {{"appId", app_id},
                      {"userId", label_of(c, labels::kUserId)},
                      {"containerName", c.name},
                      {"exists", true},
                      {"running", c.state.running},
                      {"image", c.image.empty() ? label_of(c, labels::kImage) : c.image},
                      {"port", port.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::stoi(port))},
                      {"state", c.state.status},
                      {"startedAt", c.state.started_at},
                      {"restartCount", c.restart_count},
                      {"ip", ip.empty() ? nlohmann::json(nullptr) : nlohmann::json(ip)},
                      {"basePath", label_of(c, labels::kBasePath)},
                      {"routed", routed}};
  if (has_exited(c)) j["exitCode"] = c.state.exit_code;
  return j;
}

nlohmann::json DeployService::status(const std::string& app_id, const std::optional<std::string>& user_id) {
  const std::string key = app_id + '\n' + user_id.value_or("");
  auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(status_mutex_);
    auto it = status_cache_.find(key);
    if (it != status_cache_.end() && now - it->second.fetched < kStatusCacheTtl) return it->second.status;
  }
  auto fresh = status_uncached(app_id, user_id);
  std::lock_guard<std::mutex> lock(status_mutex_);
  if (status_cache_.size() > 10000) {  // many distinct ids asked for: drop what has expired
    for (auto it = status_cache_.begin(); it != status_cache_.end();)
      it = now - it->second.fetched >= kStatusCacheTtl ? status_cache_.erase(it) : std::next(it);
  }
  status_cache_[key] = {now, fresh};
  return fresh;
}

void DeployService::invalidate(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(status_mutex_);
  const std::string prefix = app_id + '\n';
  for (auto it = status_cache_.lower_bound(prefix); it != status_cache_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = status_cache_.erase(it);
}

nlohmann::json DeployService::status_uncached(const std::string& app_id, const std::optional<std::string>& user_id) {
  if (user_id) {
    // The common case costs one inspect.
    try {
      auto c = pc::inspect(podman_, labels::container_name(*user_id, app_id));
      if (label_of(c, labels::kManaged) == "true" && label_of(c, labels::kAppId) == app_id) return describe(c);
    } catch (const podman::NotFound&) {
    }
  }
  for (const auto& c : containers_of(app_id))
    if (!user_id || label_of(c, labels::kUserId) == *user_id) return describe(c);
  nlohmann::json name = user_id ? nlohmann::json(labels::container_name(*user_id, app_id)) : nlohmann::json(nullptr);
  return {{"appId", app_id}, {"containerName", name}, {"exists", false}, {"running", false}, {"image", nullptr}, {"port", nullptr}};
}

nlohmann::json DeployService::list_apps() {
  // One list and one inspect per container (not a list per app): what status() would pick for
  // each app, the newest deploy first.
  std::map<std::string, std::vector<pc::Container>> by_app;
  for (const auto& s : pc::list(podman_, {labels::managed_filter()})) {
    auto it = s.labels.find(labels::kAppId);
    if (it == s.labels.end()) continue;
    try {
      by_app[it->second].push_back(pc::inspect(podman_, s.id));
    } catch (const podman::NotFound&) {
      // removed between list and inspect
    }
  }
  nlohmann::json apps = nlohmann::json::array();
  for (auto& [app_id, containers] : by_app) {
    auto newest = std::max_element(containers.begin(), containers.end(), [](const pc::Container& a, const pc::Container& b) {
      return label_of(a, labels::kDeployId) < label_of(b, labels::kDeployId);
    });
    apps.push_back(describe(*newest));
  }
  return {{"apps", apps}, {"count", apps.size()}};
}

std::string DeployService::logs(const std::string& app_id, const std::optional<std::string>& user_id, unsigned tail) {
  auto s = status(app_id, user_id);
  if (!s.value("exists", false)) throw ApiError(404, "app_not_found", "app " + app_id + " has no container on this node");
  return pc::logs(podman_, s["containerName"].get<std::string>(), tail).combined;
}

}  // namespace agent
