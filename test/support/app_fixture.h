// A deployed-apps fixture for the scenario suites: an agent on the fixture's Podman, apps that
// are removed at the end, and what the reconciler and heartbeat suites ask of them.
#pragma once

#include <dirent.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "podman/containers.h"
#include "test_support.h"

namespace testing {

struct AppFixture {
  AppFixture() : agent(testing::test_settings(routing.path(), logs.path())) {}
  ~AppFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }
  std::string new_app() {
    apps.push_back(testing::unique_id("l"));
    return apps.back();
  }
  void deploy(const std::string& app, const std::string& image = testing::kHttpdImage) {
    std::string body = R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})";
    auto r = agent.call("POST", "/agent/apps/deploy", body);
    FUNAI_REQUIRE_STATUS(r, 200);
  }
  std::string upstream(const std::string& app) { return testing::routed_upstream(*agent.routes, app); }
  std::string ip_of(const std::string& app) {
    return podman::containers::inspect(agent.podman, "rt-u-7-" + app).ip_on(agent.settings.network);
  }
  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

inline size_t temporary_files(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += std::string(e->d_name).find(".tmp-") != std::string::npos;
  closedir(d);
  return n;
}

}  // namespace testing
