// The reconciler: full passes, event-driven passes, the events stream.
#define BOOST_TEST_MODULE reconciler
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

// ---------------------------------------------------------------------------------- reconcile

BOOST_FIXTURE_TEST_CASE(reconcile_removes_routes_of_apps_without_containers_and_leftover_temporaries, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string live = new_app();
  deploy(live);
  traefik::Route orphan{"orphan" + live, "/apps/orphan" + live, {"http://10.89.0.250:3000"}, {}, std::nullopt, std::nullopt, std::nullopt};
  agent.routes->write(orphan);
  std::ofstream(routing.path() + "/.funai-app-x.tmp-ABCDEF") << "half";
  std::ofstream(routing.path() + "/gateway-extra.yml") << "http: {}\n";

  auto summary = reconciler.run_once();
  BOOST_TEST(summary.routes_removed == 1);
  BOOST_TEST(summary.temporary_files_removed == 1u);
  BOOST_TEST(!agent.routes->read(orphan.app_id).has_value());
  BOOST_TEST(upstream(live) == "http://" + ip_of(live) + ":8080");
  BOOST_TEST(std::ifstream(routing.path() + "/gateway-extra.yml").good());  // foreign: untouched
  BOOST_TEST(temporary_files(routing.path()) == 0u);

  auto again = reconciler.run_once();
  BOOST_TEST(!again.changed(), again.describe());
}

BOOST_FIXTURE_TEST_CASE(reconcile_restores_a_missing_route_and_starts_a_stopped_app, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string app = new_app();
  deploy(app);
  agent.routes->remove(app);
  pc::stop(agent.podman, "rt-u-7-" + app, 1);  // as after a host reboot
  reconciler.start_stopped_after = std::chrono::milliseconds(0);  // a reboot's containers stopped long ago
  auto summary = reconciler.run_once();
  BOOST_TEST(summary.containers_started == 1);
  BOOST_TEST(summary.routes_written == 1);
  auto c = pc::inspect(agent.podman, "rt-u-7-" + app);
  BOOST_TEST(c.state.running);
  BOOST_TEST(upstream(app) == "http://" + c.ip_on(agent.settings.network) + ":8080");
  auto t0 = std::chrono::steady_clock::now();
  bool answered = false;
  while (!answered && seconds_since(t0) < 5) {
    answered = testing::http("GET", upstream(app) + "/", "", {}, std::chrono::milliseconds(500)).status == 200;
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(answered);
}

BOOST_FIXTURE_TEST_CASE(reconcile_keeps_the_routed_container_and_removes_duplicates, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string app = new_app();
  deploy(app);
  std::string routed = upstream(app);
  // A second container of the same app, newer, never routed: as a crash leaves it after the start
  // of a new version and before the route switch.
  pc::Spec spec;
  spec.name = "rt-u-7-" + app + "-next-crashed";
  spec.image = testing::kHttpd2Image;
  spec.network = agent.settings.network;
  spec.init = true;
  spec.labels = {{agent::labels::kManaged, "true"}, {agent::labels::kUserId, "7"}, {agent::labels::kAppId, app},
                 {agent::labels::kPort, "8080"},    {agent::labels::kBasePath, "/apps/" + app}, {agent::labels::kDeployId, "99999999999999999999"}};
  pc::create(agent.podman, spec);
  pc::start(agent.podman, spec.name);
  auto summary = reconciler.run_once();
  BOOST_TEST(summary.containers_removed == 1);
  auto left = pc::list(agent.podman, {agent::labels::app_filter(app)});
  BOOST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left[0].names.front() == "rt-u-7-" + app);
  BOOST_TEST(upstream(app) == routed);
}

BOOST_FIXTURE_TEST_CASE(a_full_pass_repairs_many_apps_at_once_and_counts_every_repair, AppFixture) {
  // A pass works on several apps at a time: no app may be missed, no repair lost from the summary.
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::vector<std::string> unrouted, stopped;
  for (int i = 0; i < 5; ++i) unrouted.push_back(new_app());
  for (int i = 0; i < 5; ++i) stopped.push_back(new_app());
  for (const auto& app : apps) deploy(app);
  for (const auto& app : unrouted) agent.routes->remove(app);
  for (const auto& app : stopped) pc::stop(agent.podman, "rt-u-7-" + app, 1);
  reconciler.start_stopped_after = std::chrono::milliseconds(0);  // as after a host reboot

  auto summary = reconciler.run_once();
  BOOST_TEST(summary.apps >= 10, summary.describe());
  BOOST_TEST(summary.containers_started == 5, summary.describe());
  BOOST_TEST(summary.routes_written >= 5, summary.describe());  // the stopped ones: only if their IP changed
  for (const auto& app : apps) {
    auto c = pc::inspect(agent.podman, "rt-u-7-" + app);
    BOOST_TEST(c.state.running, app);
    BOOST_TEST(upstream(app) == "http://" + c.ip_on(agent.settings.network) + ":8080", app);
  }
  auto again = reconciler.run_once();
  BOOST_TEST(!again.changed(), again.describe());
}

BOOST_FIXTURE_TEST_CASE(an_app_that_cannot_be_repaired_does_not_keep_the_others_from_being_repaired, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string broken = new_app(), fine = new_app();
  deploy(fine);
  agent.routes->remove(fine);
  // A managed container whose program does not exist: created, and every start of it fails.
  pc::Spec spec;
  spec.name = "rt-u-7-" + broken;
  spec.image = testing::kHttpdImage;
  spec.network = agent.settings.network;
  spec.labels = {{agent::labels::kManaged, "true"}, {agent::labels::kUserId, "7"}, {agent::labels::kAppId, broken},
                 {agent::labels::kPort, "8080"},    {agent::labels::kBasePath, "/apps/" + broken}, {agent::labels::kDeployId, "1"}};
  auto body = pc::to_json(spec);
  body["command"] = json::array({"/no/such/program"});
  auto created = agent.podman.send({"container create", "POST", "/containers/create", body.dump()});
  FUNAI_REQUIRE_STATUS(created, 201);

  auto summary = reconciler.run_once();
  BOOST_TEST(summary.apps_failed == 1, summary.describe());
  BOOST_TEST(upstream(fine) == "http://" + ip_of(fine) + ":8080");  // repaired all the same
  BOOST_TEST(!agent.routes->read(broken).has_value());
  BOOST_TEST(!pc::inspect(agent.podman, "rt-u-7-" + broken).state.running);
  // The next pass tries it again, and still repairs nothing else by mistake.
  auto again = reconciler.run_once();
  BOOST_TEST(again.apps_failed == 1, again.describe());
  BOOST_TEST(!again.changed(), again.describe());
}

// Within seconds, by the events stream: the full passes come every 30 s here.
BOOST_FIXTURE_TEST_CASE(a_restarted_container_with_a_new_ip_is_rerouted_by_the_events_stream, AppFixture) {
  BOOST_REQUIRE(agent.settings.reconcile_seconds >= 30);
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  reconciler.start();
  std::string app = new_app();
  deploy(app);
  std::string before = upstream(app);
  auto r = agent.podman.send({"restart", "POST", "/containers/rt-u-7-" + app + "/restart?t=1"});
  FUNAI_REQUIRE_STATUS(r, 204);
  auto t0 = std::chrono::steady_clock::now();
  std::string now_ip = ip_of(app);
  BOOST_TEST_MESSAGE("IP " << before << " -> " << now_ip);
  std::string expected = "http://" + now_ip + ":8080";
  while (upstream(app) != expected && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(upstream(app) == expected);
  BOOST_TEST_MESSAGE("rerouted " << seconds_since(t0) << " s after the restart");
  BOOST_TEST(seconds_since(t0) < 10.0);
  reconciler.stop();
}

// libpod's restart releases the container's lock while it waits for the stop: a full pass that
// inspected the container then saw it exited and started it, and the restart's own start then
// failed ("runc start ... exit status 1", a 500). Full passes leave a container that has just
// stopped to whoever stopped it.
BOOST_FIXTURE_TEST_CASE(full_passes_never_break_a_podman_restart, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string app = new_app();
  deploy(app);
  std::atomic<bool> done{false};
  std::atomic<int> passes{0};
  std::thread passer([&] {
    while (!done) {
      try {
        reconciler.run_once();
        ++passes;
      } catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("pass failed: " << e.what());
      }
    }
  });
  for (int i = 0; i < 6; ++i) {
    auto r = agent.podman.send({"restart", "POST", "/containers/rt-u-7-" + app + "/restart?t=1"});
    BOOST_CHECK_MESSAGE(r.status == 204, "restart " << i << ": " << r.status << " " << r.body);
  }
  done = true;
  passer.join();
  BOOST_TEST_MESSAGE(passes.load() << " full passes ran during the restarts");
  BOOST_TEST(passes.load() > 6);
  BOOST_TEST(pc::inspect(agent.podman, "rt-u-7-" + app).state.running);
}

BOOST_AUTO_TEST_CASE(the_events_stream_reconnects_after_podman_restarts) {
  testing::TempDir run, routing, logs;
  auto service = std::make_unique<testing::PodmanService>(run.path() + "/podman.sock");
  service->start();
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.podman_socket = service->endpoint();
  testing::AgentUnderTest agent(settings);
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  reconciler.start();
  std::string app = testing::unique_id("ev");
  auto r = agent.call("POST", "/agent/apps/deploy",
                      R"({"userId":"7","appId":")" + app + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})");
  FUNAI_REQUIRE_STATUS(r, 200);

  auto connected_within = [&](double seconds) {
    auto t = std::chrono::steady_clock::now();
    while (!reconciler.events_connected() && seconds_since(t) < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return reconciler.events_connected();
  };
  BOOST_REQUIRE(connected_within(5));
  service->kill();  // the stream breaks; the reconciler retries with backoff
  auto t_kill = std::chrono::steady_clock::now();
  while (reconciler.events_connected() && seconds_since(t_kill) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_REQUIRE(!reconciler.events_connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  service = std::make_unique<testing::PodmanService>(run.path() + "/podman.sock");
  service->start();
  // Backoff doubles from 0.5 s up to 30 s: after 1.5 s down the next tries come within 4 s.
  BOOST_REQUIRE_MESSAGE(connected_within(10), "the events stream did not reconnect within 10 s");

  auto restarted = agent.podman.send({"restart", "POST", "/containers/rt-u-7-" + app + "/restart?t=1"});
  FUNAI_REQUIRE_STATUS(restarted, 204);
  auto t0 = std::chrono::steady_clock::now();
  std::string expected = "http://" + pc::inspect(agent.podman, "rt-u-7-" + app).ip_on(agent.settings.network) + ":8080";
  while (testing::routed_upstream(*agent.routes, app) != expected && seconds_since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(testing::routed_upstream(*agent.routes, app) == expected);
  BOOST_TEST(seconds_since(t0) < 10.0);
  reconciler.stop();
  testing::remove_app_containers(agent.podman, app);
}
