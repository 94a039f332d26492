// SIGKILL of the agent mid-redeploy: the next start leaves one routed app.
#define BOOST_TEST_MODULE crash
#include <signal.h>

#include <future>
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

BOOST_AUTO_TEST_CASE(sigkill_during_the_redeploy_of_a_sleeping_app_keeps_the_version_it_slept) {
  // Before: the reconciler kept "the newest container" for a sleeping route and removed the other
  // first; a kill after the new container started left the new, never-served version as the app's
  // only one (and a broken image would then be all the app had).
  testing::TempDir routing, logs;
  std::string app = testing::unique_id("ks");
  int port = testing::free_port();
  auto env = testing::agent_env(port, "crash-token", routing.path(), logs.path());
  env["RUNTIME_IDLE_SLEEP_SECONDS"] = "3600";
  env["RUNTIME_WAKE_LISTEN"] = "127.0.0.1:" + std::to_string(testing::free_port());
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", "crash-token"}, {"Content-Type", "application/json"}};
  auto body = [&](const std::string& image) {
    return R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})";
  };
  podman::Client podman(testing::podman_socket());
  {
    testing::AgentProcess first(env, port);
    FUNAI_REQUIRE_STATUS(testing::http("POST", first.url("/agent/apps/deploy"), body(testing::kHttpdImage), headers), 200);
    FUNAI_REQUIRE_STATUS(testing::http("POST", first.url("/agent/apps/sleep"), R"({"userId":"7","appId":")" + app + R"("})", headers), 200);
  }
  {
    auto faulty = env;
    faulty["FUNAI_FAULT_KILL_AT"] = "after_start";
    testing::AgentProcess doomed(faulty, port);
    auto r = testing::http("POST", doomed.url("/agent/apps/deploy"), body(testing::kHttpd2Image), headers);
    BOOST_TEST(r.status == 0, "the agent should have died mid-deploy");
    doomed.wait();
    BOOST_REQUIRE_EQUAL(pc::list(podman, {agent::labels::app_filter(app)}, true).size(), 2u);
  }
  testing::AgentProcess restarted(env, port);
  // Its start-up reconcile removes the half-deployed container and leaves the slept one asleep.
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 15 && pc::list(podman, {agent::labels::app_filter(app)}, true).size() != 1u)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto left = pc::list(podman, {agent::labels::app_filter(app)}, true);
  BOOST_REQUIRE_EQUAL(left.size(), 1u);
  auto c = pc::inspect(podman, left[0].id);
  BOOST_TEST(c.image == testing::kHttpdImage);
  BOOST_TEST(!c.state.running);
  traefik::RouteDir routes(routing.path());
  BOOST_TEST(routes.read(app)->sleeping());
  // Woken, it serves the version it slept with.
  auto woken = testing::http("POST", restarted.url("/agent/apps/wake"), R"({"userId":"7","appId":")" + app + R"("})", headers);
  FUNAI_REQUIRE_STATUS(woken, 200);
  BOOST_TEST(testing::http("GET", testing::routed_upstream(routes, app) + "/").body == "hello from httpd\n");
  testing::remove_app_containers(podman, app);
}

// The unit's TimeoutStopSec is 40 s, then systemd kills. A deploy that waits on an app that never
// listens (readiness up to 120 s here) used to hold the agent's stop until it ended.
BOOST_AUTO_TEST_CASE(sigterm_during_a_long_deploy_exits_within_the_units_stop_timeout) {
  testing::TempDir routing, logs;
  std::string app = testing::unique_id("t");
  int port = testing::free_port();
  auto env = testing::agent_env(port, "crash-token", routing.path(), logs.path());
  env["RUNTIME_READY_TIMEOUT_SECONDS"] = "120";
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", "crash-token"}, {"Content-Type", "application/json"}};
  testing::AgentProcess agent(env, port);
  auto deploy = std::async(std::launch::async, [&] {
    return testing::http("POST", agent.url("/agent/apps/deploy"),
                         R"({"userId":"7","appId":")" + app + R"(","image":")" + testing::kNoListenImage + R"(","containerPort":8080})",
                         headers, std::chrono::milliseconds(180000));
  });
  podman::Client podman(testing::podman_socket());
  auto t0 = std::chrono::steady_clock::now();  // the deploy is in flight once its container runs
  auto running = [&] {
    for (const auto& c : pc::list(podman, {agent::labels::app_filter(app)}))
      if (c.state == "running") return true;
    return false;
  };
  while (!running() && seconds_since(t0) < 60) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_REQUIRE_MESSAGE(running(), "the deploy never started its container");
  auto stopping = std::chrono::steady_clock::now();
  ::kill(agent.pid(), SIGTERM);
  auto exited = std::async(std::launch::async, [&] { return agent.wait(); });
  bool ended = exited.wait_for(std::chrono::seconds(90)) == std::future_status::ready;
  double took = seconds_since(stopping);
  if (!ended) ::kill(agent.pid(), SIGKILL);
  int status = exited.get();
  BOOST_TEST(took < 40.0, "the agent took " << took << " s to stop: past the unit's TimeoutStopSec=40, systemd kills it");
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "exit status " << status);
  deploy.wait();
  testing::remove_app_containers(podman, app);
}
