// Keeps the node's disk from filling with old app images. Redeploys pull a moved tag (the Runner
// always pushes :latest), which leaves the previous image untagged; once the old container is
// retired nothing uses it. This removes such images, and never an image the agent's apps did not
// use: a tagged image, or an untagged one whose repository no app of the agent runs from, is left
// alone, and so is any image a container (of any owner) still uses.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "podman/client.h"
#include "config/settings.h"

namespace agent {

struct ImageRemoval {
  std::vector<std::string> removed;
  std::vector<std::string> kept;  // still used by a container
};

// "registry/ns/app" of "registry/ns/app:tag", "registry/ns/app@sha256:..", "registry/ns/app".
std::string repository_of(const std::string& reference);

class ImageCollector {
 public:
  ImageCollector(const Settings& settings, podman::Client& podman) : settings_(settings), podman_(podman) {}
  ~ImageCollector();

  // After an app's old container was removed: removes its image when no tag is left and no
  // container uses it. Returns whether it was removed.
  bool remove_if_orphaned(const std::string& image_id);

  // An image an app's container ran: the reference it was created from, and the image's id.
  struct Use {
    std::string reference;
    std::string id;
  };
  // delete: removes every image the app's (now removed) containers used. A reference is removed
  // (untagged) while it still names one of those images; an image left untagged is removed by id.
  // Images another container uses are kept. Reports references, or ids for untagged images.
  ImageRemoval remove_app_images(const std::vector<Use>& uses);

  // Untagged images, unused, whose repository one of the agent's apps runs from. Returns how many
  // were removed.
  int sweep();

  // Sweeps every RUNTIME_IMAGE_GC_SECONDS (0: never).
  void start();
  void stop();

 private:
  void loop();

  const Settings& settings_;
  podman::Client& podman_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace agent
