#include "config/registry_settings.h"

#include <fstream>
#include <stdexcept>

namespace agent {

std::optional<RegistryUrl> parse_registry_url(const std::string& text, std::string* error) {
  RegistryUrl url;
  url.plain_http = text.rfind("http://", 0) == 0;
  url.host = registry_host_part(text);
  bool ok = !url.host.empty() && url.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                                     std::string::npos;
  if (ok && text.find("://") != std::string::npos && text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0) ok = false;
  if (!ok) {
    // Credentials written into the URL (user:password@host) are not echoed into logs or output.
    bool userinfo = text.find('@') != std::string::npos;
    if (error)
      *error = "must be http://host[:port], https://host[:port] or host[:port]" +
               std::string(userinfo ? " (credentials go in REGISTRY_USERNAME and REGISTRY_PASSWORD, not in the URL)" : ", got '" + text + "'");
    return std::nullopt;
  }
  return url;
}

std::string registry_host_part(std::string text) {
  for (const char* scheme : {"https://", "http://"})
    if (text.rfind(scheme, 0) == 0) text = text.substr(std::string(scheme).size());
  auto slash = text.find('/');
  if (slash != std::string::npos) text = text.substr(0, slash);
  return text;
}

nlohmann::json read_auth_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("REGISTRY_AUTH_FILE " + path + " cannot be read");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("auths") || !j["auths"].is_object())
    throw std::runtime_error("REGISTRY_AUTH_FILE " + path + " is not an auth.json ({\"auths\": {...}})");
  return j["auths"];
}

std::string check_auth_file(const std::string& path) {
  try {
    read_auth_file(path);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace agent
