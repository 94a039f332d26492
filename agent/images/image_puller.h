// Makes a deploy's image present per RUNTIME_PULL_POLICY, and says what it did:
//   always  the pull must succeed (a moved tag is fetched; an unchanged one costs a digest check);
//           any failure fails the deploy: stale code is never deployed as a success
//   newer   as always, but when the registry cannot be reached (or does not answer within the pull
//           timeout) the local copy is used, with a warning in the log and in the answer
//   missing pull only when there is no local copy
//   never   the local copy or nothing
// Failures are PullFailed, with a reason and a detail an operator can act on.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "podman/client.h"
#include "config/settings.h"

namespace agent {

struct PreparedImage {
  std::string image_id;
  bool pulled = false;  // this call fetched a new image (not only checked the registry)
  std::string warning;  // set when the local copy was used because the registry could not be reached
};

class PullFailed : public std::runtime_error {
 public:
  // reason: "auth", "unreachable", "not_found", "tls", "timeout", "not_local" (never), "other"
  PullFailed(std::string reason, const std::string& detail) : std::runtime_error(detail), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// Sorts libpod's pull error text into a PullFailed reason.
std::string pull_failure_reason(const std::string& libpod_message);

class ImagePuller {
 public:
  ImagePuller(const Settings& settings, podman::Client& podman) : settings_(settings), podman_(podman) {}

  // Throws PullFailed, or podman::Unreachable when Podman itself is down.
  PreparedImage prepare(const std::string& image);

 private:
  PreparedImage pull(const std::string& image, const std::optional<std::string>& local_id);

  const Settings& settings_;
  podman::Client& podman_;
};

}  // namespace agent
