// The subset of libpod's SpecGenerator the agent uses to create a container, and its JSON body.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace podman::containers {

struct Rlimit {
  std::string type;  // "nofile", "nproc", ...
  int64_t soft = 0;
  int64_t hard = 0;
};

// The subset of libpod's SpecGenerator the agent uses.
struct Spec {
  std::string name;
  std::string image;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> env;
  std::string network;         // joined in bridge mode; empty = libpod's default
  bool init = false;           // an init (catatonit) as PID 1 forwards signals to the app
  std::string restart_policy;  // "", "no", "always", "on-failure", "unless-stopped"
  std::optional<unsigned> stop_timeout;
  std::optional<double> cpus;  // becomes a CFS quota over a 100 ms period
  std::optional<int64_t> cpu_shares;
  std::string cpuset_cpus;
  std::optional<int64_t> memory;       // bytes
  std::optional<int64_t> memory_swap;  // bytes, -1 unlimited
  std::optional<int64_t> pids_limit;
  std::vector<Rlimit> rlimits;
  bool userns_auto = false;            // a user namespace of its own (libpod's "auto": ids from /etc/subuid)
  bool no_new_privileges = false;      // no setuid gain (execve cannot add privileges)
  std::vector<std::string> cap_drop;   // "CAP_NET_RAW", ...
  std::optional<int64_t> log_size;     // bytes of the container's log file, then it is cut
};

// The JSON body libpod's create endpoint takes for a spec.
nlohmann::json to_json(const Spec& spec);

}  // namespace podman::containers
