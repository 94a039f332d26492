// Deploy, stop, delete, status and logs of apps, on Podman and the routing files.
// A deploy starts the new container next to the old one, waits until it accepts TCP, switches
// the route, and retires the old container after a grace period; any failure before the switch
// removes the new container and leaves the old version serving. Thread-safe: deploys of one
// app are serialised (or refused with 409), deploys of different apps run in parallel, and
// status never waits for a deploy.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "image_collector.h"
#include "image_puller.h"
#include "podman/client.h"
#include "podman/containers.h"
#include "settings.h"
#include "traefik/route_dir.h"
#include "validation.h"

namespace agent {

class DeployService {
 public:
  // routes may be null: RUNTIME_TRAEFIK_ENABLE=false.
  DeployService(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes);
  ~DeployService();

  nlohmann::json deploy(const DeployRequest& request);  // records its result in metrics()
  nlohmann::json stop(const AppRef& app);
  nlohmann::json remove(const AppRef& app);  // "delete": stop plus the app's images
  // Answers from a cache of at most kStatusCacheTtl, invalidated by the agent's own operations
  // and by Podman events (invalidate()), so a status storm does not become a libpod storm.
  nlohmann::json status(const std::string& app_id, const std::optional<std::string>& user_id);
  void invalidate(const std::string& app_id);
  static constexpr std::chrono::milliseconds kStatusCacheTtl{1000};
  nlohmann::json list_apps();
  std::string logs(const std::string& app_id, const std::optional<std::string>& user_id, unsigned tail);

  podman::Client& podman() { return podman_; }
  // Old app images: removed after retirements and deletes, and by a periodic sweep (start()).
  ImageCollector& images() { return images_; }

  // Called after each successful deploy and stop (the heartbeat listens).
  void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

  // Retires at once every container still waiting for its grace period (at shutdown).
  void retire_pending_now();

  // The route an app's container should have, or nullopt when the container has no IP.
  std::optional<traefik::Route> route_for(const podman::containers::Container& c) const;

  // Creates the apps' network when missing (once) and pins its bridge's MAC address
  // (bridge_address.h). Called before each container start.
  void ensure_network();
  void pin_bridge();

  // For the reconciler: claims an app unless a deploy, stop or reconcile holds it.
  bool try_claim(const std::string& app_id);
  void release(const std::string& app_id);
  // True while the container waits for its grace period before removal.
  bool retiring(const podman::containers::Container& c);

  // All managed containers of an app, newest deploy first.
  std::vector<podman::containers::Container> containers_of(const std::string& app_id);

 private:
  class InflightGuard;
  struct Retirement {
    std::string container;
    std::string image_id;  // removed with it when left untagged and unused
    std::chrono::steady_clock::time_point due;
  };

  nlohmann::json deploy_unmetered(const DeployRequest& request);
  nlohmann::json status_uncached(const std::string& app_id, const std::optional<std::string>& user_id);
  podman::containers::Spec spec_for(const DeployRequest& request, const std::string& name, const std::string& deploy_id) const;

  PreparedImage prepare_image(const std::string& image);
  void wait_until_ready(const std::string& name, int port);
  void switch_route(const podman::containers::Container& c);
  void schedule_retirement(const std::string& container, const std::string& image_id);
  void retire(const Retirement& retirement);
  void retire_loop();
  void check_owner(const std::vector<podman::containers::Container>& existing, const AppRef& app) const;
  nlohmann::json describe(const podman::containers::Container& c) const;
  // Route removed first, then every container of the app; collects their images. Returns how many.
  size_t stop_containers(const AppRef& app, std::vector<ImageCollector::Use>* images);

  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  std::function<void()> on_change_;
  ImagePuller puller_;
  ImageCollector images_;

  std::mutex inflight_mutex_;
  std::condition_variable inflight_done_;
  std::map<std::string, bool> inflight_;  // app id -> held by a deploy (true) or by stop/reconcile

  std::atomic<bool> network_ready_{false};
  std::string bridge_;  // host interface of the network, set once the network is ensured
  std::mutex network_mutex_;

  struct CachedStatus {
    std::chrono::steady_clock::time_point fetched;
    nlohmann::json status;
  };
  std::mutex status_mutex_;
  std::map<std::string, CachedStatus> status_cache_;  // key: appId '\n' userId

  std::mutex retire_mutex_;
  std::condition_variable retire_wake_;
  std::vector<Retirement> retirements_;
  bool stopping_ = false;
  std::thread retirer_;
};

}  // namespace agent
