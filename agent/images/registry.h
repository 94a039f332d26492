// How a pull reaches an image's registry: which credentials (REGISTRY_URL with REGISTRY_USERNAME
// and REGISTRY_PASSWORD for its host, else an entry of REGISTRY_AUTH_FILE) and whether TLS is
// verified (not for REGISTRY_URL=http://... or REGISTRY_INSECURE=true). Secrets never leave as
// text: only inside the X-Registry-Auth header value.
#pragma once

#include <optional>
#include <string>

#include "config/registry_settings.h"
#include "config/settings.h"

namespace agent {

// The registry host[:port] of an image reference ("docker.io" when it names none).
std::string registry_host_of(const std::string& image);

struct RegistryAccess {
  std::string host;                // the image's registry
  std::string auth_header;         // X-Registry-Auth value, "" when no credentials apply
  std::string credentials_source;  // "REGISTRY_URL", "REGISTRY_AUTH_FILE" or "" (none)
  std::optional<bool> tls_verify;  // false for a plain-HTTP registry, unset otherwise
};

// Throws std::runtime_error when REGISTRY_AUTH_FILE is set but cannot be read.
RegistryAccess registry_access_for(const Settings& settings, const std::string& image);

}  // namespace agent
