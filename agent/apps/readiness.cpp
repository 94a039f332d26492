#include "apps/readiness.h"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "apps/app_containers.h"
#include "base/app_error.h"

namespace agent {
namespace {

bool accepts_tcp(const std::string& ip, int port) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(ip, static_cast<Poco::UInt16>(port)), Poco::Timespan(0, 300 * 1000));
    socket.close();
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

podman::containers::Container wait_until_ready(podman::Client& podman, const Settings& settings, const std::string& name, int port,
                                               int restarts_before) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(settings.ready_timeout_seconds);
  auto pause = std::chrono::milliseconds(10);
  std::string first_started_at;
  while (true) {
    auto c = podman::containers::inspect(podman, name);
    if (first_started_at.empty()) first_started_at = c.state.started_at;
    bool restarted = c.restart_count > restarts_before || (!c.state.started_at.empty() && c.state.started_at != first_started_at);
    if (has_exited(c) || restarted) {
      std::string how = c.state.oom_killed ? " (killed: out of memory)" : "";
      throw AppError("app_exited", "container " + name + " exited with code " + std::to_string(c.state.exit_code) + how +
                                       " before it accepted connections on port " + std::to_string(port) +
                                       "; last log lines:\n" + last_log_lines(podman, name, 20));
    }
    std::string ip = c.ip_on(settings.network);
    if (c.state.running && !ip.empty() && accepts_tcp(ip, port)) return c;
    if (Clock::now() >= deadline)
      throw AppError("app_not_ready", "container " + name + " did not accept TCP connections on port " + std::to_string(port) +
                                          " within " + std::to_string(settings.ready_timeout_seconds) +
                                          " s; last log lines:\n" + last_log_lines(podman, name, 20));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace agent
