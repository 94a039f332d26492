#define BOOST_TEST_MODULE lifecycle
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <thread>

#include "app_labels.h"
#include "heartbeat.h"
#include "node_health.h"
#include "podman/containers.h"
#include "podman/system.h"
#include "reconciler.h"
#include "test_support.h"

namespace pc = podman::containers;
using nlohmann::json;
using testing::seconds_since;

namespace {

// A stand-in for the Deploy control plane's heartbeat endpoint: records what it receives.
class HeartbeatReceiver {
 public:
  struct Received {
    std::string method, path, token;
    json body;
  };

  HeartbeatReceiver() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~HeartbeatReceiver() { server_->stopAll(true); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(m_);
    return received_;
  }
  bool wait_for(size_t count, double seconds) {
    auto t0 = std::chrono::steady_clock::now();
    while (received().size() < count && seconds_since(t0) < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return received().size() >= count;
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(HeartbeatReceiver& r) : r_(r) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
      std::string body;
      Poco::StreamCopier::copyToString(req.stream(), body);
      {
        std::lock_guard<std::mutex> lock(r_.m_);
        r_.received_.push_back({req.getMethod(), req.getURI(), req.get("X-RT-Node-Token", ""), json::parse(body, nullptr, false)});
      }
      resp.setContentType("application/json");
      resp.send() << "{\"ok\":true}";
    }
    HeartbeatReceiver& r_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(HeartbeatReceiver& r) : r_(r) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override { return new Handler(r_); }
    HeartbeatReceiver& r_;
  };

  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::mutex m_;
  std::vector<Received> received_;
};

// Accepts connections and never answers: a control plane that hangs.
class SilentServer {
 public:
  SilentServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }

 private:
  Poco::Net::ServerSocket socket_;  // the kernel completes handshakes into the backlog
};

agent::Settings heartbeat_settings(const std::string& target) {
  auto s = testing::test_settings("/tmp", "/tmp");
  s.deploy_base_url = target;
  s.deploy_node_token = "node-token-1";
  s.node_agent_base_url = "http://10.0.0.21:7005";
  s.node_gateway_base_url = "https://rt1.example.com";
  s.node_name = "rt-node-test";
  s.heartbeat_seconds = 1;
  return s;
}

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
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::string upstream(const std::string& app) { return testing::routed_upstream(*agent.routes, app); }
  std::string ip_of(const std::string& app) {
    return pc::inspect(agent.podman, "rt-u-7-" + app).ip_on(agent.settings.network);
  }
  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

size_t temporary_files(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += std::string(e->d_name).find(".tmp-") != std::string::npos;
  closedir(d);
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------- heartbeat

BOOST_AUTO_TEST_CASE(heartbeat_posts_every_field_with_the_node_token_at_start_and_on_trigger) {
  HeartbeatReceiver receiver;
  auto settings = heartbeat_settings(receiver.url() + "/");
  settings.heartbeat_seconds = 60;
  podman::Client podman(settings.podman_socket);
  agent::Heartbeat heartbeat(settings, podman);
  BOOST_REQUIRE(heartbeat.enabled());
  heartbeat.start();
  BOOST_REQUIRE(receiver.wait_for(1, 5));
  auto first = receiver.received().front();
  BOOST_TEST(first.method == "POST");
  BOOST_TEST(first.path == "/internal/runtime-nodes/heartbeat");
  BOOST_TEST(first.token == "node-token-1");
  BOOST_TEST(first.body["nodeName"] == "rt-node-test");
  BOOST_TEST(first.body["agentBaseUrl"] == "http://10.0.0.21:7005");
  BOOST_TEST(first.body["gatewayBaseUrl"] == "https://rt1.example.com");
  BOOST_TEST(first.body["diskFreePct"].is_number());
  BOOST_TEST(first.body["diskFreePct"].get<double>() > 0.0);
  BOOST_TEST(first.body["diskFreePct"].get<double>() <= 100.0);
  BOOST_TEST(first.body["diskFreeBytes"].get<uint64_t>() > 0u);
  auto running_managed = pc::list(podman, {agent::labels::managed_filter()}, false).size();
  BOOST_TEST(first.body["containerCount"].get<size_t>() == running_managed);
  BOOST_TEST(first.body.size() == 6u);

  auto t0 = std::chrono::steady_clock::now();
  heartbeat.trigger();
  BOOST_TEST(seconds_since(t0) < 0.05);
  BOOST_TEST(receiver.wait_for(2, 3));
  BOOST_TEST(heartbeat.last_result()["ok"] == true);
  heartbeat.stop();
}

BOOST_AUTO_TEST_CASE(heartbeat_repeats_every_interval) {
  HeartbeatReceiver receiver;
  auto settings = heartbeat_settings(receiver.url());
  podman::Client podman(settings.podman_socket);
  agent::Heartbeat heartbeat(settings, podman);
  heartbeat.start();
  BOOST_TEST(receiver.wait_for(3, 4.5));
}

BOOST_AUTO_TEST_CASE(heartbeat_is_disabled_when_a_required_key_is_missing) {
  for (auto clear : std::vector<std::function<void(agent::Settings&)>>{
           [](agent::Settings& s) { s.deploy_base_url.clear(); }, [](agent::Settings& s) { s.deploy_node_token.clear(); },
           [](agent::Settings& s) { s.node_agent_base_url.clear(); }, [](agent::Settings& s) { s.node_gateway_base_url.clear(); }}) {
    auto settings = heartbeat_settings("http://127.0.0.1:1");
    clear(settings);
    podman::Client podman(settings.podman_socket);
    agent::Heartbeat heartbeat(settings, podman);
    BOOST_TEST(!heartbeat.enabled());
    heartbeat.start();  // a warning, no thread
    BOOST_TEST(heartbeat.last_result()["enabled"] == false);
  }
}

BOOST_AUTO_TEST_CASE(heartbeat_to_a_receiver_that_is_down_fails_fast_and_is_recorded) {
  auto settings = heartbeat_settings("http://127.0.0.1:" + std::to_string(testing::free_port()));
  podman::Client podman(settings.podman_socket);
  agent::Heartbeat heartbeat(settings, podman);
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!heartbeat.send_once());
  BOOST_TEST(seconds_since(t0) < 3.5);
  auto last = heartbeat.last_result();
  BOOST_TEST(last["ok"] == false);
  BOOST_TEST(!last["error"].get<std::string>().empty());
  BOOST_TEST(last["failed"] == 1);
}

BOOST_FIXTURE_TEST_CASE(a_hanging_receiver_never_delays_the_api, AppFixture) {
  SilentServer silent;
  auto settings = heartbeat_settings(silent.url());
  agent::Heartbeat heartbeat(settings, agent.podman);
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!heartbeat.send_once());  // gives up after its 3 s timeout
  double took = seconds_since(t0);
  BOOST_TEST(took >= 2.5);
  BOOST_TEST(took < 4.5);

  heartbeat.start();
  agent.service.on_change([&] { heartbeat.trigger(); });
  std::string app = new_app();
  for (int i = 0; i < 5; ++i) {
    t0 = std::chrono::steady_clock::now();
    BOOST_TEST(testing::http("GET", agent.url("/internal/health")).status == 200);
    BOOST_TEST(agent.call("GET", "/agent/apps/status?appId=" + app).status == 200);
    BOOST_TEST(seconds_since(t0) < 0.5);
  }
  t0 = std::chrono::steady_clock::now();
  deploy(app);  // triggers a heartbeat that will hang
  BOOST_TEST(seconds_since(t0) < 2.0);
  heartbeat.stop();
}

// ---------------------------------------------------------------------------------- reconcile

BOOST_FIXTURE_TEST_CASE(reconcile_removes_routes_of_apps_without_containers_and_leftover_temporaries, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  std::string live = new_app();
  deploy(live);
  traefik::Route orphan{"orphan" + live, "/apps/orphan" + live, {"http://10.89.0.250:3000"}, {}, std::nullopt};
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
  BOOST_REQUIRE_MESSAGE(created.status == 201, created.status << " " << created.body);

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

BOOST_FIXTURE_TEST_CASE(a_restarted_container_with_a_new_ip_is_rerouted_within_2_seconds, AppFixture) {
  agent::Reconciler reconciler(agent.settings, agent.podman, agent.routes.get(), agent.parts);
  reconciler.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the events stream is connected
  std::string app = new_app();
  deploy(app);
  std::string before = upstream(app);
  auto r = agent.podman.send({"restart", "POST", "/containers/rt-u-7-" + app + "/restart?t=1"});
  BOOST_REQUIRE_MESSAGE(r.status == 204, r.status << " " << r.body);
  auto t0 = std::chrono::steady_clock::now();
  std::string now_ip = ip_of(app);
  BOOST_TEST_MESSAGE("IP " << before << " -> " << now_ip);
  std::string expected = "http://" + now_ip + ":8080";
  while (upstream(app) != expected && seconds_since(t0) < 3) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(upstream(app) == expected);
  BOOST_TEST(seconds_since(t0) < 2.0);
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
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);

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
  BOOST_REQUIRE_MESSAGE(restarted.status == 204, restarted.status << " " << restarted.body);
  auto t0 = std::chrono::steady_clock::now();
  std::string expected = "http://" + pc::inspect(agent.podman, "rt-u-7-" + app).ip_on(agent.settings.network) + ":8080";
  while (testing::routed_upstream(*agent.routes, app) != expected && seconds_since(t0) < 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(testing::routed_upstream(*agent.routes, app) == expected);
  BOOST_TEST(seconds_since(t0) < 2.0);
  reconciler.stop();
  testing::remove_app_containers(agent.podman, app);
}

// ---------------------------------------------------------------------------------- Podman down

BOOST_AUTO_TEST_CASE(podman_down_at_start_gives_503_and_everything_works_once_it_is_back) {
  testing::TempDir run, routing, logs;
  std::string socket = run.path() + "/podman.sock";
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.podman_socket = "unix://" + socket;
  testing::AgentUnderTest agent(settings);
  agent::Heartbeat heartbeat(agent.settings, agent.podman);
  agent::NodeHealth health(agent.settings, agent.podman, agent.routes.get(), heartbeat);

  auto t0 = std::chrono::steady_clock::now();
  auto r = agent.call("GET", "/agent/apps/status?appId=x1");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().rfind("podman unavailable: ", 0) == 0u);
  BOOST_TEST(agent.call("POST", "/agent/apps/deploy", R"({"userId":"7","appId":"x1","image":"localhost/a:1"})").status == 503);
  BOOST_TEST(agent.call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"x1"})").status == 503);
  BOOST_TEST(agent.call("POST", "/agent/apps/delete", R"({"userId":"7","appId":"x1"})").status == 503);
  BOOST_TEST(seconds_since(t0) < 3.0);
  auto deep = health.deep();
  BOOST_TEST(deep.status == 503);
  BOOST_TEST(deep.body["podman"]["reachable"] == false);
  BOOST_TEST(deep.body["routing"]["writable"] == true);

  // Podman comes up on that socket (a second API service over the fixture's storage).
  testing::PodmanService service(socket);
  service.start();
  t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 10 && agent.call("GET", "/agent/apps/status?appId=x1").status != 200)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto back = agent.call("GET", "/agent/apps/status?appId=x1");
  BOOST_TEST(back.status == 200);
  BOOST_TEST(json::parse(back.body)["exists"] == false);
  BOOST_TEST(health.deep().status == 200);
  BOOST_TEST(health.deep().body["podman"]["version"].get<std::string>().rfind("4.", 0) == 0u);
}

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

