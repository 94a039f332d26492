// The heartbeat to the Deploy plane, and the node when Podman is down and back.
#define BOOST_TEST_MODULE heartbeat
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <thread>

#include "base/app_labels.h"
#include "node/heartbeat.h"
#include "node/node_health.h"
#include "podman/containers.h"
#include "podman/system.h"
#include "test_support.h"

#include "app_fixture.h"
#include "heartbeat_receiver.h"

namespace pc = podman::containers;
using nlohmann::json;
using testing::AppFixture;
using testing::HeartbeatReceiver;
using testing::seconds_since;

namespace {


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
  auto all_managed = pc::list(podman, {agent::labels::managed_filter()}, true).size();
  BOOST_TEST(first.body["appCount"].get<size_t>() == all_managed);
  BOOST_TEST(first.body.size() == 7u);

  heartbeat.trigger();
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
    // A call that waited for the heartbeat would take what is left of its 3 s hang.
    BOOST_TEST(seconds_since(t0) < 2.0);
  }
  t0 = std::chrono::steady_clock::now();
  deploy(app);  // triggers a heartbeat that will hang
  BOOST_TEST(seconds_since(t0) < 2.9, "a deploy that waited for its heartbeat would take 3 s more");
  heartbeat.stop();
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
  auto deep = agent.call("GET", "/internal/health?deep=1");
  BOOST_TEST(deep.status == 503);
  BOOST_TEST(json::parse(deep.body)["podman"]["reachable"] == false);
  BOOST_TEST(json::parse(deep.body)["routing"]["writable"] == true);
  BOOST_TEST(!health.check().ok);

  // Podman comes up on that socket (a second API service over the fixture's storage).
  testing::PodmanService service(socket);
  service.start();
  t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 10 && agent.call("GET", "/agent/apps/status?appId=x1").status != 200)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto back = agent.call("GET", "/agent/apps/status?appId=x1");
  BOOST_TEST(back.status == 200);
  BOOST_TEST(json::parse(back.body)["exists"] == false);
  auto healthy = agent.call("GET", "/internal/health?deep=1");
  BOOST_TEST(healthy.status == 200);
  BOOST_TEST(json::parse(healthy.body)["podman"]["version"].get<std::string>() == testing::podman_fixture_version());
  BOOST_TEST(health.check().ok);
}
