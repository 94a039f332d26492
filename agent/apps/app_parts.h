// The parts that deploys, stops, deletes, the reconciler and status share, built once per agent.
#pragma once

#include "apps/app_locks.h"
#include "apps/app_network.h"
#include "apps/app_status.h"
#include "images/image_collector.h"
#include "images/image_puller.h"
#include "podman/client.h"
#include "apps/retirer.h"
#include "config/settings.h"
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
