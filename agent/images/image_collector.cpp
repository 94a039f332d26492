#include "images/image_collector.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <optional>
#include <set>

#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/images.h"

namespace agent {
namespace {

namespace pi = podman::images;

Poco::Logger& logger() { return Poco::Logger::get("image"); }

std::string short_id(const std::string& id) { return id.substr(0, 12); }

std::optional<pi::Image> find_image(const std::vector<pi::Image>& images, const std::string& id) {
  for (const auto& image : images)
    if (image.id == id) return image;
  return std::nullopt;
}

}  // namespace

std::string repository_of(const std::string& reference) {
  std::string repo = reference;
  auto at = repo.find('@');
  if (at != std::string::npos) repo = repo.substr(0, at);
  auto slash = repo.rfind('/');
  auto colon = repo.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) repo = repo.substr(0, colon);
  return repo;
}

ImageCollector::~ImageCollector() { stop(); }

bool ImageCollector::remove_if_orphaned(const std::string& image_id) {
  if (image_id.empty()) return false;
  try {
    auto image = find_image(pi::list(podman_), image_id);
    if (!image || !image->names.empty() || image->containers > 0) return false;
    pi::remove(podman_, image_id);
    logger().information("removed image " + short_id(image_id) + ": untagged and no longer used");
    metrics().images_removed(1);
    return true;
  } catch (const podman::NotFound&) {
    return false;
  } catch (const podman::Conflict&) {
    return false;  // a container was created from it meanwhile
  } catch (const podman::Error& e) {
    logger().warning("could not remove image " + short_id(image_id) + " (the periodic sweep will): " + e.message());
    return false;
  }
}

ImageRemoval ImageCollector::remove_app_images(const std::vector<Use>& uses) {
  ImageRemoval result;
  std::set<std::string> ids, references;
  for (const auto& use : uses) {
    if (!use.id.empty()) ids.insert(use.id);
    if (!use.reference.empty()) references.insert(use.reference);
  }
  for (const auto& reference : references) {
    auto id = pi::id_of(podman_, reference);
    if (!id || (!ids.empty() && !ids.count(*id))) continue;  // gone, or the tag moved to an image the app never ran
    try {
      pi::remove(podman_, reference, false);
      result.removed.push_back(reference);
    } catch (const podman::NotFound&) {
    } catch (const podman::Conflict&) {
      result.kept.push_back(reference);  // another container uses it
    }
  }
  auto images = pi::list(podman_);
  for (const auto& id : ids) {
    auto image = find_image(images, id);
    if (!image || !image->names.empty()) continue;  // gone, or still tagged for someone else
    try {
      pi::remove(podman_, id, false);
      result.removed.push_back(id);
    } catch (const podman::NotFound&) {
    } catch (const podman::Conflict&) {
      if (std::find(result.kept.begin(), result.kept.end(), id) == result.kept.end()) result.kept.push_back(id);
    }
  }
  metrics().images_removed(static_cast<int>(result.removed.size()));
  return result;
}

int ImageCollector::sweep() {
  std::set<std::string> repositories;
  for (const auto& c : podman::containers::list(podman_, {labels::managed_filter()})) {
    auto it = c.labels.find(labels::kImage);
    if (it != c.labels.end() && !it->second.empty()) repositories.insert(repository_of(it->second));
  }
  int removed = 0;
  for (const auto& image : pi::list(podman_)) {
    if (!image.names.empty() || image.containers > 0) continue;
    bool ours = false;
    for (const auto& name : image.history) ours = ours || repositories.count(repository_of(name));
    if (!ours) continue;
    try {
      pi::remove(podman_, image.id);
      ++removed;
    } catch (const podman::NotFound&) {
    } catch (const podman::Conflict&) {
    }
  }
  if (removed) {
    logger().information("image sweep removed " + std::to_string(removed) + " untagged image(s) of the apps");
    metrics().images_removed(removed);
  }
  return removed;
}

void ImageCollector::start() {
  if (settings_.image_gc_seconds <= 0) return;
  thread_ = std::thread([this] { loop(); });
}

void ImageCollector::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImageCollector::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::seconds(settings_.image_gc_seconds), [this] { return stopping_; })) {
    lock.unlock();
    try {
      sweep();
    } catch (const std::exception& e) {
      logger().warning(std::string("image sweep skipped: ") + e.what());
    }
    lock.lock();
  }
}

}  // namespace agent
