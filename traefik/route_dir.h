// The directory Traefik's file provider watches. Owns only the files named funai-app-{appId}.yml;
// foreign files are never touched. Writes are atomic (temporary name Traefik ignores, fsync,
// rename, fsync of the directory), so Traefik never reads a half file. A directory removed while
// the agent runs is made again at the next write or listing (and said so). Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "route.h"

namespace traefik {

class RouteDirError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RouteDir {
 public:
  explicit RouteDir(std::string directory);

  const std::string& directory() const { return directory_; }
  static std::string file_name(const std::string& app_id);  // funai-app-{appId}.yml
  std::string path_of(const std::string& app_id) const;

  // Writes the route's file atomically; returns false (and leaves the file, its inode and its
  // mtime alone) when the content is already the same. Throws RouteDirError.
  bool write(const Route& route);

  // Removes the app's file; false when there was none. Throws RouteDirError.
  bool remove(const std::string& app_id);

  // The app ids that have a managed file (leftover temporary files are cleaned up on the way).
  std::vector<std::string> list();

  // The route in the app's file; nullopt when there is none. Throws RouteFormatError for a file
  // that is not a routing file of ours, RouteDirError when it cannot be read.
  std::optional<Route> read(const std::string& app_id) const;

  // Removes temporary files left by an interrupted write; returns how many.
  size_t remove_temporary_files();

  // Checks that the directory exists and is writable (health checks).
  bool writable() const;

  // Called (under the directory's lock) each time the directory was found gone and made again.
  void on_recreated(std::function<void(const std::string& directory)> callback) { on_recreated_ = std::move(callback); }

 private:
  size_t remove_temporary_files_locked();
  void recreate_if_gone_locked();

  std::string directory_;
  mutable std::mutex mutex_;
  std::function<void(const std::string&)> on_recreated_;
};

}  // namespace traefik
