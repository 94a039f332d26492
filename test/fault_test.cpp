#define BOOST_TEST_MODULE faults
// Faults on real parts: Podman going away mid-work, a read-only or full routing directory.
#include <sys/mount.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "base/app_labels.h"
#include "podman/containers.h"
#include "apps/reconciler.h"
#include "test_support.h"

namespace pc = podman::containers;
using nlohmann::json;
using testing::seconds_since;

namespace {

std::string body_for(const std::string& app, const std::string& image) {
  return R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})";
}

size_t containers_of(podman::Client& podman, const std::string& app) {
  return pc::list(podman, {agent::labels::app_filter(app)}).size();
}

}  // namespace

BOOST_AUTO_TEST_CASE(podman_socket_gone_mid_work_answers_503_within_the_connect_timeout) {
  testing::TempDir run, routing, logs;
  testing::PodmanService service(run.path() + "/podman.sock");
  service.start();
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.podman_socket = service.endpoint();
  testing::AgentUnderTest agent(settings);
  BOOST_TEST(agent.call("GET", "/agent/apps/status?appId=f1").status == 200);

  service.kill();  // the socket file stays, nobody listens: connection refused
  auto t0 = std::chrono::steady_clock::now();
  auto r = agent.call("GET", "/agent/apps/status?appId=f2");
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(json::parse(r.body)["code"] == "podman_unavailable");
  BOOST_TEST(agent.call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"f2"})").status == 503);
  std::remove((run.path() + "/podman.sock").c_str());  // and then the socket file is gone too
  BOOST_TEST(agent.call("POST", "/agent/apps/deploy", body_for("f3", testing::kHttpdImage)).status == 503);
  BOOST_TEST(seconds_since(t0) < 2.5);
  BOOST_TEST(testing::http("GET", agent.url("/internal/health")).status == 200);
}

BOOST_AUTO_TEST_CASE(podman_killed_during_a_deploy_gives_an_error_and_a_reconcile_leaves_one_consistent_app) {
  testing::TempDir run, routing, logs;
  std::string socket = run.path() + "/podman.sock";
  auto service = std::make_unique<testing::PodmanService>(socket);
  service->start();
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.podman_socket = service->endpoint();
  testing::AgentUnderTest agent(settings);
  std::string app = testing::unique_id("f");
  FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpdImage)), 200);
  std::string routed = testing::routed_upstream(*agent.routes, app);

  auto redeploy = std::async(std::launch::async, [&] { return agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kSlowImage)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the new container is waiting to listen
  service->kill();
  auto r = redeploy.get();
  BOOST_TEST(r.status == 503, r.body);
  BOOST_TEST(testing::routed_upstream(*agent.routes, app) == routed);  // never switched
  BOOST_TEST(testing::http("GET", routed + "/").body == "hello from httpd\n");  // containers outlive the API service

  service = std::make_unique<testing::PodmanService>(socket);
  service->start();
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  reconciler.run_once();
  auto left = pc::list(agent.podman, {agent::labels::app_filter(app)});
  BOOST_REQUIRE(left.size() == 1u);
  auto c = pc::inspect(agent.podman, left[0].id);
  BOOST_TEST(c.state.running);
  BOOST_TEST(c.name == "rt-u-7-" + app);
  BOOST_TEST(testing::routed_upstream(*agent.routes, app) == "http://" + c.ip_on(agent.settings.network) + ":8080");
  BOOST_TEST(testing::http("GET", testing::routed_upstream(*agent.routes, app) + "/").body == "hello from httpd\n");
  testing::remove_app_containers(agent.podman, app);
}

BOOST_AUTO_TEST_CASE(a_read_only_routing_directory_fails_the_deploy_clearly_and_removes_the_new_container) {
  testing::TempDir routing, logs;
  testing::TmpfsMount ro(routing.path(), "ro,size=1m");
  if (!ro.mounted) {
    std::cout << "SKIPPED: mounting a read-only tmpfs needs CAP_SYS_ADMIN\n";
    return;
  }
  testing::AgentUnderTest agent(testing::test_settings(routing.path(), logs.path()));
  std::string app = testing::unique_id("f");
  auto r = agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpdImage));
  BOOST_TEST(r.status == 500, r.body);
  BOOST_TEST(json::parse(r.body)["code"] == "routing_write_failed");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("Read-only") != std::string::npos, r.body);
  BOOST_TEST(containers_of(agent.podman, app) == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_routing_directory_leaves_no_partial_file_and_the_old_route_serving) {
  testing::TempDir routing, logs;
  testing::TmpfsMount tiny(routing.path(), "size=12k");
  if (!tiny.mounted) {
    std::cout << "SKIPPED: mounting a tmpfs needs CAP_SYS_ADMIN\n";
    return;
  }
  testing::AgentUnderTest agent(testing::test_settings(routing.path(), logs.path()));
  std::string app = testing::unique_id("f");
  FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpdImage)), 200);
  std::string routed = testing::routed_upstream(*agent.routes, app);
  {
    std::ofstream filler(routing.path() + "/filler.bin");
    std::string block(1024, 'x');
    for (int i = 0; i < 64 && filler.good(); ++i) filler << block << std::flush;
  }
  auto r = agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpd2Image));
  BOOST_TEST(r.status == 500, r.body);
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("No space") != std::string::npos, r.body);
  BOOST_TEST(testing::routed_upstream(*agent.routes, app) == routed);
  BOOST_TEST(testing::http("GET", routed + "/").body == "hello from httpd\n");
  BOOST_TEST((agent.routes->list() == std::vector<std::string>{app}));
  size_t entries = 0;
  for (auto& name : {std::string("filler.bin"), traefik::RouteDir::file_name(app)}) entries += std::ifstream(routing.path() + "/" + name).good();
  BOOST_TEST(entries == 2u);
  BOOST_TEST(containers_of(agent.podman, app) == 1u);
  testing::remove_app_containers(agent.podman, app);
}

// A reconcile pass that meets an orphan route while the routing directory is read-only fails on
// that app; the app must not stay claimed (every later deploy, stop and delete of it used to wait
// forever for the claim).
BOOST_AUTO_TEST_CASE(a_reconcile_that_fails_on_an_orphan_route_leaves_the_app_free) {
  testing::TempDir routing, logs;
  testing::TmpfsMount fs(routing.path(), "size=1m");
  if (!fs.mounted) {
    std::cout << "SKIPPED: mounting a tmpfs needs CAP_SYS_ADMIN\n";
    return;
  }
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.app_lock_wait_seconds = 5;
  testing::AgentUnderTest agent(settings);
  std::string app = testing::unique_id("o");
  agent.routes->write({app, "/apps/" + app, {"http://10.255.255.1:8080"}, {}, std::nullopt, std::nullopt, std::nullopt});  // no container: an orphan
  BOOST_REQUIRE(::mount("tmpfs", routing.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m") == 0);

  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  BOOST_CHECK_THROW(reconciler.run_once(), std::exception);  // the orphan route cannot be removed
  BOOST_TEST(static_cast<bool>(agent.parts.locks.try_acquire(app)));  // free: nobody holds it

  auto answers_at_once = [&](const std::string& what, const std::string& path, const std::string& body) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = agent.call("POST", path, body, std::chrono::milliseconds(20000));
    BOOST_TEST(r.status != 0, what << ": no answer");
    BOOST_TEST(r.status != 409, what << ": " << r.body);
    // Not the 60 s a call waits for an app held by another (a leaked lock).
    BOOST_TEST(testing::seconds_since(t0) < 15.0, what << " took " << testing::seconds_since(t0) << " s: " << r.body);
    return r;
  };
  const std::string ref = R"({"userId":"7","appId":")" + app + R"("})";
  auto deploy = answers_at_once("deploy", "/agent/apps/deploy", body_for(app, testing::kHttpdImage));
  BOOST_TEST(json::parse(deploy.body)["code"] == "routing_write_failed", deploy.body);
  answers_at_once("stop", "/agent/apps/stop", ref);
  answers_at_once("delete", "/agent/apps/delete", ref);

  BOOST_REQUIRE(::mount("tmpfs", routing.path().c_str(), "tmpfs", MS_REMOUNT, "size=1m") == 0);
  FUNAI_REQUIRE_STATUS(answers_at_once("deploy", "/agent/apps/deploy", body_for(app, testing::kHttpdImage)), 200);
  FUNAI_REQUIRE_STATUS(answers_at_once("stop", "/agent/apps/stop", ref), 200);
  FUNAI_REQUIRE_STATUS(answers_at_once("delete", "/agent/apps/delete", ref), 200);
  testing::remove_app_containers(agent.podman, app);
}

// Waiting for an app that another operation holds has a limit: 409 app_busy, not a hang.
BOOST_AUTO_TEST_CASE(an_app_held_too_long_answers_app_busy_after_the_wait_limit) {
  testing::TempDir routing, logs;
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.app_lock_wait_seconds = 1;
  testing::AgentUnderTest agent(settings);
  std::string app = testing::unique_id("b");
  auto held = agent.parts.locks.acquire(app, agent::AppLocks::Holder::other, std::chrono::seconds(1));  // a stuck holder
  for (const auto& path : {"/agent/apps/stop", "/agent/apps/delete"}) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = agent.call("POST", path, R"({"userId":"7","appId":")" + app + R"("})");
    BOOST_TEST(r.status == 409, r.body);
    BOOST_TEST(json::parse(r.body)["code"] == "app_busy", r.body);
    BOOST_TEST(testing::seconds_since(t0) >= 0.9);
    BOOST_TEST(testing::seconds_since(t0) < 3.0);
  }
  auto r = agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpdImage));
  BOOST_TEST(r.status == 409, r.body);
  BOOST_TEST(json::parse(r.body)["code"] == "app_busy", r.body);
  held.release();
  FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/deploy", body_for(app, testing::kHttpdImage)), 200);
  testing::remove_app_containers(agent.podman, app);
}
