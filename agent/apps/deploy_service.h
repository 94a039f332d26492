// Deploy, stop and delete of apps, on Podman and the routing files. A deploy starts the new
// container next to the old one, waits until it accepts TCP, switches the route, and retires the
// old container after a grace period; any failure before the switch removes the new container and
// leaves the old version serving. One operation per app at a time (AppLocks); different apps in
// parallel. Failures are AppError codes (or podman errors); results are typed.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/app_parts.h"
#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"
#include "traefik/route_dir.h"
#include "config/validation.h"

namespace agent {

struct DeployResult {
  std::string app_id;
  std::string container_name;
  std::optional<std::string> preview_url;
  std::string image_id;
  bool pulled = false;
  std::string warning;  // the local copy was deployed (registry unreachable), the database not ready in time
};

struct DeleteResult {
  std::string app_id;
  ImageRemoval images;
  nlohmann::json mongo;  // {"enabled","dropped"[,"dbName"|"reason"|"error"]}, as the earlier agent answered
};

class DeployService {
 public:
  DeployService(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts)
      : settings_(settings), podman_(podman), routes_(routes), parts_(parts) {}

  DeployResult deploy(const DeployRequest& request);  // records its result in metrics()
  void stop(const AppRef& app);
  DeleteResult remove(const AppRef& app);  // "delete": stop plus the app's images

  // Called after each successful deploy and stop (the heartbeat listens).
  void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

 private:
  DeployResult deploy_unmetered(const DeployRequest& request);
  podman::containers::Spec spec_for(const DeployRequest& request, const std::string& name, const std::string& deploy_id) const;
  PreparedImage prepare_image(const std::string& image);
  // Starts the new container, waits until it is ready and switches the route to it; removes it
  // when any of that fails. Returns it as inspected once ready.
  podman::containers::Container start_and_switch(const std::string& name, int port);
  void remove_failed(const std::string& name);
  void switch_route(const podman::containers::Container& c);
  // Renames the old containers out of the way and hands them to the retirer.
  void retire_old(const std::vector<podman::containers::Container>& existing, const std::string& final_name);
  void check_owner(const std::vector<podman::containers::Container>& existing, const AppRef& app) const;
  // Route removed first, then every container of the app; collects their images. Returns how many.
  size_t stop_containers(const AppRef& app, std::vector<ImageCollector::Use>* images);
  AppLocks::Claim claim(const std::string& app_id);

  const Settings& settings_;
  podman::Client& podman_;
  traefik::RouteDir* routes_;
  AppParts& parts_;
  std::function<void()> on_change_;
  std::mutex creating_;  // container creates, one at a time while apps get user namespaces
};

}  // namespace agent
