// The whole agent, built in one place: the Podman client, the routing directory, the parts apps
// share, the deploy service, heartbeat, reconciler, node health and the HTTP server. main runs it;
// the tests build the same graph and start only what they need.
#pragma once

#include <chrono>
#include <memory>

#include "apps/app_parts.h"
#include "sleep/app_sleeper.h"
#include "apps/deploy_service.h"
#include "node/heartbeat.h"
#include "http/http_server.h"
#include "node/node_health.h"
#include "podman/client.h"
#include "apps/reconciler.h"
#include "config/settings.h"
#include "traefik/route_dir.h"

namespace agent {

class Agent {
 public:
  explicit Agent(Settings settings);  // builds; starts nothing
  ~Agent();                           // stops what runs

  // Listens on settings.host:settings.port (0: an ephemeral port). Throws when it cannot.
  void start_server();
  // The heartbeat, the reconciler, the periodic image sweep, and scale to zero when it is on.
  void start_background();
  // Stops taking connections, lets requests in flight finish (up to `drain`), stops the
  // background work and retires the old containers still in their grace period.
  void stop(std::chrono::seconds drain);
  int port() const { return server ? server->port() : 0; }
  // The gauges read at scrape time: containers running and total, Podman up, free disk, apps asleep.
  void refresh_gauges();

  Settings settings;
  podman::Client podman;
  std::unique_ptr<traefik::RouteDir> routes;  // null when RUNTIME_TRAEFIK_ENABLE=false
  AppParts parts;
  DeployService service;
  Heartbeat heartbeat;
  Reconciler reconciler;
  AppSleeper sleeper;
  NodeHealth health;
  std::unique_ptr<HttpServer> server;

 private:
  bool background_ = false;
  bool stopped_ = false;
};

}  // namespace agent
