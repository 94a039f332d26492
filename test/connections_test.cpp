#define BOOST_TEST_MODULE connections
// Many connections on the agent binary: slow-header (slowloris) and idle keep-alive clients by
// the thousand must not lock out the Runner, nor cost threads; and the connection cap.

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <thread>

#include "test_support.h"

using nlohmann::json;
using testing::seconds_since;

namespace {

const std::string kToken = "conn-token";

int thread_count(int pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) ++n;
  return n;
}

// funai_http_connections from /metrics.
double metric(const testing::AgentProcess& agent, const std::string& name) {
  auto r = testing::http("GET", agent.url("/metrics"));
  auto at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_thousand_slow_and_a_thousand_idle_connections_do_not_lock_out_the_runner_nor_cost_threads) {
  testing::make_room_for_descriptors(6000);
  testing::TempDir routing, logs;
  int port = testing::free_port();
  auto env = testing::agent_env(port, kToken, routing.path(), logs.path());
  testing::AgentProcess agent(env, port);
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", kToken}, {"Content-Type", "application/json"}};
  std::string app = testing::unique_id("conn");
  std::string deploy_body = R"({"userId":"7","appId":")" + app + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})";
  // Warm up: a deploy and a redeploy (their background work included), then the thread count.
  FUNAI_REQUIRE_STATUS(testing::http("POST", agent.url("/agent/apps/deploy"), deploy_body, headers), 200);
  FUNAI_REQUIRE_STATUS(testing::http("POST", agent.url("/agent/apps/deploy"), deploy_body, headers), 200);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int threads_before = thread_count(agent.pid());

  // 1000 slowloris clients: a request line and part of a header, then one byte a second.
  std::vector<std::unique_ptr<testing::RawConnection>> slow, idle;
  auto slow_started = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(std::make_unique<testing::RawConnection>(port));
    BOOST_REQUIRE_MESSAGE(slow.back()->connected(), "slow connection " << i << " was not accepted");
    slow.back()->send("GET /internal/health HTTP/1.1\r\nHost: agent\r\nX-Slow: ");
  }
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    while (trickling) {
      for (auto& c : slow) c->send("a");
      for (int i = 0; i < 10 && trickling; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // 1000 keep-alive clients that made one request and now wait.
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<testing::RawConnection>(port));
    BOOST_REQUIRE_MESSAGE(idle.back()->connected(), "idle connection " << i << " was not accepted");
    idle.back()->send("GET /internal/health HTTP/1.1\r\nHost: agent\r\n\r\n");
  }
  int answered = 0;
  for (auto& c : idle) {
    for (int i = 0; i < 10 && c->received().find("\r\n\r\n") == std::string::npos && c->receive();) ++i;
    answered += c->received().rfind("HTTP/1.1 200", 0) == 0 ? 1 : 0;
  }
  BOOST_TEST(answered == 1000);
  double open = metric(agent, "funai_http_connections");
  BOOST_TEST(open >= 2000, "connections the agent holds: " << open);

  // The Runner's calls, on fresh connections.
  auto t0 = std::chrono::steady_clock::now();
  auto health = testing::http("GET", agent.url("/internal/health"), "", {}, std::chrono::milliseconds(2000));
  BOOST_TEST(health.status == 200, health.error);
  BOOST_TEST(seconds_since(t0) < 2.0);
  t0 = std::chrono::steady_clock::now();
  auto status = testing::http("GET", agent.url("/agent/apps/status?appId=" + app), "", headers, std::chrono::milliseconds(2000));
  BOOST_TEST(status.status == 200, status.error);
  BOOST_TEST(seconds_since(t0) < 2.0);
  FUNAI_REQUIRE_STATUS(testing::http("POST", agent.url("/agent/apps/deploy"), deploy_body, headers), 200);
  int threads_during = thread_count(agent.pid());
  BOOST_TEST(threads_during <= threads_before, "threads before: " << threads_before << ", with 2000 connections open: " << threads_during);

  // The slow ones get 408 at the head deadline (10 s of their accept), then the connection closes.
  auto all_slow_done = [&] {
    for (auto& c : slow) {
      c->nonblocking_receive();
      if (!c->closed()) return false;
    }
    return true;
  };
  while (!all_slow_done() && seconds_since(slow_started) < 16) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double slow_closed_after = seconds_since(slow_started);
  trickling = false;
  trickle.join();
  int with_408 = 0, closed = 0;
  for (auto& c : slow) {
    with_408 += c->received().rfind("HTTP/1.1 408", 0) == 0 && c->received().find("\"code\":\"request_timeout\"") != std::string::npos;
    closed += c->closed();
  }
  BOOST_TEST(with_408 == 1000, "slow connections answered 408 request_timeout: " << with_408 << "; one answer: " << slow.front()->received());
  BOOST_TEST(closed == 1000);
  BOOST_TEST(slow_closed_after >= 9.5);
  BOOST_TEST(slow_closed_after < 16.0);
  // The idle ones were closed at the keep-alive timeout (5 s), long before.
  int idle_closed = 0;
  for (auto& c : idle) {
    c->nonblocking_receive();
    idle_closed += c->closed();
  }
  BOOST_TEST(idle_closed == 1000);
  // The agent held the answered slow ones only to drop what they still sent (lingering close):
  // once the clients close too, nothing is left.
  slow.clear();
  idle.clear();
  auto t_close = std::chrono::steady_clock::now();
  while (metric(agent, "funai_http_connections") > 1 && seconds_since(t_close) < 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST(metric(agent, "funai_http_connections") <= 1);
  podman::Client podman(testing::podman_socket());
  testing::remove_app_containers(podman, app);
}

BOOST_AUTO_TEST_CASE(past_the_connection_cap_a_new_connection_is_closed_at_once_and_counted) {
  testing::TempDir routing, logs;
  int port = testing::free_port();
  auto env = testing::agent_env(port, kToken, routing.path(), logs.path());
  env["RUNTIME_MAX_CONNECTIONS"] = "16";
  testing::AgentProcess agent(env, port);
  double refused_before = metric(agent, "funai_http_connections_refused_total");
  BOOST_TEST(refused_before == 0);
  {
    std::vector<std::unique_ptr<testing::RawConnection>> held;
    for (int i = 0; i < 16; ++i) held.push_back(std::make_unique<testing::RawConnection>(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all accepted by the loop
    testing::RawConnection extra(port);
    BOOST_TEST(extra.connected());  // the kernel's backlog took it; the agent closes it
    auto t0 = std::chrono::steady_clock::now();
    while (!extra.closed() && seconds_since(t0) < 2) extra.receive();
    BOOST_TEST(extra.closed());
    BOOST_TEST(extra.received().empty());
  }
  // The held ones are gone: the agent answers again, and counted the refusal.
  auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  while (status != 200 && seconds_since(t0) < 3) {
    status = testing::http("GET", agent.url("/internal/health"), "", {}, std::chrono::milliseconds(500)).status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(status == 200);
  BOOST_TEST(metric(agent, "funai_http_connections_refused_total") >= 1);
}
