#include "apps/app_status.h"

#include <algorithm>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"

namespace agent {

namespace pc = podman::containers;

AppStatus AppStatusReader::describe(const pc::Container& c) const {
  AppStatus s;
  s.app_id = label_of(c, labels::kAppId);
  s.exists = true;
  s.container_name = c.name;
  s.user_id = label_of(c, labels::kUserId);
  s.running = c.state.running;
  s.image = image_of(c);
  std::string port = label_of(c, labels::kPort);
  if (!port.empty()) s.port = std::stoi(port);
  s.state = c.state.status;
  s.started_at = c.state.started_at;
  s.restart_count = c.restart_count;
  s.oom_killed = c.state.oom_killed;
  std::string ip = c.ip_on(settings_.network);
  if (!ip.empty()) s.ip = ip;
  s.base_path = label_of(c, labels::kBasePath);
  if (routes_) {
    try {
      auto current = routes_->read(s.app_id);
      s.routed = routes_to(settings_, current, c);
      // Asleep once its container is down: not while libpod is still stopping it.
      if (current && current->sleeping() && !c.state.running && c.state.status != "stopping") {
        s.sleeping = true;
        s.state = "sleeping";
      }
    } catch (const std::exception&) {
      s.routed = false;
    }
  }
  if (has_exited(c) && !s.sleeping) s.exit_code = c.state.exit_code;
  return s;
}

std::shared_ptr<const AppStatus> AppStatusReader::status(const std::string& app_id, const std::optional<std::string>& user_id) {
  const std::string key = app_id + '\n' + user_id.value_or("");
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now - it->second.fetched < kCacheTtl) return it->second.status;
  }
  auto fresh = std::make_shared<const AppStatus>(status_uncached(app_id, user_id));
  std::lock_guard<std::mutex> lock(mutex_);
  if (cache_.size() > 10000) {  // many distinct ids asked for: drop what has expired
    for (auto it = cache_.begin(); it != cache_.end();) it = now - it->second.fetched >= kCacheTtl ? cache_.erase(it) : std::next(it);
  }
  cache_[key] = {now, fresh};
  return fresh;
}

void AppStatusReader::invalidate(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string prefix = app_id + '\n';
  for (auto it = cache_.lower_bound(prefix); it != cache_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = cache_.erase(it);
}

AppStatus AppStatusReader::status_uncached(const std::string& app_id, const std::optional<std::string>& user_id) {
  if (user_id) {
    // The common case costs one inspect.
    try {
      auto c = pc::inspect(podman_, labels::container_name(*user_id, app_id));
      if (label_of(c, labels::kManaged) == "true" && label_of(c, labels::kAppId) == app_id) return describe(c);
    } catch (const podman::NotFound&) {
    }
  }
  for (const auto& c : containers_of(podman_, app_id))
    if (!user_id || label_of(c, labels::kUserId) == *user_id) return describe(c);
  AppStatus none;
  none.app_id = app_id;
  if (user_id) none.container_name = labels::container_name(*user_id, app_id);
  return none;
}

std::vector<AppStatus> AppStatusReader::list() {
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
  std::vector<AppStatus> apps;
  for (auto& [app_id, containers] : by_app) {
    sort_newest_first(containers);
    apps.push_back(describe(containers.front()));
  }
  return apps;
}

std::string AppStatusReader::logs(const std::string& app_id, const std::optional<std::string>& user_id, unsigned tail) {
  auto s = status(app_id, user_id);
  if (!s->exists) throw AppError("app_not_found", "app " + app_id + " has no container on this node");
  return pc::logs(podman_, *s->container_name, tail).combined;
}

}  // namespace agent
