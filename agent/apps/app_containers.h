// An app's containers as the agent reads them: their labels, newest deploy first, the route each
// should have, how they end, and the removal every part of the agent uses.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"
#include "traefik/route.h"
#include "traefik/route_dir.h"

namespace agent {

// A label's value, "" when the container has none.
std::string label_of(const podman::containers::Container& c, const char* key);

// The reference the container was created from (libpod's, else the agent's label).
std::string image_of(const podman::containers::Container& c);

// Newest deploy first (the io.funai.deployId label).
void sort_newest_first(std::vector<podman::containers::Container>& containers);

// Every managed container of an app, inspected, newest deploy first.
std::vector<podman::containers::Container> containers_of(podman::Client& podman, const std::string& app_id);

// The route an app's container should have, or nullopt when it has no IP on the apps' network.
std::optional<traefik::Route> route_for(const Settings& settings, const podman::containers::Container& c);

// True when `current` (the app's routing file) sends requests to container `c`.
bool routes_to(const Settings& settings, const std::optional<traefik::Route>& current, const podman::containers::Container& c);

// Writes a routing file; a failure becomes AppError routing_write_failed.
void write_route(traefik::RouteDir& routes, const traefik::Route& route);

// Ended on its own: exited, stopped or dead.
bool has_exited(const podman::containers::Container& c);

// Stops (with the stop timeout) and removes a container; false when it was already gone.
bool force_remove(podman::Client& podman, const Settings& settings, const std::string& name_or_id);

// The last `count` lines the container wrote (stdout and stderr), at most 2000 characters; "" when
// they cannot be read.
std::string last_log_lines(podman::Client& podman, const std::string& name, size_t count);

}  // namespace agent
