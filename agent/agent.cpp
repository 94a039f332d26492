#include "agent.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <sys/resource.h>

#include <algorithm>

#include "base/app_labels.h"
#include "api/http_api.h"
#include "podman/containers.h"
#include "base/metrics.h"

namespace agent {
namespace {

std::unique_ptr<traefik::RouteDir> routing_directory(const Settings& settings) {
  if (!settings.traefik_enable) {
    Poco::Logger::get("main").warning("RUNTIME_TRAEFIK_ENABLE=false: no routing files are written");
    return nullptr;
  }
  try {
    Poco::File(settings.traefik_dynamic_dir).createDirectories();
  } catch (const std::exception& e) {
    Poco::Logger::get("main").error("cannot create routing directory " + settings.traefik_dynamic_dir + ": " + e.what());
  }
  return std::make_unique<traefik::RouteDir>(settings.traefik_dynamic_dir);
}

// Every connection is a descriptor. Raises the soft limit toward the hard one (a shell's 1024 is
// far below RUNTIME_MAX_CONNECTIONS; the unit sets both to 65536), and says so when it stays short.
void make_room_for_connections(int max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t wanted = static_cast<rlim_t>(max_connections) + 1024;  // Podman, routing files, logs
  if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted)
    Poco::Logger::get("main").warning("open files limit " + std::to_string(limit.rlim_cur) + " is below RUNTIME_MAX_CONNECTIONS + 1024 (" +
                                      std::to_string(wanted) + "): past it new connections wait in the listen queue");
}

}  // namespace

Agent::Agent(Settings s)
    : settings(std::move(s)),
      podman(settings.podman_socket),
      routes(routing_directory(settings)),
      parts(settings, podman, routes.get()),
      service(settings, podman, routes.get(), parts),
      heartbeat(settings, podman),
      reconciler(settings, podman, routes.get(), parts),
      sleeper(settings, podman, routes.get(), parts),
      health(settings, podman, routes.get(), heartbeat) {
  podman.on_error([](const std::string& call) { metrics().podman_error(call); });
  if (routes)
    routes->on_recreated([](const std::string& directory) {
      Poco::Logger::get("main").warning("routing directory " + directory + " was gone: made it again (the reconciler writes the routes back)");
      metrics().routing_dir_recreated();
    });
  service.on_change([this] { heartbeat.trigger(); });
  reconciler.sleeping_route_now = [this](const traefik::Route& r) { return sleeper.sleeping_route_now(r); };
}

Agent::~Agent() { stop(std::chrono::seconds(5)); }

void Agent::start_server() {
  make_room_for_connections(settings.max_connections);
  HttpServerOptions options;
  options.host = settings.host;
  options.port = settings.port;
  options.threads = settings.http_threads;
  options.max_connections = settings.max_connections;
  options.max_body_bytes = kMaxBodyBytes;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory(new ApiHandlerFactory(
      settings.token, api_endpoints(settings, service, parts, [this] { refresh_gauges(); }, [this] { return health.check(); }, &sleeper)));
  server = std::make_unique<HttpServer>(options, factory);
  server->start();
}

void Agent::refresh_gauges() {
  // Each gauge on its own: one that cannot be read keeps its last value, and /metrics still answers.
  try {
    auto all = podman::containers::list(podman, {labels::managed_filter()}, true);
    size_t running = std::count_if(all.begin(), all.end(), [](const auto& c) { return c.state == "running"; });
    metrics().managed_containers(running, all.size());
    metrics().podman_up(true);
  } catch (const podman::Error&) {
    metrics().podman_up(false);
  } catch (const std::exception& e) {
    Poco::Logger::get("main").warning(std::string("metrics: cannot count the managed containers: ") + e.what());
  }
  try {
    if (auto disk = heartbeat.storage().measure()) metrics().disk_space(disk->free_bytes, disk->size_bytes);
  } catch (const std::exception& e) {
    Poco::Logger::get("main").warning(std::string("metrics: cannot measure the disk: ") + e.what());
  }
  try {
    metrics().apps_sleeping(sleeper.sleeping_count());
  } catch (const std::exception& e) {
    Poco::Logger::get("main").warning(std::string("metrics: cannot count the sleeping apps: ") + e.what());
  }
}

void Agent::start_background() {
  heartbeat.start();
  reconciler.start();
  parts.images.start();
  sleeper.start();
  background_ = true;
}

void Agent::stop(std::chrono::seconds drain) {
  if (stopped_) return;
  stopped_ = true;
  if (server) server->stop(drain);
  if (background_) {
    sleeper.stop();
    reconciler.stop();
    parts.images.stop();
    heartbeat.stop();
  }
  parts.retirer.retire_pending_now();
}

}  // namespace agent
