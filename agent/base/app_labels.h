// How an app is recorded on its container: the labels (the agent's only state besides the
// routing files) and the container name operators type (rt-u-{userId}-{appId}).
#pragma once

#include <string>

namespace agent::labels {

inline constexpr const char* kManaged = "io.funai.managed";
inline constexpr const char* kUserId = "io.funai.userId";
inline constexpr const char* kAppId = "io.funai.appId";
inline constexpr const char* kPort = "io.funai.port";
inline constexpr const char* kBasePath = "io.funai.basePath";
inline constexpr const char* kImage = "io.funai.image";
inline constexpr const char* kDeployId = "io.funai.deployId";  // orders deploys of one app

inline std::string managed_filter() { return std::string(kManaged) + "=true"; }
inline std::string app_filter(const std::string& app_id) { return std::string(kAppId) + "=" + app_id; }
// rt-u-{userId}-{appId} for ids without '-' (every id the platform sends). An id with '-' has
// each '-' doubled, so no two (userId, appId) pairs share a name: ("1-2", "3") is rt-u-1--2-3,
// ("1", "2-3") is rt-u-1-2--3 (ids never start with '-', so the single '-' between them is
// always the last of an odd run).
inline std::string container_name(const std::string& user_id, const std::string& app_id) {
  auto part = [](const std::string& id) {
    std::string out;
    for (char c : id) out += c == '-' ? std::string("--") : std::string(1, c);
    return out;
  };
  return "rt-u-" + part(user_id) + "-" + part(app_id);
}

}  // namespace agent::labels
