// What a hostile app sees from inside its own container, for the isolation suites: a command run
// there through libpod's exec, and the fields of /proc/self/status.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "podman/client.h"
#include "podman/log_stream.h"

namespace testing {

// Runs cmd inside the container, as its own processes run: what it printed (stdout and stderr).
inline std::string exec_in(podman::Client& podman, const std::string& container, const std::vector<std::string>& cmd) {
  using nlohmann::json;
  auto created = podman.post("exec", "/containers/" + container + "/exec",
                             json{{"Cmd", cmd}, {"AttachStdout", true}, {"AttachStderr", true}}.dump());
  std::string id = json::parse(created.body).at("Id");
  auto started = podman.post("exec", "/exec/" + id + "/start", json{{"Detach", false}, {"Tty", false}}.dump());
  return podman::containers::demultiplex(started.body).combined;
}

// The value of a "Name:\tvalue" line of /proc/self/status.
inline std::string status_field(const std::string& status, const std::string& name) {
  auto at = status.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  auto start = status.find_first_not_of(" \t", at + name.size() + 2);
  return status.substr(start, status.find('\n', start) - start);
}

}  // namespace testing
