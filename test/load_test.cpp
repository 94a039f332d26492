#define BOOST_TEST_MODULE load
// Load on the agent binary: 200 concurrent status callers for FUNAI_LOAD_SECONDS (30), 20
// concurrent deploys of different apps, and its memory before and after.
#include <boost/test/unit_test.hpp>
#include <future>
#include <thread>

#include "base/app_labels.h"
#include "podman/containers.h"
#include "test_support.h"

using nlohmann::json;
using testing::seconds_since;

BOOST_AUTO_TEST_CASE(two_hundred_status_callers_and_twenty_concurrent_deploys_with_no_error_and_no_leak) {
  testing::TempDir routing, logs;
  int port = testing::free_port();
  auto env = testing::agent_env(port, "load-token", routing.path(), logs.path());
  testing::AgentProcess agent(env, port);
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", "load-token"}, {"Content-Type", "application/json"}};
  std::string app = testing::unique_id("load");
  auto deploy = [&](const std::string& id) {
    return testing::http("POST", agent.url("/agent/apps/deploy"),
                         R"({"userId":"7","appId":")" + id + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})", headers);
  };
  FUNAI_REQUIRE_STATUS(deploy(app), 200);
  // Warm up with the same concurrency (the thread pool grows to its size), then the baseline figure:
  // what grows after that is what the load leaves behind.
  {
    std::vector<std::thread> warm;
    for (int t = 0; t < 200; ++t)
      warm.emplace_back([&] {
        for (int i = 0; i < 20; ++i) testing::http("GET", agent.url("/agent/apps/status?appId=" + app), "", headers);
      });
    for (auto& w : warm) w.join();
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long before = testing::rss_kb(agent.pid());

  int seconds = std::getenv("FUNAI_LOAD_SECONDS") ? std::atoi(std::getenv("FUNAI_LOAD_SECONDS")) : 30;
  std::atomic<bool> stop{false};
  std::atomic<long> ok{0}, failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 200; ++t)
    callers.emplace_back([&, t] {
      std::string query = t % 2 ? "/agent/apps/status?appId=" + app : "/agent/apps/status?appId=" + app + "&userId=7";
      while (!stop) {
        auto r = testing::http("GET", agent.url(query), "", headers, std::chrono::milliseconds(10000));
        if (r.status == 200 && json::parse(r.body, nullptr, false).value("running", false)) ++ok;
        else ++failed;
      }
    });
  // Meanwhile, 20 concurrent deploys of different apps.
  std::this_thread::sleep_for(std::chrono::seconds(std::min(5, seconds / 3)));
  std::vector<std::string> apps;
  std::vector<std::future<testing::HttpResult>> deploys;
  for (int i = 0; i < 20; ++i) {
    apps.push_back(testing::unique_id("ld"));
    deploys.push_back(std::async(std::launch::async, [&, id = apps.back()] { return deploy(id); }));
  }
  int deployed = 0;
  for (auto& d : deploys) {
    auto r = d.get();
    deployed += r.status == 200;
    if (r.status != 200) BOOST_TEST_MESSAGE("deploy failed: " << r.status << " " << r.body << r.error);
  }
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < seconds - std::min(5, seconds / 3)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (auto& c : callers) c.join();

  BOOST_TEST(deployed == 20);
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(ok.load() > 1000);
  BOOST_TEST_MESSAGE("status answers: " << ok.load() << " in " << seconds << " s (" << ok.load() / seconds << "/s), failed " << failed.load());

  // The 20 apps stopped again; then the memory, once the load is gone.
  for (const auto& id : apps)
    testing::http("POST", agent.url("/agent/apps/stop"), R"({"userId":"7","appId":")" + id + R"("})", headers);
  for (int i = 0; i < 200; ++i) testing::http("GET", agent.url("/agent/apps/status?appId=" + app), "", headers);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long after = testing::rss_kb(agent.pid());
  BOOST_TEST_MESSAGE("agent RSS before " << before << " KiB, after " << after << " KiB");
#ifdef FUNAI_SANITIZED
  BOOST_TEST_MESSAGE("memory check skipped: AddressSanitizer's quarantine keeps freed memory by design; "
                     "leaks are checked by LeakSanitizer when the agent exits below");
#else
  BOOST_TEST(after <= before * 12 / 10, "RSS grew from " << before << " to " << after << " KiB");
#endif
  BOOST_TEST(testing::http("GET", agent.url("/internal/health")).status == 200);
  // SIGTERM: a graceful stop with exit code 0 (under the sanitizers, also no leak reported).
  BOOST_TEST(agent.terminate() == 0);
  podman::Client podman(testing::podman_socket());
  testing::remove_app_containers(podman, app);
  for (const auto& id : apps) testing::remove_app_containers(podman, id);
}
