// A new container is ready when it runs and accepts TCP on its port at its IP on the apps'
// network, within RUNTIME_READY_TIMEOUT_SECONDS. Throws AppError "app_exited" (with its exit code
// and last log lines) when it ends first, "app_not_ready" when time runs out. Returns the container
// as inspected when it was found ready. A restart by its restart policy counts as ending: its
// restart count passing restarts_before (what it was before this start: 0 for a new container, a
// sleeping one's own count for a wake), or its start time changing while it is watched.
#pragma once

#include <string>

#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"

namespace agent {

podman::containers::Container wait_until_ready(podman::Client& podman, const Settings& settings, const std::string& name, int port,
                                               int restarts_before = 0);

}  // namespace agent
