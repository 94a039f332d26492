// Removes an app's old container once a redeploy has switched the route away from it, after the
// grace period Traefik needs to apply the switch (RUNTIME_RETIRE_GRACE_SECONDS), then its image
// when a moved tag left it unused. Its own thread; at shutdown, retire_pending_now().
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "images/image_collector.h"
#include "podman/client.h"
#include "podman/containers.h"
#include "config/settings.h"

namespace agent {

class Retirer {
 public:
  Retirer(const Settings& settings, podman::Client& podman, ImageCollector& images);
  ~Retirer();

  void schedule(const std::string& container, const std::string& image_id);
  // True while the container waits for its grace period (the reconciler leaves it alone).
  bool retiring(const podman::containers::Container& c);
  // Retires at once every container still waiting (at shutdown).
  void retire_pending_now();

 private:
  struct Retirement {
    std::string container;
    std::string image_id;
    std::chrono::steady_clock::time_point due;
  };
  void retire(const Retirement& r);
  void loop();

  const Settings& settings_;
  podman::Client& podman_;
  ImageCollector& images_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Retirement> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace agent
