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
#include "mongo/app_databases.h"
#include "mongo/mongo_server.h"
#include "traefik/route_dir.h"

namespace agent {

struct AppParts {
  // routes may be null: RUNTIME_TRAEFIK_ENABLE=false.
  AppParts(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes)
      : network(settings, podman),
        puller(settings, podman),
        images(settings, podman),
        retirer(settings, podman, images),
        statuses(settings, podman, routes),
        mongo(settings),
        databases(settings, mongo) {}

  AppLocks locks;
  AppNetwork network;
  ImagePuller puller;
  ImageCollector images;
  Retirer retirer;
  AppStatusReader statuses;
  MongoServer mongo;       // RUNTIME_MONGO_HOST, when set
  AppDatabases databases;  // each app's own database on it
};

}  // namespace agent
