#define BOOST_TEST_MODULE sleep
// Scale to zero on real Podman: idle apps sleep (route to the waker, container stopped), the first
// request wakes them; requests follow the routing file as Traefik would (2 s throttle, the headers
// middleware), through testing::GatewaySimulator.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <future>
#include <thread>

#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/networks.h"
#include "test_support.h"

using nlohmann::json;
using testing::seconds_since;
namespace pc = podman::containers;

namespace {

struct SleepFixture {
  // idle: RUNTIME_IDLE_SLEEP_SECONDS (a large value: only the API puts apps to sleep).
  explicit SleepFixture(int idle = 3600, const std::string& wake_listen = "") : agent(settings_for(idle, wake_listen)) {
    agent.start_background();
    auto t0 = std::chrono::steady_clock::now();
    while (agent.sleeper.waker_port() == 0 && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_REQUIRE_MESSAGE(agent.sleeper.waker_port() != 0, "the waker did not start");
  }
  ~SleepFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }
  agent::Settings settings_for(int idle, const std::string& wake_listen) {
    auto s = testing::test_settings(routing.path(), logs.path());
    s.idle_sleep_seconds = idle;
    s.idle_scan_seconds = 1;
    s.wake_listen = wake_listen.empty() ? "127.0.0.1:" + std::to_string(testing::free_port()) : wake_listen == "gateway" ? "" : wake_listen;
    return s;
  }
  std::string deploy(const std::string& image = testing::kHttpdImage, std::string app = "") {
    if (app.empty()) {
      app = testing::unique_id("z");
      apps.push_back(app);
    }
    auto r = agent.call("POST", "/agent/apps/deploy", R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})");
    FUNAI_REQUIRE_STATUS(r, 200);
    return app;
  }
  json status(const std::string& app) { return json::parse(agent.call("GET", "/agent/apps/status?appId=" + app).body); }
  void sleep_now(const std::string& app) { FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/sleep", R"({"userId":"7","appId":")" + app + R"("})"), 200); }
  // Until the gateway sends the app's requests to the waker (Traefik's throttle), at most 10 s.
  void until_gateway_uses_waker(testing::GatewaySimulator& gateway) {
    auto t0 = std::chrono::steady_clock::now();
    while (gateway.applied().headers.empty() && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_REQUIRE_MESSAGE(!gateway.applied().headers.empty(), "the gateway never routed to the waker");
  }
  double wakes(const std::string& result = "woken") {
    std::string text = agent::metrics().serialize();
    std::string key = "funai_wakes_total{result=\"" + result + "\"} ";
    auto at = text.find(key);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + key.size()));
  }
  bool container_running(const std::string& app) { return pc::inspect(agent.podman, "rt-u-7-" + app).state.running; }

  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

// Raw bytes to the waker, as Traefik forwards them (with the middleware's headers); what comes back
// until the connection closes (10 s at most).
std::string raw_to_waker(int port, const std::string& app, const std::string& secret, const std::string& head_lines,
                         const std::string& body, const std::function<void(testing::RawConnection&)>& after = nullptr) {
  testing::RawConnection c(port);
  std::string bytes = head_lines + traefik::kWakeAppHeader + ": " + app + "\r\n" + traefik::kWakeSecretHeader + ": " + secret + "\r\n\r\n" + body;
  c.send(bytes);
  if (after) after(c);
  auto t0 = std::chrono::steady_clock::now();
  while (!c.closed() && seconds_since(t0) < 10) c.receive();
  return c.received();
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_idle_app_falls_asleep_and_its_first_request_wakes_it) {
  SleepFixture f(2);
  auto app = f.deploy();
  {
    // Visited: it stays awake (its network input grows at every scan), on Podman 4 and 5 alike.
    testing::GatewaySimulator visitors(*f.agent.routes, app);
    for (int i = 0; i < 12; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      BOOST_TEST(f.status(app)["sleeping"] == false);
    }
    BOOST_TEST(visitors.failed() == 0);
    BOOST_TEST(visitors.ok() > 100);
  }
  testing::GatewaySimulator gateway(*f.agent.routes, app, false);
  auto t0 = std::chrono::steady_clock::now();
  while (!f.status(app).value("sleeping", false) && seconds_since(t0) < 20) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto asleep = f.status(app);
  BOOST_TEST(asleep["sleeping"] == true, asleep.dump());
  BOOST_TEST(asleep["state"] == "sleeping");
  BOOST_TEST(asleep["running"] == false);
  BOOST_TEST(!f.container_running(app));
  BOOST_TEST(f.agent.routes->read(app)->sleeping());
  auto listed = json::parse(f.agent.call("GET", "/agent/apps").body);
  bool listed_asleep = false;
  for (const auto& a : listed["apps"]) listed_asleep |= a["appId"] == app && a["sleeping"] == true && a["state"] == "sleeping";
  BOOST_TEST(listed_asleep, listed.dump());
  // The scan sets the gauge once its stops are done, a moment after the status says asleep.
  t0 = std::chrono::steady_clock::now();
  while (agent::metrics().serialize().find("funai_apps_sleeping 1") == std::string::npos && seconds_since(t0) < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(agent::metrics().serialize().find("funai_apps_sleeping 1") != std::string::npos);

  f.until_gateway_uses_waker(gateway);
  auto woken_before = f.wakes();
  auto w0 = std::chrono::steady_clock::now();
  auto r = gateway.send("GET", "/");
  double took = seconds_since(w0);
  BOOST_TEST(r.status == 200, r.status << " " << r.body << r.error);
  BOOST_TEST(r.body == "hello from httpd\n");
  BOOST_TEST_MESSAGE("first request after sleep answered in " << took * 1000 << " ms");
  BOOST_TEST(f.wakes() == woken_before + 1);
  auto awake = f.status(app);
  BOOST_TEST(awake["running"] == true);
  BOOST_TEST(awake["sleeping"] == false);
  BOOST_TEST(!f.agent.routes->read(app)->sleeping());
}

BOOST_AUTO_TEST_CASE(twenty_concurrent_first_requests_cause_one_start_and_twenty_answers) {
  SleepFixture f;
  auto app = f.deploy();
  testing::GatewaySimulator gateway(*f.agent.routes, app, false);
  f.sleep_now(app);
  BOOST_TEST(!f.container_running(app));
  f.until_gateway_uses_waker(gateway);
  auto started_at = pc::inspect(f.agent.podman, "rt-u-7-" + app).state.started_at;
  auto woken_before = f.wakes();
  std::vector<std::future<testing::HttpResult>> requests;
  for (int i = 0; i < 20; ++i) requests.push_back(std::async(std::launch::async, [&] { return gateway.send("GET", "/"); }));
  int answered = 0;
  for (auto& r : requests) {
    auto result = r.get();
    answered += result.status == 200 && result.body == "hello from httpd\n";
  }
  BOOST_TEST(answered == 20);
  BOOST_TEST(f.wakes() == woken_before + 1);
  BOOST_TEST(pc::inspect(f.agent.podman, "rt-u-7-" + app).state.started_at != started_at);
}

BOOST_AUTO_TEST_CASE(a_request_without_the_secret_from_a_container_on_the_apps_network_wakes_nothing) {
  SleepFixture f(3600, "gateway");
  auto app = f.deploy();
  f.sleep_now(app);
  auto gateway_ip = podman::networks::inspect(f.agent.podman, f.agent.settings.network).gateways.at(0);
  BOOST_TEST(f.agent.routes->read(app)->upstreams.front() == "http://" + gateway_ip + ":7006");
  auto woken_before = f.wakes();
  // Another app's container on the same network tries: a guessed secret, then none.
  std::string dir = testing::podman_fixture_dir();
  std::string podman = "CONTAINERS_CONF=" + dir + "/containers.conf " + dir + "/podman --root " + dir + "/root --runroot " + dir +
                       "/run --tmpdir " + dir + "/tmp";
  for (const std::string& secret_line : {std::string("X-Funai-Wake-Secret: guessed0123456789\\r\\n"), std::string("")}) {
    std::string request = "GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Funai-Wake-App: " + app + "\\r\\n" + secret_line + "\\r\\n";
    std::string command = podman + " run --rm --network " + f.agent.settings.network + " " + testing::kHttpdImage +
                          " sh -c 'printf \"" + request + "\" | nc -w 5 " + gateway_ip + " 7006' 2>&1";
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    char buf[512];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
    BOOST_TEST(out.rfind("HTTP/1.1 403", 0) == 0u, "the waker answered: " << out);
  }
  BOOST_TEST(f.wakes() == woken_before);
  BOOST_TEST(!f.container_running(app));
  BOOST_TEST(f.status(app)["sleeping"] == true);
}

BOOST_AUTO_TEST_CASE(a_post_with_a_body_and_a_websocket_upgrade_are_relayed_during_a_wake) {
  SleepFixture f;
  auto app = f.deploy(testing::kEchoImage);
  int port = f.agent.sleeper.waker_port();
  std::string secret = f.agent.sleeper.secret();

  f.sleep_now(app);
  std::string body = R"({"hello":"world","n":12345})";
  std::string echoed = raw_to_waker(port, app, secret,
                                    "POST /submit HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: " +
                                        std::to_string(body.size()) + "\r\n",
                                    body, [](testing::RawConnection& c) { c.finish_sending(); });
  // The echo app answers with what it got: the request as relayed.
  BOOST_TEST(echoed.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, echoed);
  BOOST_TEST(echoed.find("\r\n\r\nPOST /submit HTTP/1.1\r\n") != std::string::npos, echoed);
  BOOST_TEST(echoed.find(body) != std::string::npos);
  BOOST_TEST(echoed.find("Connection: close") != std::string::npos);
  BOOST_TEST(echoed.find(traefik::kWakeSecretHeader) == std::string::npos, "the app must never see the secret: " << echoed);
  BOOST_TEST(echoed.find(secret) == std::string::npos);
  BOOST_TEST(f.container_running(app));

  f.sleep_now(app);
  BOOST_TEST(!f.container_running(app));
  std::string frames;
  std::string upgraded = raw_to_waker(port, app, secret,
                                      "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
                                      "", [&](testing::RawConnection& c) {
                                        // Bytes both ways after the head, over time, as a WebSocket sends them.
                                        for (int i = 0; i < 3; ++i) {
                                          std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                          c.send("frame-" + std::to_string(i) + ";");
                                        }
                                        auto t0 = std::chrono::steady_clock::now();
                                        while (c.received().find("frame-2;") == std::string::npos && seconds_since(t0) < 10) c.receive();
                                        frames = c.received();
                                        c.finish_sending();
                                      });
  // The echo app switches protocols and sends back the request it got: the upgrade went through
  // (the relay keeps Upgrade and "Connection: Upgrade" for it), then the frames, both ways.
  BOOST_TEST(frames.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0u, frames);
  BOOST_TEST(frames.find("\r\n\r\nGET /ws HTTP/1.1\r\n") != std::string::npos, frames);
  BOOST_TEST(frames.find("\r\nUpgrade: websocket\r\n") != std::string::npos);
  BOOST_TEST(frames.find("Connection: Upgrade\r\n") != std::string::npos, frames);
  BOOST_TEST(frames.find("frame-0;frame-1;frame-2;") != std::string::npos, frames);
  BOOST_TEST(frames.find(secret) == std::string::npos);
  BOOST_TEST(frames.find("Connection: close") == std::string::npos, frames);
  (void)upgraded;
}

BOOST_AUTO_TEST_CASE(an_app_that_crashes_on_wake_gets_503_and_works_again_after_a_fixed_deploy) {
  SleepFixture f;
  auto app = f.deploy(testing::kCrashOnWakeImage);
  testing::GatewaySimulator gateway(*f.agent.routes, app, false);
  f.sleep_now(app);
  f.until_gateway_uses_waker(gateway);
  auto r = gateway.send("GET", "/");
  BOOST_TEST(r.status == 503, r.status << " " << r.body);
  BOOST_TEST(r.headers.count("Retry-After") == 1u);
  BOOST_TEST(f.status(app)["sleeping"] == true);  // still asleep: the next request tries again
  // Counted as a wake that found the app exited: by its exit, its restart count or, where Podman
  // restarts it between two looks (seen on Podman 5), its new start time.
  BOOST_TEST(f.wakes("app_exited") >= 1, "app_exited " << f.wakes("app_exited") << ", app_not_ready " << f.wakes("app_not_ready"));

  f.deploy(testing::kHttpdImage, app);
  BOOST_TEST(f.status(app)["running"] == true);
  auto t0 = std::chrono::steady_clock::now();
  while (!gateway.applied().headers.empty() && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto fixed = gateway.send("GET", "/");
  BOOST_TEST(fixed.status == 200);
  BOOST_TEST(fixed.body == "hello from httpd\n");
}

BOOST_AUTO_TEST_CASE(an_app_asleep_when_the_agent_is_killed_still_sleeps_after_the_restart_and_wakes_on_request) {
  testing::TempDir routing, logs;
  int port = testing::free_port();
  auto env = testing::agent_env(port, "sleep-token", routing.path(), logs.path());
  env["RUNTIME_IDLE_SLEEP_SECONDS"] = "3600";
  env["RUNTIME_IDLE_SCAN_SECONDS"] = "1";
  env["RUNTIME_RECONCILE_SECONDS"] = "1";
  env["RUNTIME_WAKE_LISTEN"] = "127.0.0.1:" + std::to_string(testing::free_port());
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", "sleep-token"}, {"Content-Type", "application/json"}};
  std::string app = testing::unique_id("zk");
  podman::Client podman(testing::podman_socket());
  {
    testing::AgentProcess agent(env, port);
    FUNAI_REQUIRE_STATUS(testing::http("POST", agent.url("/agent/apps/deploy"),
                                       R"({"userId":"7","appId":")" + app + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})",
                                       headers),
                         200);
    FUNAI_REQUIRE_STATUS(testing::http("POST", agent.url("/agent/apps/sleep"), R"({"userId":"7","appId":")" + app + R"("})", headers), 200);
    ::kill(agent.pid(), SIGKILL);
    agent.wait();
  }
  // Down long enough that a full reconcile pass would start any other stopped container.
  std::this_thread::sleep_for(std::chrono::seconds(11));
  traefik::RouteDir routes(routing.path());
  testing::GatewaySimulator gateway(routes, app, false);
  {
    testing::AgentProcess agent(env, port);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // start-up reconcile and passes every second
    BOOST_TEST(!pc::inspect(podman, "rt-u-7-" + app).state.running);
    auto status = json::parse(testing::http("GET", agent.url("/agent/apps/status?appId=" + app), "", headers).body);
    BOOST_TEST(status["sleeping"] == true, status.dump());
    auto r = gateway.send("GET", "/");
    BOOST_TEST(r.status == 200, r.status << " " << r.body);
    BOOST_TEST(r.body == "hello from httpd\n");
  }
  testing::remove_app_containers(podman, app);
}

BOOST_AUTO_TEST_CASE(a_sleeping_route_follows_a_new_wake_secret_and_waker_address_and_wakes_when_scale_to_zero_is_off) {
  // Before: after a new RUNTIME_WAKE_SECRET, a new waker address or RUNTIME_IDLE_SLEEP_SECONDS=0,
  // every sleeping app answered 403 or 502 until it was woken by hand.
  SleepFixture first;
  std::string app = first.deploy();
  first.sleep_now(app);
  auto before = *first.agent.routes->read(app);
  BOOST_REQUIRE(before.sleeping());
  BOOST_REQUIRE(before.wake_deploy.has_value());
  first.agent.stop(std::chrono::seconds(1));

  // The next agent on this node: another secret, another waker port.
  auto s = testing::test_settings(first.routing.path(), first.logs.path());
  s.idle_sleep_seconds = 3600;
  s.wake_listen = "127.0.0.1:" + std::to_string(testing::free_port());
  s.wake_secret = "NewSecretOfTheNode0123456789";
  {
    testing::AgentUnderTest next(s);
    next.sleeper.start();
    auto t0 = std::chrono::steady_clock::now();
    while (next.sleeper.waker_port() == 0 && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_REQUIRE(next.sleeper.waker_port() != 0);
    next.reconciler.run_once();
    auto now = *next.routes->read(app);
    BOOST_TEST(now.sleeping());
    BOOST_TEST(*now.wake_secret == "NewSecretOfTheNode0123456789");
    BOOST_TEST(now.upstreams == std::vector<std::string>{"http://127.0.0.1:" + std::to_string(next.sleeper.waker_port())});
    BOOST_TEST(now.wake_deploy.value_or("") == before.wake_deploy.value_or("-"));
    BOOST_TEST(!first.container_running(app));  // still asleep
    // A request as Traefik now sends it wakes the app.
    auto answer = raw_to_waker(next.sleeper.waker_port(), app, "NewSecretOfTheNode0123456789", "GET / HTTP/1.1\r\nHost: gw\r\n", "");
    BOOST_TEST(answer.find("200 OK") != std::string::npos, answer);
    next.sleeper.stop();
  }
}

BOOST_AUTO_TEST_CASE(with_scale_to_zero_turned_off_a_full_pass_wakes_a_sleeping_app_and_routes_it) {
  SleepFixture first;
  std::string app = first.deploy();
  first.sleep_now(app);
  first.agent.stop(std::chrono::seconds(1));
  auto s = testing::test_settings(first.routing.path(), first.logs.path());
  s.idle_sleep_seconds = 0;  // scale to zero off
  testing::AgentUnderTest off(s);
  off.reconciler.start_stopped_after = std::chrono::milliseconds(0);
  off.reconciler.run_once();
  auto route = *off.routes->read(app);
  BOOST_TEST(!route.sleeping());
  BOOST_TEST(first.container_running(app));
  auto r = testing::http("GET", route.upstreams.front() + "/");
  BOOST_TEST(r.status == 200, r.status << " " << r.body);
}
