#include "apps/app_locks.h"

#include "base/app_error.h"

namespace agent {

AppLocks::Claim& AppLocks::Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    release();
    locks_ = other.locks_;
    app_id_ = std::move(other.app_id_);
    other.locks_ = nullptr;
  }
  return *this;
}

void AppLocks::Claim::release() {
  if (!locks_) return;
  locks_->release(app_id_);
  locks_ = nullptr;
}

AppLocks::Claim AppLocks::acquire(const std::string& app_id, Holder holder, std::chrono::milliseconds wait,
                                  bool reject_second_deploy) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = held_.find(app_id);
  if (it != held_.end() && it->second == Holder::deploy && holder == Holder::deploy && reject_second_deploy)
    throw AppError("deploy_in_progress", "a deploy of app " + app_id + " is already in progress");
  if (!released_.wait_for(lock, wait, [&] { return held_.count(app_id) == 0; }))
    throw AppError("app_busy", "app " + app_id + " is still busy with another operation after " +
                                   std::to_string(wait.count() / 1000) + " s (RUNTIME_APP_LOCK_WAIT_SECONDS); try again");
  held_[app_id] = holder;
  return Claim(this, app_id);
}

AppLocks::Claim AppLocks::try_acquire(const std::string& app_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (held_.count(app_id)) return {};
  held_[app_id] = Holder::other;
  return Claim(this, app_id);
}

void AppLocks::release(const std::string& app_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(app_id);
  }
  released_.notify_all();
}

}  // namespace agent
