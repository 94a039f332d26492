// Which of an app's containers is its version, when a crash, a kill mid-deploy or a restart has
// left more than one (or the one left is down). The reconciler keeps that one and removes the others.
#pragma once

#include <optional>
#include <vector>

#include "config/settings.h"
#include "podman/containers.h"
#include "traefik/route.h"

namespace agent {

// `containers` newest first, none empty. In order:
//   1. a sleeping app's route names the deploy it slept in: that container, running or not (a newer
//      one is a redeploy that never reached its switch; its version was never served);
//   2. the running container the route points at;
//   3. the newest running container;
//   4. the newest container.
const podman::containers::Container& container_to_keep(const Settings& settings,
                                                       const std::vector<podman::containers::Container>& containers,
                                                       const std::optional<traefik::Route>& route);

}  // namespace agent
