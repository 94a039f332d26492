#include "images/registry.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace agent {
namespace {

std::string encode_auth(const std::string& user, const std::string& password, const std::string& host) {
  nlohmann::json auth = {{"username", user}, {"password", password}, {"serveraddress", host}};
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING);
  encoder.rdbuf()->setLineLength(0);
  encoder << auth.dump();
  encoder.close();
  return out.str();
}

// user and password of an auths entry: {"auth": base64("user:password")} or {"username","password"}.
bool credentials_of(const nlohmann::json& entry, std::string& user, std::string& password) {
  if (!entry.is_object()) return false;
  if (entry.contains("auth") && entry["auth"].is_string()) {
    std::istringstream in(entry["auth"].get<std::string>());
    Poco::Base64Decoder decoder(in);
    std::string plain((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    auto colon = plain.find(':');
    if (colon == std::string::npos) return false;
    user = plain.substr(0, colon);
    password = plain.substr(colon + 1);
    return true;
  }
  if (entry.contains("username") && entry["username"].is_string() && entry.contains("password") && entry["password"].is_string()) {
    user = entry["username"];
    password = entry["password"];
    return true;
  }
  return false;
}

}  // namespace

std::string registry_host_of(const std::string& image) {
  auto slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  std::string first = image.substr(0, slash);
  // As the container tools read it: a first part with a dot or a port, or "localhost", is a host.
  if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost") return first;
  return "docker.io";
}

RegistryAccess registry_access_for(const Settings& settings, const std::string& image) {
  RegistryAccess access;
  access.host = registry_host_of(image);
  std::optional<RegistryUrl> configured;
  if (!settings.registry_url.empty()) configured = parse_registry_url(settings.registry_url, nullptr);
  bool ours = configured && configured->host == access.host;
  if (ours && (configured->plain_http || settings.registry_insecure)) access.tls_verify = false;
  if (ours && !settings.registry_username.empty()) {
    access.auth_header = encode_auth(settings.registry_username, settings.registry_password, access.host);
    access.credentials_source = "REGISTRY_URL";
    return access;
  }
  if (settings.registry_auth_file.empty()) return access;
  // The longest key that names the image's registry, or the registry and a leading part of its path.
  auto auths = read_auth_file(settings.registry_auth_file);
  std::string best_key;
  std::string user, password;
  for (auto it = auths.begin(); it != auths.end(); ++it) {
    std::string key = it.key();
    for (const char* scheme : {"https://", "http://"})
      if (key.rfind(scheme, 0) == 0) key = key.substr(std::string(scheme).size());
    while (!key.empty() && key.back() == '/') key.pop_back();
    bool matches = key == access.host || image.rfind(key + "/", 0) == 0 || image.rfind(key + ":", 0) == 0;
    if (!matches || registry_host_part(key) != access.host || key.size() <= best_key.size()) continue;
    std::string u, p;
    if (!credentials_of(it.value(), u, p)) continue;
    best_key = key;
    user = u;
    password = p;
  }
  if (!best_key.empty()) {
    access.auth_header = encode_auth(user, password, access.host);
    access.credentials_source = "REGISTRY_AUTH_FILE";
  }
  return access;
}

}  // namespace agent
