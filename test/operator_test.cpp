#define BOOST_TEST_MODULE operator_surface
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "api/http_api.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "test_support.h"

using nlohmann::json;

namespace {

struct OperatorFixture {
  OperatorFixture() : agent(testing::test_settings(routing.path(), logs.path())) { agent::configure_logging(agent::log_options(agent.settings), false); }
  ~OperatorFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }
  std::string new_app() {
    apps.push_back(testing::unique_id("o"));
    return apps.back();
  }
  testing::HttpResult deploy(const std::string& app, const std::string& image, std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> headers = {{"X-Runtime-Token", agent.settings.token}, {"Content-Type", "application/json"}};
    headers.insert(extra.begin(), extra.end());
    return testing::http("POST", agent.url("/agent/apps/deploy"),
                         R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})", headers);
  }
  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

// Parses the Prometheus text format: every sample line must be `name{labels} value`.
struct Exposition {
  explicit Exposition(const std::string& text) {
    static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eEinfNa]+)$)");
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line[0] == '#') {
        BOOST_TEST((line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0), line);
        continue;
      }
      std::smatch m;
      BOOST_TEST_REQUIRE(std::regex_match(line, m, sample), "not a sample line: " << line);
      samples[m[1].str() + m[2].str()] = std::stod(m[3].str());
    }
  }
  // The sum of every sample of `name` whose labels contain each of `parts`.
  double sum(const std::string& name, const std::vector<std::string>& parts = {}) const {
    double total = 0;
    for (const auto& [key, value] : samples) {
      if (key.compare(0, name.size(), name) != 0 || (key.size() > name.size() && key[name.size()] != '{')) continue;
      bool all = true;
      for (const auto& p : parts) all &= key.find(p) != std::string::npos;
      if (all) total += value;
    }
    return total;
  }
  std::map<std::string, double> samples;
};

Exposition scrape(testing::AgentUnderTest& agent) {
  auto r = testing::http("GET", agent.url("/metrics"));
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(r.headers["Content-Type"].find("text/plain; version=0.0.4") == 0u);
  BOOST_TEST(r.body.find(agent.settings.token) == std::string::npos);
  return Exposition(r.body);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(operator_surface, OperatorFixture)

BOOST_AUTO_TEST_CASE(metrics_count_requests_deploys_and_containers_without_a_token) {
  auto before = scrape(agent);
  testing::http("GET", agent.url("/internal/health"));
  testing::http("GET", agent.url("/agent/apps/status?appId=x"));  // 401
  testing::http("GET", agent.url("/no/such/path/123"));            // 404, recorded as route "other"
  std::string good = new_app(), bad = new_app();
  FUNAI_REQUIRE_STATUS(deploy(good, testing::kHttpdImage), 200);
  FUNAI_REQUIRE_STATUS(deploy(bad, testing::kCrashImage), 502);
  auto after = scrape(agent);

  BOOST_TEST(after.sum("funai_http_requests_total", {"route=\"/internal/health\"", "status=\"200\""}) -
                 before.sum("funai_http_requests_total", {"route=\"/internal/health\"", "status=\"200\""}) == 1.0);
  BOOST_TEST(after.sum("funai_http_requests_total", {"route=\"/agent/apps/status\"", "status=\"401\""}) >= 1.0);
  BOOST_TEST(after.sum("funai_http_requests_total", {"route=\"other\"", "status=\"404\""}) >= 1.0);
  for (const auto& [key, value] : after.samples) BOOST_TEST(key.find("/no/such/path") == std::string::npos);
  BOOST_TEST(after.sum("funai_http_request_duration_seconds_count", {"route=\"/agent/apps/deploy\""}) >= 2.0);
  BOOST_TEST(after.sum("funai_deploys_total", {"result=\"success\""}) - before.sum("funai_deploys_total", {"result=\"success\""}) == 1.0);
  BOOST_TEST(after.sum("funai_deploys_total", {"result=\"app_exited\""}) - before.sum("funai_deploys_total", {"result=\"app_exited\""}) ==
             1.0);
  BOOST_TEST(after.sum("funai_deploy_duration_seconds_bucket", {"le=\"+Inf\""}) -
                 before.sum("funai_deploy_duration_seconds_bucket", {"le=\"+Inf\""}) == 1.0);
  BOOST_TEST(after.sum("funai_deploy_duration_seconds_bucket", {"le=\"60\""}) >= 1.0);
  BOOST_TEST(after.sum("funai_managed_containers", {"state=\"running\""}) >= 1.0);
  BOOST_TEST(after.sum("funai_managed_containers", {"state=\"total\""}) >= after.sum("funai_managed_containers", {"state=\"running\""}));
  BOOST_TEST(after.sum("funai_podman_up") == 1.0);
}

BOOST_AUTO_TEST_CASE(metrics_count_podman_errors_by_call) {
  auto before = scrape(agent);
  // A foreign container (no labels) holds the name the agent wants: Podman refuses the create.
  std::string app = new_app();
  podman::containers::Spec squatter;
  squatter.name = "rt-u-7-" + app;
  squatter.image = testing::kHttpdImage;
  squatter.labels = {{"io.funai.appId", app}};  // so the fixture's cleanup finds it
  podman::containers::create(agent.podman, squatter);
  auto r = deploy(app, testing::kHttpdImage);
  BOOST_TEST(r.status == 409, r.body);
  BOOST_TEST(json::parse(r.body)["code"] == "name_in_use");
  auto after = scrape(agent);
  BOOST_TEST(after.sum("funai_podman_errors_total", {"call=\"container create\""}) -
                 before.sum("funai_podman_errors_total", {"call=\"container create\""}) == 1.0);
  BOOST_TEST(after.sum("funai_deploys_total", {"result=\"name_in_use\""}) >= 1.0);
}

BOOST_AUTO_TEST_CASE(the_app_list_has_every_managed_app_with_status_fields) {
  std::string a = new_app(), b = new_app();
  FUNAI_REQUIRE_STATUS(deploy(a, testing::kHttpdImage), 200);
  FUNAI_REQUIRE_STATUS(deploy(b, testing::kHttpd2Image), 200);
  BOOST_TEST(testing::http("GET", agent.url("/agent/apps")).status == 401);
  auto r = agent.call("GET", "/agent/apps");
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  std::map<std::string, json> by_id;
  for (const auto& app : body["apps"]) by_id[app["appId"]] = app;
  BOOST_TEST(body["count"] == body["apps"].size());
  BOOST_REQUIRE(by_id.count(a) == 1u);
  BOOST_REQUIRE(by_id.count(b) == 1u);
  BOOST_TEST(by_id[a]["image"] == testing::kHttpdImage);
  BOOST_TEST(by_id[b]["image"] == testing::kHttpd2Image);
  for (const auto& id : {a, b}) {
    auto status = json::parse(agent.call("GET", "/agent/apps/status?appId=" + id).body);
    BOOST_TEST(by_id[id] == status);
  }
}

BOOST_AUTO_TEST_CASE(logs_give_the_last_lines_of_both_streams_as_text) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy(app, testing::kChattyImage), 200);
  auto r = agent.call("GET", "/agent/apps/logs?appId=" + app + "&userId=7");
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(r.headers["Content-Type"].find("text/plain") == 0u);
  BOOST_TEST(r.body.find("out-line-1") != std::string::npos, r.body);
  BOOST_TEST(r.body.find("err-line-1") != std::string::npos, r.body);
  auto tail = agent.call("GET", "/agent/apps/logs?appId=" + app + "&tail=1");
  BOOST_TEST(tail.status == 200);
  // One line (Podman orders the two streams by time stamp, so which one may vary).
  BOOST_TEST(std::count(tail.body.begin(), tail.body.end(), '\n') == 1);
  BOOST_TEST((tail.body == "out-line-2\n" || tail.body == "err-line-1\n" || tail.body == "out-line-1\n"), tail.body);
  for (const char* bad : {"0", "5001", "abc", "-1", "1.5"})
    BOOST_TEST(agent.call("GET", "/agent/apps/logs?appId=" + app + "&tail=" + bad).status == 422, bad);
  BOOST_TEST(agent.call("GET", "/agent/apps/logs?appId=" + app + "&tail=5000").status == 200);
  BOOST_TEST(agent.call("GET", "/agent/apps/logs?appId=no-such-app-x").status == 404);
  BOOST_TEST(agent.call("GET", "/agent/apps/logs?appId=../x").status == 422);
}

BOOST_AUTO_TEST_CASE(a_callers_request_id_is_echoed_and_on_every_log_line_of_its_request) {
  std::string app = new_app();
  auto r = deploy(app, testing::kHttpdImage, {{"X-Request-Id", "runner-req-4711"}});
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(r.headers["X-Request-Id"] == "runner-req-4711");
  std::ifstream in(logs.path() + "/app.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string line;
  int tagged = 0;
  std::istringstream lines(ss.str());
  while (std::getline(lines, line)) {
    if (line.find(app) != std::string::npos || line.find("POST /agent/apps/deploy") != std::string::npos) {
      if (line.find("[rid=runner-req-4711]") != std::string::npos) ++tagged;
    }
  }
  BOOST_TEST(tagged >= 2, ss.str());  // the deploy line and the access line
  auto generated = deploy(new_app(), testing::kHttpdImage);
  BOOST_TEST(agent::is_sane_request_id(generated.headers["X-Request-Id"]));
}

BOOST_AUTO_TEST_CASE(a_routing_directory_removed_at_run_time_is_made_again_and_metrics_still_answer) {
  // The fault: the routing directory is removed while the agent runs. Before, /metrics answered
  // 500 (the sleeping gauge lists it) and every deploy failed until a restart.
  auto before = scrape(agent);
  BOOST_REQUIRE_EQUAL(::rmdir(routing.path().c_str()), 0);
  auto after = scrape(agent);  // 200, or scrape() fails the test
  BOOST_TEST(after.sum("funai_routing_dir_recreated_total") - before.sum("funai_routing_dir_recreated_total") == 1.0);
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy(app, testing::kHttpdImage), 200);
  BOOST_TEST(agent.routes->read(app).has_value());
  std::ifstream in(logs.path() + "/app.log");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("routing directory " + routing.path() + " was gone: made it again") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(invented_methods_add_no_metric_series) {
  // The attack: any client, without a token, sends requests with random method names; before,
  // each one became a label value (20,000 methods: 20,000 series, +10 MB).
  auto series = [&] {
    size_t n = 0;
    for (const auto& [key, value] : scrape(agent).samples) n += key.rfind("funai_http_requests_total{", 0) == 0;
    return n;
  };
  testing::http("FOO", agent.url("/internal/health"));  // an "other" series exists from here on
  size_t before = series();
  std::mt19937 rng(4711);
  for (int i = 0; i < 300; ++i) {
    std::string method;
    for (int c = 0; c < 8; ++c) method += static_cast<char>('A' + rng() % 26);
    auto r = testing::http(method, agent.url("/internal/health"));
    BOOST_TEST_REQUIRE(r.status == 405, method << ": " << r.status);
  }
  auto after = scrape(agent);
  BOOST_TEST(series() == before);
  for (const auto& [key, value] : after.samples) {
    if (key.rfind("funai_http_requests_total{", 0) != 0) continue;
    static const std::regex method("method=\"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE|other)\"");
    BOOST_TEST(std::regex_search(key, method), key);
  }
  BOOST_TEST(after.sum("funai_http_requests_total", {"method=\"other\"", "status=\"405\""}) >= 300.0);
}

BOOST_AUTO_TEST_CASE(a_path_with_an_encoded_newline_cannot_forge_a_log_line) {
  // The attack: GET /x%0A<a line of the agent's own>: the access log wrote the decoded path, so
  // app.log gained a line saying that app 99 was deployed.
  const std::string forged = "2026-12-01 00:00:00.000 INFO  deploy deployed app 99 (user 7)";
  std::string encoded;
  for (char c : "\n" + forged) encoded += c == ' ' ? std::string("%20") : c == '\n' ? std::string("%0A") : std::string(1, c);
  auto r = testing::http("GET", agent.url("/x" + encoded));
  BOOST_TEST(r.status == 404);
  testing::http("GET", agent.url("/y%0D%0Aalso%00nul%1Bescape"));
  std::ifstream in(logs.path() + "/app.log");
  std::string line, all;
  bool forged_line = false, escaped = false, raw_control = false;
  while (std::getline(in, line)) {
    all += line + "\n";
    forged_line |= line.rfind(forged, 0) == 0;
    escaped |= line.find("GET /x\\n" + forged) != std::string::npos;
    for (char c : line) raw_control |= (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  }
  BOOST_TEST(!forged_line, all);
  BOOST_TEST(escaped, "the access line with the path escaped is missing:\n" << all);
  BOOST_TEST(all.find("GET /y\\r\\nalso\\x00nul\\x1bescape") != std::string::npos, all);
  BOOST_TEST(!raw_control);
}

BOOST_AUTO_TEST_SUITE_END()
