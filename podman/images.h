// libpod image calls: exists, pull (streamed progress, errors reported from the stream), list, remove.
#pragma once

#include <string>
#include <vector>

#include "client.h"

namespace podman::images {

struct Image {
  std::string id;
  std::vector<std::string> names;  // repo tags
};

// GET /images/{name}/exists: 204 yes, 404 no.
bool exists(Client& client, const std::string& reference);

// POST /images/pull?reference=..&policy=.. ; registry_auth is the X-Registry-Auth header value
// (base64url JSON {username,password,serveraddress}), empty for none. Returns the image id.
// A failure reported in the pull stream throws ServerError with libpod's message.
std::string pull(Client& client, const std::string& reference, const std::string& policy,
                 const std::string& registry_auth = "");

// GET /images/json, optionally filtered by reference.
std::vector<Image> list(Client& client, const std::string& reference_filter = "");

// DELETE /images/{name}. Throws NotFound, or Conflict when a container still uses it.
void remove(Client& client, const std::string& reference, bool force = false);

}  // namespace podman::images
