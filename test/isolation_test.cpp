#define BOOST_TEST_MODULE isolation
// Tenant isolation on real Podman, tried from inside a deployed app's container as a hostile app
// would (libpod's exec): its root is not the node's root, it holds no raw-socket, device-node or
// audit capability and gains no privilege through setuid, and memory, processes, CPU and its log
// are bounded by default. Nothing in its image or its deploy request loosens that.
#include <boost/test/unit_test.hpp>
#include <thread>

#include "podman/containers.h"
#include "in_container.h"
#include "test_support.h"

using nlohmann::json;
namespace pc = podman::containers;
using testing::exec_in;
using testing::status_field;

namespace {

struct IsolationFixture {
  IsolationFixture() : agent(testing::test_settings(routing.path(), logs.path())) {}
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

BOOST_FIXTURE_TEST_SUITE(isolation, IsolationFixture)

BOOST_AUTO_TEST_CASE(an_app_holds_no_raw_socket_capability_and_gains_no_privilege) {
  std::string name = deploy();
  std::string status = exec_in(agent.podman, name, {"cat", "/proc/self/status"});
  BOOST_TEST(status_field(status, "NoNewPrivs") == "1", status);
  unsigned long long effective = std::stoull(status_field(status, "CapEff"), nullptr, 16);
  BOOST_TEST((effective & (1ULL << 13)) == 0u, "CAP_NET_RAW held: CapEff " << status_field(status, "CapEff"));
  BOOST_TEST((effective & (1ULL << 27)) == 0u, "CAP_MKNOD held");
  BOOST_TEST((effective & (1ULL << 29)) == 0u, "CAP_AUDIT_WRITE held");
  // The attack itself: a raw socket (ARP spoofing on the bridge every app shares) and a device node.
  std::string ping = exec_in(agent.podman, name, {"busybox", "ping", "-c", "1", "-W", "1", "127.0.0.1"});
  BOOST_TEST(ping.find("1 packets received") == std::string::npos, "a raw ICMP socket was opened: " << ping);
  std::string mknod = exec_in(agent.podman, name, {"sh", "-c", "busybox mknod /tmp/sda b 8 0 && echo MADE"});
  BOOST_TEST(mknod.find("MADE") == std::string::npos, mknod);
}

BOOST_AUTO_TEST_CASE(memory_processes_cpu_and_the_log_are_limited_by_default) {
  std::string name = deploy();
  auto inspected = json::parse(agent.podman.get("inspect", "/containers/" + name + "/json").body);
  const auto& host = inspected["HostConfig"];
  BOOST_TEST(host["Memory"].get<int64_t>() == 512LL << 20);
  BOOST_TEST(host["PidsLimit"].get<int64_t>() == 512);
  BOOST_TEST(host["NanoCpus"].get<int64_t>() == 1000000000LL);
  BOOST_TEST(host["LogConfig"]["Size"].get<std::string>() != "0B", host["LogConfig"].dump());
  // From inside, the next case: a memory hog and a fork loop meet these limits.
}

// A memory hog and a fork loop inside one app: each stopped by that app's limit, while the app
// itself and its neighbour keep answering.
BOOST_AUTO_TEST_CASE(a_memory_hog_and_a_fork_loop_are_stopped_by_their_limits_while_a_neighbour_answers) {
  agent.settings.app_memory = 64LL << 20;
  agent.settings.app_pids_limit = 64;
  std::string hostile = deploy(), neighbour = deploy();
  auto answers = [&](const std::string& app) {
    auto route = agent.routes->read(app);
    return route && testing::http("GET", route->upstreams.front() + "/", "", {}, std::chrono::milliseconds(3000)).status == 200;
  };
  // Doubles a string until the kernel stops it: past 64 MiB the cgroup's OOM killer ends it.
  std::string hog = exec_in(agent.podman, hostile, {"sh", "-c", "x=aaaaaaaa; while :; do x=$x$x; done; echo SURVIVED"});
  BOOST_TEST(hog.find("SURVIVED") == std::string::npos, hog);
  // Forks until it cannot: the pids limit says no at 64 processes.
  std::string forks = exec_in(agent.podman, hostile,
                              {"sh", "-c", "i=0; while [ $i -lt 200 ]; do sleep 3 & i=$((i+1)); done 2>&1 | head -1; echo forked $i"});
  // busybox sh says "can't fork", Podman 5's exec reports "Cannot fork".
  BOOST_TEST((forks.find("can't fork") != std::string::npos || forks.find("Cannot fork") != std::string::npos), forks);
  BOOST_TEST(answers(apps[1]), "the neighbour stopped answering");
  // The app itself, once its own sleeps have ended (its server forks per connection too).
  auto t0 = std::chrono::steady_clock::now();
  while (!answers(apps[0]) && testing::seconds_since(t0) < 15) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(answers(apps[0]), "the app itself stopped answering after its hog was killed");
}

BOOST_AUTO_TEST_SUITE_END()
