// What runs for an app, read from Podman: status (from a cache of at most kCacheTtl, dropped by
// the agent's own operations and by Podman events, so a status storm does not become a libpod
// storm), the list of every app, and an app's logs. Typed results; the HTTP layer makes JSON.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"
#include "traefik/route_dir.h"

namespace agent {

struct AppStatus {
  std::string app_id;
  bool exists = false;
  std::optional<std::string> container_name;  // when it does not exist: the name it would have, if the user is known
  // The rest describes an existing container.
  std::string user_id;
  bool running = false;
  std::string image;
  std::optional<int> port;
  std::string state;
  std::string started_at;
  int restart_count = 0;
  std::optional<std::string> ip;
  std::string base_path;
  bool routed = false;
  bool sleeping = false;  // scale to zero: routed to the waker, container stopped (state "sleeping")
  std::optional<int> exit_code;  // when it ended on its own
  bool oom_killed = false;       // its last end was the kernel's, for memory (RUNTIME_APP_MEMORY)
};

class AppStatusReader {
 public:
  static constexpr std::chrono::milliseconds kCacheTtl{1000};

  // routes may be null (RUNTIME_TRAEFIK_ENABLE=false).
  AppStatusReader(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes)
      : settings_(settings), podman_(podman), routes_(routes) {}

  // Shared with the cache: a status storm copies no strings.
  std::shared_ptr<const AppStatus> status(const std::string& app_id, const std::optional<std::string>& user_id);
  void invalidate(const std::string& app_id);
  // One list and one inspect per container: what status() would pick for each app.
  std::vector<AppStatus> list();
  // Throws AppError "app_not_found" when the app has no container here.
  std::string logs(const std::string& app_id, const std::optional<std::string>& user_id, unsigned tail);

 private:
  AppStatus describe(const podman::containers::Container& c) const;
  AppStatus status_uncached(const std::string& app_id, const std::optional<std::string>& user_id);

  struct Cached {
    std::chrono::steady_clock::time_point fetched;
    std::shared_ptr<const AppStatus> status;
  };
  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  std::mutex mutex_;
  std::map<std::string, Cached> cache_;  // key: appId '\n' userId
};

}  // namespace agent
