#include "apps/retirer.h"

#include <Poco/Logger.h>

#include <algorithm>

#include "apps/app_containers.h"

namespace agent {
namespace {
Poco::Logger& logger() { return Poco::Logger::get("deploy"); }
}  // namespace

Retirer::Retirer(const Settings& settings, podman::Client& podman, ImageCollector& images)
    : settings_(settings), podman_(podman), images_(images), thread_([this] { loop(); }) {}

Retirer::~Retirer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Retirer::schedule(const std::string& container, const std::string& image_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({container, image_id, std::chrono::steady_clock::now() + std::chrono::seconds(settings_.retire_grace_seconds)});
  }
  wake_.notify_all();
}

bool Retirer::retiring(const podman::containers::Container& c) {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::any_of(pending_.begin(), pending_.end(), [&](const Retirement& r) { return r.container == c.name || r.container == c.id; });
}

void Retirer::retire(const Retirement& r) {
  try {
    force_remove(podman_, settings_, r.container);
    logger().information("retired old container " + r.container);
  } catch (const std::exception& e) {
    logger().warning("could not retire old container " + r.container + " (the next reconcile will): " + e.what());
    return;
  }
  images_.remove_if_orphaned(r.image_id);  // the image of a moved tag, now used by nothing
}

void Retirer::retire_pending_now() {
  std::vector<Retirement> now;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    now.swap(pending_);
  }
  for (const auto& r : now) retire(r);
}

void Retirer::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    std::vector<Retirement> due;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->due <= now || stopping_) {
        due.push_back(*it);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (!due.empty()) {
      lock.unlock();
      for (const auto& r : due) retire(r);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (pending_.empty()) {
      wake_.wait(lock);
    } else {
      // A copy: the vector may change (and move) while this thread waits without the lock.
      const auto next = std::min_element(pending_.begin(), pending_.end(), [](const Retirement& a, const Retirement& b) {
                          return a.due < b.due;
                        })->due;
      wake_.wait_until(lock, next);
    }
  }
}

}  // namespace agent
