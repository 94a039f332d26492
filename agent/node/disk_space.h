// Free space of the filesystem that holds the apps' images and containers: RUNTIME_DISK_PATH, or
// Podman's storage graph root. The heartbeat reports it, /metrics exports it, doctor checks it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "podman/client.h"

namespace agent {

struct DiskSpace {
  uint64_t free_bytes = 0;  // available to unprivileged writers (f_bavail)
  uint64_t size_bytes = 0;
  double free_pct() const { return size_bytes ? 100.0 * static_cast<double>(free_bytes) / static_cast<double>(size_bytes) : 0; }
};

// statvfs of `path`; nullopt when it cannot be read.
std::optional<DiskSpace> disk_space(const std::string& path);

class NodeStorage {
 public:
  NodeStorage(std::string configured_path, podman::Client& podman) : path_(std::move(configured_path)), podman_(podman) {}
  // The path measured: the configured one, else Podman's graph root (asked once it answers; "/"
  // while Podman is down).
  std::string path();
  std::optional<DiskSpace> measure() { return disk_space(path()); }

 private:
  std::mutex mutex_;
  std::string path_;
  podman::Client& podman_;
};

}  // namespace agent
