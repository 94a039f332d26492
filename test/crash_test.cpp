// SIGKILL of the agent mid-redeploy: the next start leaves one routed app.
#define BOOST_TEST_MODULE crash
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <thread>

#include "base/app_labels.h"
#include "podman/containers.h"
#include "apps/reconciler.h"
#include "test_support.h"

#include "app_fixture.h"

namespace pc = podman::containers;
using nlohmann::json;
using testing::AppFixture;
using testing::seconds_since;
using testing::temporary_files;

// ---------------------------------------------------------------------------------- crash safety

namespace {

void crash_during_redeploy_then_restart(const std::string& fault) {
  testing::TempDir routing, logs;
  std::string app = testing::unique_id("k");
  int port = testing::free_port();
  auto env = testing::agent_env(port, "crash-token", routing.path(), logs.path());
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", "crash-token"}, {"Content-Type", "application/json"}};
  auto body = [&](const std::string& image) {
    return R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})";
  };
  {
    testing::AgentProcess first(env, port);
    FUNAI_REQUIRE_STATUS(testing::http("POST", first.url("/agent/apps/deploy"), body(testing::kHttpdImage), headers), 200);
  }
  {
    auto faulty = env;
    faulty["FUNAI_FAULT_KILL_AT"] = fault;
    testing::AgentProcess doomed(faulty, port);
    auto r = testing::http("POST", doomed.url("/agent/apps/deploy"), body(testing::kHttpd2Image), headers);
    BOOST_TEST(r.status == 0, "the agent should have died mid-deploy");
    doomed.wait();
    BOOST_TEST(pc::list(*std::make_unique<podman::Client>(testing::podman_socket()), {agent::labels::app_filter(app)}).size() == 2u);
  }
  testing::AgentProcess restarted(env, port);
  podman::Client podman(testing::podman_socket());
  traefik::RouteDir routes(routing.path());
  // Its first reconcile runs at start. It removes the extra container, then renames the one it
  // keeps, then writes the route: wait for the end of that sequence, not its first step.
  auto settled = [&] {
    try {
      auto now = pc::list(podman, {agent::labels::app_filter(app)});
      return now.size() == 1u && now[0].names == std::vector<std::string>{"rt-u-7-" + app} &&
             testing::routed_upstream(routes, app) == "http://" + pc::inspect(podman, now[0].id).ip_on("funai-test-net") + ":8080";
    } catch (const podman::NotFound&) {
      return false;  // removed between the list and the inspect
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 10 && !settled()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto left = pc::list(podman, {agent::labels::app_filter(app)});
  BOOST_REQUIRE(left.size() == 1u);
  auto c = pc::inspect(podman, left[0].id);
  BOOST_TEST(c.state.running);
  BOOST_TEST(c.name == "rt-u-7-" + app);
  BOOST_TEST(testing::routed_upstream(routes, app) == "http://" + c.ip_on("funai-test-net") + ":8080");
  BOOST_TEST(testing::http("GET", testing::routed_upstream(routes, app) + "/").status == 200);
  BOOST_TEST(temporary_files(routing.path()) == 0u);
  testing::remove_app_containers(podman, app);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_after_the_new_container_started_before_the_switch_leaves_one_routed_app) {
  crash_during_redeploy_then_restart("after_start");
}

BOOST_AUTO_TEST_CASE(sigkill_after_the_switch_before_retiring_the_old_container_leaves_one_routed_app) {
  crash_during_redeploy_then_restart("after_switch");
}
