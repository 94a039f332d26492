// The Grafana dashboard and the alert rules against the real thing: Prometheus (Debian's) scrapes
// an agent every second while it deploys on the real Podman; every query of the dashboard must
// evaluate without error, the main panels must return data, and the alert rules load and evaluate.
#define BOOST_TEST_MODULE dashboard
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/URI.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "heartbeat_receiver.h"
#include "test_support.h"

using nlohmann::json;
using testing::seconds_since;

namespace {

const std::string kDashboard = FUNAI_SOURCE_DIR "/etc/grafana/fun-ai-studio-runtime.json";
const std::string kAlerts = FUNAI_SOURCE_DIR "/etc/prometheus/fun-ai-studio-runtime-alerts.yml";

// Panels an operator looks at first: each must show data once the agent has deployed.
const std::set<std::string> kMainPanels = {"Agent up",          "Podman up",        "Apps running",          "App containers",
                                           "Deploys by result", "Deploy duration",  "Apps running and total", "API requests by route",
                                           "API latency p95 by route", "Heartbeats"};

// `prometheus` on a loopback port, scraping the agent at 127.0.0.1:agent_port every second.
class Prometheus {
 public:
  explicit Prometheus(int agent_port) : port_(testing::free_port()) {
    std::ofstream(dir_.path() + "/prometheus.yml") << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                                   << "rule_files: [" << kAlerts << "]\n"
                                                   << "scrape_configs:\n  - job_name: fun-ai-studio-runtime\n"
                                                   << "    static_configs: [{targets: ['127.0.0.1:" << agent_port << "']}]\n";
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::string log = dir_.path() + "/prometheus.log";
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::string config = "--config.file=" + dir_.path() + "/prometheus.yml";
      std::string storage = "--storage.tsdb.path=" + dir_.path() + "/data";
      std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      ::execlp("prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Prometheus() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string log() const {
    std::ifstream in(dir_.path() + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // GET /api/v1/query?query=... : the "data" of a successful answer; fails the test otherwise.
  json query(const std::string& promql) const {
    std::string encoded;
    Poco::URI::encode(promql, "&+=?#/ %\"{}[]", encoded);
    auto r = testing::http("GET", "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/query?query=" + encoded);
    auto body = json::parse(r.body, nullptr, false);
    BOOST_REQUIRE_MESSAGE(r.status == 200 && body.is_object() && body.value("status", "") == "success",
                          "query " << promql << " -> HTTP " << r.status << ": " << r.body << testing::no_answer_reason(r));
    return body["data"];
  }
  json get(const std::string& path) const {
    auto r = testing::http("GET", "http://127.0.0.1:" + std::to_string(port_) + path);
    FUNAI_REQUIRE_STATUS(r, 200);
    return json::parse(r.body);
  }
  bool ready() const { return testing::http("GET", "http://127.0.0.1:" + std::to_string(port_) + "/-/ready").status == 200; }

 private:
  testing::TempDir dir_;
  int port_;
  pid_t pid_ = 0;
};

// The first sample value of an instant vector, NaN when it has none.
double first_value(const json& data) {
  if (data.value("resultType", "") != "vector" || data["result"].empty()) return NAN;
  return std::stod(data["result"][0]["value"][1].get<std::string>());
}

bool has_finite_sample(const json& data) {
  for (const auto& s : data["result"])
    if (std::isfinite(std::stod(s["value"][1].get<std::string>()))) return true;
  return false;
}

// Grafana's variables as a dashboard on one node shows them: all instances, a rate window that
// spans several 1 s scrapes.
std::string as_grafana_sends_it(std::string expr) {
  for (auto [from, to] : {std::pair<std::string, std::string>{"$__rate_interval", "1m"}, {"$instance", ".*"}}) {
    for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from, at + to.size())) expr.replace(at, from.size(), to);
  }
  return expr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_dashboard_query_evaluates_on_a_real_prometheus_and_the_main_panels_show_data) {
  std::ifstream in(kDashboard);
  json dashboard = json::parse(in);
  testing::TempDir routing, logs;
  testing::HeartbeatReceiver deploy_plane;
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.deploy_base_url = deploy_plane.url();
  settings.deploy_node_token = "dashboard-node-token";
  settings.node_agent_base_url = "http://127.0.0.1:7005";
  testing::AgentUnderTest agent(settings);
  agent.start_background();
  Prometheus prometheus(agent.port());
  auto t0 = std::chrono::steady_clock::now();
  while (!(prometheus.ready() && first_value(prometheus.query("up{job=\"fun-ai-studio-runtime\"}")) == 1) && seconds_since(t0) < 30)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_REQUIRE_MESSAGE(first_value(prometheus.query("up{job=\"fun-ai-studio-runtime\"}")) == 1,
                        "Prometheus does not scrape the agent; its log:\n" << prometheus.log());

  // The agent at work: deploys (one failing), status and list calls.
  std::vector<std::string> apps;
  for (int i = 0; i < 3; ++i) {
    apps.push_back(testing::unique_id("g"));
    auto r = agent.call("POST", "/agent/apps/deploy",
                        R"({"userId":"7","appId":")" + apps.back() + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})");
    FUNAI_REQUIRE_STATUS(r, 200);
    FUNAI_REQUIRE_STATUS(agent.call("GET", "/agent/apps/status?appId=" + apps.back()), 200);
  }
  auto bad = agent.call("POST", "/agent/apps/deploy", R"({"userId":"7","appId":")" + testing::unique_id("g") +
                                                          R"(","image":"localhost/funai-no-such-image:1","containerPort":8080})");
  BOOST_TEST(bad.status == 502, bad.body);
  FUNAI_REQUIRE_STATUS(agent.call("GET", "/agent/apps"), 200);
  // Two scrapes after the last call, so every rate sees it.
  t0 = std::chrono::steady_clock::now();
  while (first_value(prometheus.query("sum(funai_deploys_total{result=\"success\"})")) < 3 && seconds_since(t0) < 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));

  std::set<std::string> seen_main;
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    if (panel.value("type", "") == "row") continue;
    std::string title = panel.value("title", "");
    BOOST_TEST(panel["datasource"].value("uid", "") == "${datasource}", title << ": its data source is the dashboard's variable");
    bool any_data = false;
    for (const auto& target : panel["targets"]) {
      std::string expr = as_grafana_sends_it(target.value("expr", ""));
      BOOST_TEST(expr.find('$') == std::string::npos, title << ": a variable the test does not know in " << expr);
      auto data = prometheus.query(expr);
      ++queries;
      any_data |= has_finite_sample(data);
    }
    if (kMainPanels.count(title)) {
      seen_main.insert(title);
      BOOST_TEST(any_data, "the main panel '" << title << "' shows no data");
    }
  }
  BOOST_TEST(seen_main.size() == kMainPanels.size(), "every main panel is on the dashboard");
  BOOST_TEST_MESSAGE(queries << " dashboard queries evaluated");
  // What the panels show is what happened.
  BOOST_TEST(first_value(prometheus.query("sum(funai_managed_containers{state=\"running\"})")) >= 3);
  BOOST_TEST(first_value(prometheus.query("min(funai_podman_up)")) == 1);
  BOOST_TEST(first_value(prometheus.query("sum(funai_deploys_total{result!=\"success\"})")) >= 1);
  BOOST_TEST(first_value(prometheus.query("sum(funai_heartbeats_total{result=\"ok\"})")) >= 1);
  BOOST_TEST(deploy_plane.received().size() >= 1u);
  // The instance variable's query lists this agent.
  auto instances = prometheus.query("count by (instance) (funai_podman_up{job=\"fun-ai-studio-runtime\"})");
  BOOST_TEST(instances["result"].size() == 1u);

  // The alert rules, loaded by the same Prometheus, evaluate on real series without error, and
  // none fires on this healthy agent.
  auto groups = prometheus.get("/api/v1/rules")["data"]["groups"];
  size_t rules = 0;
  for (const auto& group : groups)
    for (const auto& rule : group["rules"]) {
      ++rules;
      BOOST_TEST(rule.value("health", "") == "ok", rule.value("name", "") << ": " << rule.value("lastError", ""));
      BOOST_TEST(rule.value("state", "") == "inactive", rule.value("name", "") << " is " << rule.value("state", "") << " on a healthy agent");
    }
  BOOST_TEST(rules == 7u);

  for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
}
