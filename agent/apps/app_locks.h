// One holder per app at a time: a deploy, a stop or delete, or a reconcile of that app. A holder
// gets a Claim, which lets the app go when it is destroyed, whatever path the holder leaves by.
// Waiting has a limit: a caller is told the app is busy (AppError "app_busy") instead of hanging
// behind a holder that is stuck.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

namespace agent {

class AppLocks {
 public:
  class Claim {
   public:
    Claim() = default;
    Claim(Claim&& other) noexcept : locks_(other.locks_), app_id_(std::move(other.app_id_)) { other.locks_ = nullptr; }
    Claim& operator=(Claim&& other) noexcept;
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    ~Claim() { release(); }
    explicit operator bool() const { return locks_ != nullptr; }
    void release();

   private:
    friend class AppLocks;
    Claim(AppLocks* locks, std::string app_id) : locks_(locks), app_id_(std::move(app_id)) {}
    AppLocks* locks_ = nullptr;
    std::string app_id_;
  };

  enum class Holder { deploy, other };

  // Waits up to `wait` for the app. Throws AppError "app_busy" when it is still held then, or
  // "deploy_in_progress" at once when a deploy meets a deploy and `reject_second_deploy` is set.
  Claim acquire(const std::string& app_id, Holder holder, std::chrono::milliseconds wait, bool reject_second_deploy = false);

  // The app if nobody holds it now, else an empty Claim (reconcile passes skip busy apps).
  Claim try_acquire(const std::string& app_id);

 private:
  void release(const std::string& app_id);

  std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, Holder> held_;
};

}  // namespace agent
