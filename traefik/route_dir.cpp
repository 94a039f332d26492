#include "route_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace traefik {
namespace {

constexpr const char* kPrefix = "funai-app-";
constexpr const char* kSuffix = ".yml";
// Temporary files end in ".tmp-XXXXXX": Traefik only loads .yml, .yaml and .toml.
constexpr const char* kTempPrefix = ".funai-app-";
constexpr const char* kTempMarker = ".tmp-";

std::string errno_text() { return std::strerror(errno); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw RouteDirError("cannot read " + path + ": " + errno_text());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RouteDirError("cannot write " + path + ": " + errno_text());
    }
    done += static_cast<size_t>(n);
  }
}

void fsync_directory(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw RouteDirError("cannot open routing directory " + directory + ": " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    throw RouteDirError("cannot fsync routing directory " + directory + ": " + errno_text());
  }
}

}  // namespace

RouteDir::RouteDir(std::string directory) : directory_(std::move(directory)) {
  while (directory_.size() > 1 && directory_.back() == '/') directory_.pop_back();
}

std::string RouteDir::file_name(const std::string& app_id) { return kPrefix + app_id + kSuffix; }

std::string RouteDir::path_of(const std::string& app_id) const { return directory_ + "/" + file_name(app_id); }

bool RouteDir::write(const Route& route) {
  const std::string content = render(route);
  const std::string target = path_of(route.app_id);
  std::lock_guard<std::mutex> lock(mutex_);
  recreate_if_gone_locked();
  remove_temporary_files_locked();
  auto current = read_file(target);
  if (current && *current == content) return false;

  std::string temp = directory_ + "/" + kTempPrefix + route.app_id + kTempMarker + "XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) throw RouteDirError("cannot create a temporary file in routing directory " + directory_ + ": " + errno_text());
  temp = name.data();
  try {
    ::fchmod(fd, 0644);
    write_all(fd, content, temp);
    if (::fsync(fd) != 0) throw RouteDirError("cannot fsync " + temp + ": " + errno_text());
    if (::close(fd) != 0) {
      fd = -1;
      throw RouteDirError("cannot close " + temp + ": " + errno_text());
    }
    fd = -1;
    if (::rename(temp.c_str(), target.c_str()) != 0)
      throw RouteDirError("cannot rename " + temp + " to " + target + ": " + errno_text());
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  fsync_directory(directory_);
  return true;
}

bool RouteDir::remove(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string target = path_of(app_id);
  if (::unlink(target.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw RouteDirError("cannot remove " + target + ": " + errno_text());
  }
  fsync_directory(directory_);
  return true;
}

void RouteDir::recreate_if_gone_locked() {
  struct stat st {};
  if (::stat(directory_.c_str(), &st) == 0 || errno != ENOENT) return;
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) throw RouteDirError("routing directory " + directory_ + " is gone and cannot be made again: " + error.message());
  ::chmod(directory_.c_str(), 0755);
  if (on_recreated_) on_recreated_(directory_);
}

std::vector<std::string> RouteDir::list() {
  std::lock_guard<std::mutex> lock(mutex_);
  recreate_if_gone_locked();
  remove_temporary_files_locked();
  std::vector<std::string> ids;
  DIR* dir = ::opendir(directory_.c_str());
  if (!dir) throw RouteDirError("cannot list routing directory " + directory_ + ": " + errno_text());
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind(kPrefix, 0) == 0 && ends_with(name, kSuffix) && name.size() > std::strlen(kPrefix) + std::strlen(kSuffix))
      ids.push_back(name.substr(std::strlen(kPrefix), name.size() - std::strlen(kPrefix) - std::strlen(kSuffix)));
  }
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<Route> RouteDir::read(const std::string& app_id) const {
  auto content = read_file(path_of(app_id));
  if (!content) return std::nullopt;
  return parse(*content);
}

size_t RouteDir::remove_temporary_files() {
  std::lock_guard<std::mutex> lock(mutex_);
  return remove_temporary_files_locked();
}

size_t RouteDir::remove_temporary_files_locked() {
  // Under mutex_: every temporary file of this process is renamed or removed before the lock is
  // released, so whatever is found here was left by an earlier process.
  DIR* dir = ::opendir(directory_.c_str());
  if (!dir) return 0;
  std::vector<std::string> stale;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind(kTempPrefix, 0) == 0 && name.find(kTempMarker) != std::string::npos) stale.push_back(name);
  }
  ::closedir(dir);
  size_t removed = 0;
  for (const auto& name : stale)
    if (::unlink((directory_ + "/" + name).c_str()) == 0) ++removed;
  return removed;
}

bool RouteDir::writable() const {
  struct stat st {};
  return ::stat(directory_.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::access(directory_.c_str(), W_OK | X_OK) == 0;
}

}  // namespace traefik
