// The parts that deploys, stops, deletes, the reconciler and status share, built once per agent.
#pragma once

#include "app_locks.h"
#include "app_network.h"
#include "app_status.h"
#include "image_collector.h"
#include "image_puller.h"
#include "podman/client.h"
#include "retirer.h"
#include "settings.h"
#include "traefik/route_dir.h"

namespace agent {

struct AppParts {
  // routes may be null: RUNTIME_TRAEFIK_ENABLE=false.
  AppParts(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes)
      : network(settings, podman),
        puller(settings, podman),
        images(settings, podman),
        retirer(settings, podman, images),
        statuses(settings, podman, routes) {}

  AppLocks locks;
  AppNetwork network;
  ImagePuller puller;
  ImageCollector images;
  Retirer retirer;
  AppStatusReader statuses;
};

}  // namespace agent
