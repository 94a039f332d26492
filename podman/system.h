// libpod system calls: ping and info (version, storage graph root, cgroup version, OCI runtime).
#pragma once

#include <string>

#include "client.h"

namespace podman::system {

struct Info {
  std::string version;        // "4.3.1"
  std::string api_version;    // "4.3.1"
  std::string graph_root;     // storage root, e.g. /var/lib/containers/storage
  std::string cgroup_version; // "v1" or "v2"
  std::string cgroup_manager; // "systemd" or "cgroupfs"
  std::string oci_runtime;    // "runc", "crun"
};

// GET /_ping: true when libpod answers "OK". Throws Unreachable when nothing answers.
bool ping(Client& client);

// GET /info
Info info(Client& client);

}  // namespace podman::system
