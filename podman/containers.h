// libpod container calls: create from a typed spec, start, stop, remove, inspect, list, rename,
// logs. Each checks the status codes libpod documents and throws the typed errors of errors.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client.h"
#include "container_spec.h"
#include "log_stream.h"

namespace podman::containers {

struct State {
  std::string status;  // created, running, exited, stopped, paused, ...
  bool running = false;
  int exit_code = 0;
  bool oom_killed = false;
  std::string started_at;
  std::string finished_at;
  std::string error;
};

struct Container {
  std::string id;
  std::string name;
  std::string image;     // the reference it was created from
  std::string image_id;
  State state;
  int restart_count = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> ip_by_network;

  // "" when not attached to that network (or not running).
  std::string ip_on(const std::string& network) const;
};

struct Summary {
  std::string id;
  std::vector<std::string> names;
  std::string image;
  std::string state;
  std::map<std::string, std::string> labels;
  int exit_code = 0;
};

// POST /containers/create -> the new id. Throws Conflict (name in use), NotFound (no image).
std::string create(Client& client, const Spec& spec);

// POST /containers/{name}/start. Starting a running container is not an error.
void start(Client& client, const std::string& name);

// POST /containers/{name}/stop?timeout=N. Stopping a stopped container is not an error.
void stop(Client& client, const std::string& name, unsigned timeout_seconds);

// DELETE /containers/{name}?force=..&timeout=N. Returns false when it did not exist and
// ignore_missing is set; throws NotFound otherwise.
bool remove(Client& client, const std::string& name, bool force, unsigned timeout_seconds, bool ignore_missing = true);

// GET /containers/{name}/json. Throws NotFound.
Container inspect(Client& client, const std::string& name);

// GET /containers/json?all=..&filters={"label":[..]}
std::vector<Summary> list(Client& client, const std::vector<std::string>& label_filters, bool all = true);

// POST /containers/{name}/rename?name=NEW. Throws NotFound or Conflict.
void rename(Client& client, const std::string& name, const std::string& new_name);

// One running container's counters from GET /containers/stats?stream=false.
struct Stats {
  std::string id;
  std::string name;
  uint64_t net_input = 0;  // bytes received on its network interfaces (Podman 4: NetInput, 5: Network.*.RxBytes)
};
// Every running container's counters, in one call.
std::vector<Stats> stats(Client& client);

// GET /containers/{name}/logs?stdout&stderr&tail=N, demultiplexed.
Logs logs(Client& client, const std::string& name, unsigned tail);

}  // namespace podman::containers
