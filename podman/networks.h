// libpod network calls: exists, create, inspect.
#pragma once

#include <string>
#include <vector>

#include "client.h"

namespace podman::networks {

struct Network {
  std::string name;
  std::string id;
  std::string driver;
  std::string interface_name;  // the host bridge, e.g. podman1
  bool dns_enabled = false;
  bool internal = false;  // no route between the host and the containers
  std::vector<std::string> subnets;
  std::vector<std::string> gateways;  // the host's address on each subnet
};

// GET /networks/{name}/exists: 204 yes, 404 no.
bool exists(Client& client, const std::string& name);

// POST /networks/create (bridge, DNS on). Throws Conflict when it already exists.
Network create(Client& client, const std::string& name);

// GET /networks/{name}/json. Throws NotFound.
Network inspect(Client& client, const std::string& name);

}  // namespace podman::networks
