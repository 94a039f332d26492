#include "node/disk_space.h"

#include <sys/statvfs.h>

#include "podman/system.h"

namespace agent {

std::optional<DiskSpace> disk_space(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0 || st.f_blocks == 0) return std::nullopt;
  return DiskSpace{static_cast<uint64_t>(st.f_bavail) * st.f_frsize, static_cast<uint64_t>(st.f_blocks) * st.f_frsize};
}

std::string NodeStorage::path() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (path_.empty()) {
    try {
      path_ = podman::system::info(podman_).graph_root;
    } catch (const std::exception&) {
      return "/";  // Podman down: the root filesystem this time
    }
  }
  return path_;
}

}  // namespace agent
