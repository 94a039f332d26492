#include "images/image_puller.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>

#include "podman/images.h"
#include "images/registry.h"

namespace agent {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("image"); }

bool contains(const std::string& text, const char* what) { return text.find(what) != std::string::npos; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string short_id(const std::string& id) { return id.substr(0, 12); }

}  // namespace

std::string pull_failure_reason(const std::string& libpod_message) {
  const std::string m = lower(libpod_message);
  if (contains(m, "x509") || contains(m, "certificate") || contains(m, "tls:") ||
      contains(m, "server gave http response to https client"))
    return "tls";
  if (contains(m, "unauthorized") || contains(m, "authentication required") || contains(m, "denied") ||
      contains(m, "invalid username/password"))
    return "auth";
  if (contains(m, "manifest unknown") || contains(m, "name unknown") || contains(m, "not found") || contains(m, "repository does not exist"))
    return "not_found";
  if (contains(m, "connection refused") || contains(m, "no such host") || contains(m, "i/o timeout") ||
      contains(m, "network is unreachable") || contains(m, "no route to host") || contains(m, "connection reset") ||
      contains(m, "dial tcp") || contains(m, "eof") || contains(m, "timeout") || contains(m, "pinging container registry"))
    return "unreachable";
  return "other";
}

PreparedImage ImagePuller::prepare(const std::string& image) {
  namespace pi = podman::images;
  auto local = pi::id_of(podman_, image);
  switch (settings_.pull_policy) {
    case PullPolicy::never:
      if (!local) throw PullFailed("not_local", "image " + image + " is not on this node and RUNTIME_PULL_POLICY is never");
      return {*local, false, ""};
    case PullPolicy::missing:
      if (local) return {*local, false, ""};
      return pull(image, local);
    case PullPolicy::always:
      return pull(image, local);
    case PullPolicy::newer:
      try {
        return pull(image, local);
      } catch (const PullFailed& e) {
        if (!local || (e.reason() != "unreachable" && e.reason() != "timeout")) throw;
        std::string warning = "the registry could not be reached, so the local copy of " + image + " (image " +
                              short_id(*local) + ") was deployed; it may be older than the registry's: " + e.what();
        logger().warning(warning);
        return {*local, false, warning};
      }
  }
  return {};
}

PreparedImage ImagePuller::pull(const std::string& image, const std::optional<std::string>& local_id) {
  RegistryAccess access;
  try {
    access = registry_access_for(settings_, image);
  } catch (const std::exception& e) {
    throw PullFailed("auth", "pull of " + image + " failed: " + e.what());
  }
  podman::images::PullOptions options;
  options.policy = "always";  // a registry check each time: libpod fetches only layers it lacks
  options.registry_auth = access.auth_header;
  options.tls_verify = access.tls_verify;
  options.timeout = std::chrono::seconds(settings_.pull_timeout_seconds);
  std::string id;
  try {
    id = podman::images::pull(podman_, image, options);
  } catch (const podman::Unreachable&) {
    throw;  // Podman is down: not the registry's fault
  } catch (const podman::Timeout&) {
    throw PullFailed("timeout", "pull of " + image + " did not finish within RUNTIME_PULL_TIMEOUT_SECONDS (" +
                                    std::to_string(settings_.pull_timeout_seconds) + " s): registry " + access.host +
                                    " accepted the connection but did not deliver the image");
  } catch (const podman::Error& e) {
    std::string reason = pull_failure_reason(e.message());
    std::string h = access.host;
    std::string detail;
    if (reason == "auth") {
      std::string creds = access.credentials_source.empty()
                              ? "no credentials were sent (set REGISTRY_URL, REGISTRY_USERNAME and REGISTRY_PASSWORD, "
                                "or an entry for " + h + " in REGISTRY_AUTH_FILE)"
                              : "the credentials from " + access.credentials_source + " were refused";
      detail = "registry " + h + " refused the pull (authentication required): " + creds;
    } else if (reason == "unreachable") {
      detail = "registry " + h + " could not be reached";
    } else if (reason == "not_found") {
      detail = "registry " + h + " has no such tag or repository";
    } else if (reason == "tls") {
      detail = "TLS with registry " + h + " failed (for a plain-HTTP registry set REGISTRY_URL=http://" + h +
               " or REGISTRY_INSECURE=true; for a private CA put it in /etc/containers/certs.d/" + h + "/ca.crt)";
    } else {
      detail = "libpod could not pull it";
    }
    throw PullFailed(reason, "pull of " + image + " failed: " + detail + ": " + e.message());
  }
  bool pulled = !local_id || *local_id != id;
  logger().information("pulled " + image + ": " + (pulled ? "new image " : "unchanged, image ") + short_id(id));
  return {id, pulled, ""};
}

}  // namespace agent
