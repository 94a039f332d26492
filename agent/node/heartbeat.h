// The heartbeat to the Deploy control plane: POST {DEPLOY_BASE_URL}/internal/runtime-nodes/heartbeat
// with X-RT-Node-Token, at start, after each deploy and stop (trigger()), and every
// DEPLOY_HEARTBEAT_SECONDS. Runs on its own thread with a 3 s timeout: it never delays an API
// request. Failures are retried with backoff and logged at most once a minute.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "node/disk_space.h"
#include "podman/client.h"
#include "config/settings.h"

namespace agent {

class Heartbeat {
 public:
  Heartbeat(const Settings& settings, podman::Client& podman);
  ~Heartbeat();

  // False (with one warning at start) when a required key is unset.
  bool enabled() const { return enabled_; }
  // The unset required keys in words ("DEPLOY_BASE_URL and DEPLOY_NODE_TOKEN are"), "" when none.
  std::string missing_settings() const;
  void start();
  void stop();
  void trigger();  // send soon, without waiting

  // The body that would be sent now.
  nlohmann::json payload();

  // Where heartbeats go: {DEPLOY_BASE_URL}/internal/runtime-nodes/heartbeat.
  std::string url() const;
  // Sends one heartbeat now on the calling thread; true on a 2xx answer.
  bool send_once();

  nlohmann::json last_result() const;

  // The filesystem the heartbeat reports (diskFreePct, diskFreeBytes).
  NodeStorage& storage() { return storage_; }

 private:
  void loop();

  const Settings& settings_;
  podman::Client& podman_;
  bool enabled_;
  NodeStorage storage_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool triggered_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::string last_error_;
  bool last_ok_ = false;
  int64_t last_attempt_epoch_ = 0;
  int64_t sent_ = 0;
  int64_t failed_ = 0;
  std::chrono::steady_clock::time_point last_failure_logged_{};
};

}  // namespace agent
