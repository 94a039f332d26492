// The registry settings as text: REGISTRY_URL's shape and REGISTRY_AUTH_FILE's format (an
// auth.json as `podman login` writes it). Used to validate the settings at start; images/ builds
// a pull's credentials from them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace agent {

struct RegistryUrl {
  std::string host;         // host[:port]
  bool plain_http = false;  // http://
};

// "http://host[:port]", "https://host[:port]" or a bare "host[:port]" (TLS), an optional
// trailing path ignored. nullopt with *error set when malformed.
std::optional<RegistryUrl> parse_registry_url(const std::string& text, std::string* error);

// "host[:port]" of a registry URL or auth.json key: scheme and path removed.
std::string registry_host_part(std::string text);

// The "auths" object of an auth.json. Throws std::runtime_error (naming REGISTRY_AUTH_FILE) when
// the file cannot be read or is not an auth.json.
nlohmann::json read_auth_file(const std::string& path);

// Checks that an auth.json can be read: "" when fine, else why not.
std::string check_auth_file(const std::string& path);

}  // namespace agent
