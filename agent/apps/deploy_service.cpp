#include "apps/deploy_service.h"

#include <Poco/Logger.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "apps/readiness.h"
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

std::string new_deploy_id() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return std::to_string(ns);
}

}  // namespace

AppLocks::Claim DeployService::claim(const std::string& app_id) {
  return parts_.locks.acquire(app_id, AppLocks::Holder::other, std::chrono::seconds(settings_.app_lock_wait_seconds));
}

DeployResult DeployService::deploy(const DeployRequest& request) {
  auto started = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  struct Invalidate {
    AppStatusReader& statuses;
    const std::string& app;
    ~Invalidate() { statuses.invalidate(app); }
  } invalidate_after{parts_.statuses, request.app.app_id};
  parts_.statuses.invalidate(request.app.app_id);
  try {
    auto result = deploy_unmetered(request);
    metrics().deploy("success", seconds());
    return result;
  } catch (const AppError& e) {
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

// The README's sequence: guard, network and image, the new container next to the old one,
// readiness, the route switch, the old one retired.
DeployResult DeployService::deploy_unmetered(const DeployRequest& request) {
  const auto& app = request.app;
  auto held = parts_.locks.acquire(app.app_id, AppLocks::Holder::deploy, std::chrono::seconds(settings_.app_lock_wait_seconds),
                                   settings_.inflight_reject);
  auto started = Clock::now();
  auto existing = containers_of(podman_, app.app_id);
  check_owner(existing, app);
  // The app's database is pre-created while the image and the container get ready; its outcome
  // is collected after the switch, within RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS of this start.
  auto precreate = parts_.databases.start_precreate(app.user_id, app.app_id);
  parts_.network.ensure();
  PreparedImage image = prepare_image(request.image);

  const std::string final_name = labels::container_name(app.user_id, app.app_id);
  const std::string deploy_id = new_deploy_id();
  bool name_taken = std::any_of(existing.begin(), existing.end(), [&](const pc::Container& c) { return c.name == final_name; });
  const std::string new_name = name_taken ? final_name + "-next-" + deploy_id.substr(deploy_id.size() - 9) : final_name;
  auto create = [&] {
    try {
      // Creates of user-namespaced containers one at a time: Podman 4.3 picks each one's id range
      // from every other container's, and 20 at once hung its service (the load test).
      std::unique_lock<std::mutex> one_at_a_time(creating_, std::defer_lock);
      if (settings_.app_userns) one_at_a_time.lock();
      pc::create(podman_, spec_for(request, new_name, deploy_id));
    } catch (const podman::Conflict& e) {
      throw AppError("name_in_use", "a container named " + new_name + " already exists and is not managed by the agent: " + e.message());
    }
  };
  try {
    create();
  } catch (const podman::NotFound& e) {
    if (podman::networks::exists(podman_, settings_.network))
      throw AppError("image_unavailable", "image " + request.image + " is not on this node: " + e.message());
    // The apps' network was removed behind the agent's back (it was known to exist): made again,
    // and the container created once more.
    logger().warning("network " + settings_.network + " was gone: making it again");
    parts_.network.forget();
    parts_.network.ensure();
    try {
      create();
    } catch (const podman::NotFound& again) {
      throw AppError("image_unavailable", "image " + request.image + " is not on this node: " + again.message());
    }
  }
  pc::Container fresh = start_and_switch(new_name, request.container_port);

  retire_old(existing, final_name);
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

  DeployResult result;
  result.app_id = app.app_id;
  result.container_name = container_name;
  if (!settings_.node_gateway_base_url.empty()) result.preview_url = settings_.node_gateway_base_url + request.base_path + "/";
  result.image_id = fresh.image_id.empty() ? image.image_id : fresh.image_id;
  result.pulled = image.pulled;
  result.warning = image.warning;
  std::string database_warning = precreate.wait();
  if (!database_warning.empty()) {
    logger().warning("deployed app " + app.app_id + " without its database ready: " + database_warning);
    result.warning += (result.warning.empty() ? "" : "; ") + database_warning + " (the app is deployed; its database is created at its first write)";
  }
  return result;
}

pc::Container DeployService::start_and_switch(const std::string& name, int port) {
  try {
    pc::start(podman_, name);
    parts_.network.pin_bridge();
    auto fresh = wait_until_ready(podman_, settings_, name, port);
    fault_point("after_start");
    switch_route(fresh);
    fault_point("after_switch");
    return fresh;
  } catch (...) {
    remove_failed(name);
    throw;
  }
}

void DeployService::remove_failed(const std::string& name) {
  // A container that crashed may be in the middle of a restart by its policy: libpod can refuse
  // the removal for a moment. Tries for 10 s; the reconciler removes what is still left.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int attempt = 1;; ++attempt) {
    try {
      pc::remove(podman_, name, true, 0);
      return;
    } catch (const podman::NotFound&) {
      return;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() >= deadline) {
        logger().warning("could not remove failed container " + name + " (the next reconcile will): " + e.what());
        return;
      }
      if (attempt == 1) logger().information("removal of failed container " + name + " refused, trying again: " + e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200 * attempt, 1000)));
    }
  }
}

void DeployService::retire_old(const std::vector<pc::Container>& existing, const std::string& final_name) {
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
    parts_.retirer.schedule(retired, old.image_id);
  }
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
  for (const auto& [name, value] : parts_.databases.environment_for(request.app.user_id, request.app.app_id)) spec.env[name] = value;
  spec.cpus = settings_.app_cpus;
  spec.cpu_shares = settings_.app_cpu_shares;
  spec.cpuset_cpus = settings_.app_cpuset_cpus;
  spec.memory = settings_.app_memory;
  spec.memory_swap = settings_.app_memory_swap;
  spec.pids_limit = settings_.app_pids_limit;
  for (const auto& u : settings_.app_ulimits) spec.rlimits.push_back({u.name, u.soft, u.hard});
  // What a web app never needs: raw sockets (ARP spoofing on the shared bridge), device nodes,
  // the audit log; and no privilege gained through a setuid binary. Nothing in the image changes it.
  spec.userns_auto = settings_.app_userns;
  spec.no_new_privileges = true;
  spec.cap_drop = {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"};
  spec.log_size = settings_.app_log_size;
  return spec;
}

PreparedImage DeployService::prepare_image(const std::string& image) {
  try {
    PreparedImage prepared = parts_.puller.prepare(image);
    bool checked = settings_.pull_policy == PullPolicy::always || settings_.pull_policy == PullPolicy::newer;
    metrics().image_pull(prepared.pulled ? "pulled" : !prepared.warning.empty() ? "local_copy" : checked ? "unchanged" : "local");
    return prepared;
  } catch (const PullFailed& e) {
    metrics().image_pull(e.reason());
    throw AppError(e.reason() == "not_local" ? "image_unavailable" : "image_pull_failed", e.what());
  }
}

void DeployService::switch_route(const pc::Container& c) {
  if (!routes_) return;
  auto route = route_for(settings_, c);
  if (!route) throw AppError("app_not_ready", "container " + c.name + " has no IP on network " + settings_.network);
  write_route(*routes_, *route);
}

void DeployService::check_owner(const std::vector<pc::Container>& existing, const AppRef& app) const {
  for (const auto& c : existing) {
    std::string owner = label_of(c, labels::kUserId);
    if (owner != app.user_id)
      throw AppError("app_owned_by_another_user", "app " + app.app_id + " is deployed on this node by user " + owner +
                                                      " (container " + c.name + "); stop it first");
  }
}

size_t DeployService::stop_containers(const AppRef& app, std::vector<ImageCollector::Use>* images) {
  parts_.statuses.invalidate(app.app_id);
  auto existing = containers_of(podman_, app.app_id);
  check_owner(existing, app);
  if (routes_) {
    try {
      routes_->remove(app.app_id);
    } catch (const std::exception& e) {
      throw AppError("routing_write_failed", std::string("cannot remove the routing file: ") + e.what());
    }
  }
  for (const auto& c : existing) {
    force_remove(podman_, settings_, c.id);
    if (images) images->push_back({image_of(c), c.image_id});
  }
  parts_.statuses.invalidate(app.app_id);
  return existing.size();
}

void DeployService::stop(const AppRef& app) {
  auto held = claim(app.app_id);
  std::vector<ImageCollector::Use> images;
  size_t count = stop_containers(app, &images);
  if (settings_.cleanup_images_on_stop) {
    auto removal = parts_.images.remove_app_images(images);
    for (const auto& image : removal.kept) logger().information("kept image " + image + ": another container uses it");
  }
  logger().information("stopped app " + app.app_id + " (user " + app.user_id + "): " + std::to_string(count) +
                       " container(s) removed");
  if (on_change_) on_change_();
}

DeleteResult DeployService::remove(const AppRef& app) {
  auto held = claim(app.app_id);
  std::vector<ImageCollector::Use> images;
  size_t count = stop_containers(app, &images);
  DeleteResult result{app.app_id, parts_.images.remove_app_images(images), parts_.databases.drop_on_delete(app.user_id, app.app_id)};
  logger().information("deleted app " + app.app_id + " (user " + app.user_id + "): " + std::to_string(count) + " container(s), " +
                       std::to_string(result.images.removed.size()) + " image(s) removed, " +
                       std::to_string(result.images.kept.size()) + " kept");
  if (on_change_) on_change_();
  return result;
}

}  // namespace agent
