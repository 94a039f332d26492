#define BOOST_TEST_MODULE userns
// RUNTIME_APP_USERNS=auto on real Podman, tried from inside a deployed app's container (libpod's
// exec): the app's root is not the node's root, and removal works. Run against Podman 4.3 only:
// Podman 5.4 from this machine's Debian 13 root filesystem cannot start such a container (runc:
// "can't get final child's PID from pipe"), which is why auto is not the default yet.
#include <boost/test/unit_test.hpp>
#include <thread>

#include "podman/containers.h"
#include "base/app_labels.h"
#include "in_container.h"
#include "test_support.h"

using nlohmann::json;
namespace pc = podman::containers;
using testing::exec_in;
using testing::status_field;

namespace {

struct IsolationFixture {
  IsolationFixture() : agent(settings()) {}
  agent::Settings settings() {
    auto s = testing::test_settings(routing.path(), logs.path());
    s.app_userns = true;  // RUNTIME_APP_USERNS=auto
    return s;
  }
  ~IsolationFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }
  // The container's name.
  std::string deploy() {
    apps.push_back(testing::unique_id("i"));
    auto r = agent.call("POST", "/agent/apps/deploy",
                        R"({"userId":"7","appId":")" + apps.back() + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})");
    FUNAI_REQUIRE_STATUS(r, 200);
    return json::parse(r.body)["containerName"];
  }
  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(userns, IsolationFixture)

BOOST_AUTO_TEST_CASE(an_apps_root_is_not_the_nodes_root_and_its_removal_works) {
  std::string name = deploy();
  std::string uid_map = exec_in(agent.podman, name, {"cat", "/proc/self/uid_map"});
  // Without a user namespace: "0 0 4294967295", the container's root is the node's root.
  BOOST_TEST(uid_map.find("4294967295") == std::string::npos, uid_map);
  std::istringstream fields(uid_map);
  long inside = -1, outside = -1, count = -1;
  fields >> inside >> outside >> count;
  BOOST_TEST(inside == 0);
  BOOST_TEST(outside > 0, "container root is host uid " << outside);
  std::string status = exec_in(agent.podman, name, {"cat", "/proc/self/status"});
  BOOST_TEST(status_field(status, "NoNewPrivs") == "1", status);
  // Stopped and removed like any app (the shm mount of a shareable IPC namespace made that fail).
  auto stopped = agent.call("POST", "/agent/apps/stop", R"({"userId":"7","appId":")" + apps.back() + R"("})");
  BOOST_TEST(stopped.status == 200, stopped.body);
  BOOST_TEST(pc::list(agent.podman, {agent::labels::app_filter(apps.back())}, true).empty());
}

BOOST_AUTO_TEST_SUITE_END()
