// libpod image calls: id of a local image, pull (streamed progress, errors reported from the
// stream), list, remove.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client.h"

namespace podman::images {

struct Image {
  std::string id;
  std::vector<std::string> names;         // repo tags ("registry/ns/app:latest"); empty when untagged
  std::vector<std::string> repo_digests;  // "registry/ns/app@sha256:.."
  std::vector<std::string> history;       // every name it had, newest first: kept after its tag moved away
  int containers = 0;                     // containers created from it
};

// GET /images/{name}/json: the local image's id, nullopt when there is none.
std::optional<std::string> id_of(Client& client, const std::string& reference);

struct PullOptions {
  std::string policy = "always";   // libpod's: always, missing, never, newer
  std::string registry_auth;       // X-Registry-Auth (base64url JSON {username,password,serveraddress}), "" for none
  std::optional<bool> tls_verify;  // unset: libpod's default (verify, unless registries.conf says insecure)
  std::chrono::seconds timeout{300};
};

// POST /images/pull?reference=..&policy=..[&tlsVerify=false]. Returns the image id. A failure
// reported in the pull stream throws ServerError with libpod's message; a pull that does not end
// within options.timeout throws Timeout.
std::string pull(Client& client, const std::string& reference, const PullOptions& options);

// GET /images/json, optionally filtered by reference. libpod fails a list that meets an image
// removed meanwhile ("image not known"): such a list is asked again.
std::vector<Image> list(Client& client, const std::string& reference_filter = "");

// DELETE /images/{name or id}. Throws NotFound, or Conflict when a container still uses it.
void remove(Client& client, const std::string& reference, bool force = false);

}  // namespace podman::images
