#include "apps/container_choice.h"

#include "apps/app_containers.h"
#include "base/app_labels.h"

namespace agent {

const podman::containers::Container& container_to_keep(const Settings& settings,
                                                       const std::vector<podman::containers::Container>& containers,
                                                       const std::optional<traefik::Route>& route) {
  if (route && route->sleeping() && route->wake_deploy)
    for (const auto& c : containers)
      if (label_of(c, labels::kDeployId) == *route->wake_deploy) return c;
  if (route)
    for (const auto& c : containers)
      if (c.state.running && routes_to(settings, route, c)) return c;
  for (const auto& c : containers)
    if (c.state.running) return c;
  return containers.front();
}

}  // namespace agent
