#define BOOST_TEST_MODULE http_server
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "api/http_api.h"
#include "base/constant_time.h"
#include "http/http_server.h"
#include "base/logging.h"
#include "test_support.h"

using namespace agent;
using nlohmann::json;

namespace {

std::atomic<int> slow_requests_entered{0};  // handlers of /test/slow started so far

const std::string kToken = "http-test-token-42";

// The real server with the contract's endpoints over a DeployService whose Podman socket does not
// exist, plus a slow endpoint for the shutdown test; logs go to a temporary folder.
struct ServerFixture {
  ServerFixture() : podman("unix:///nonexistent/podman.sock") {
    settings.token = kToken;
    settings.log_dir = logs.path();
    settings.traefik_dynamic_dir = routing.path();
    configure_logging(log_options(settings), false);
    routes = std::make_unique<traefik::RouteDir>(routing.path());
    parts = std::make_unique<AppParts>(settings, podman, routes.get());
    service = std::make_unique<DeployService>(settings, podman, routes.get(), *parts);
    auto endpoints = api_endpoints(settings, *service, *parts, nullptr, nullptr);
    endpoints.push_back({"GET", "/test/slow", false, false, [](const Call&) -> Reply {
                           ++slow_requests_entered;
                           std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                           return {200, {{"slow", true}}, ""};
                         }});
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 8;
    options.head_deadline = std::chrono::seconds(2);
    options.keep_alive_timeout = std::chrono::seconds(1);
    server = std::make_unique<HttpServer>(options, new ApiHandlerFactory(kToken, endpoints));
    server->start();
  }
  ~ServerFixture() { server->stop(std::chrono::seconds(2)); }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server->port()) + path; }
  testing::HttpResult post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("X-Runtime-Token", kToken);
    headers.emplace("Content-Type", "application/json");
    return testing::http("POST", url(path), body, headers);
  }

  // Sends raw bytes on a fresh connection; returns what the server answered.
  std::string raw(const std::string& bytes) {
    Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server->port())));
    s.setReceiveTimeout(Poco::Timespan(10, 0));
    s.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    std::string answer;
    char buf[4096];
    try {
      int n;
      while ((n = s.receiveBytes(buf, sizeof buf)) > 0) {
        answer.append(buf, static_cast<size_t>(n));
        if (answer.find("\r\n\r\n") != std::string::npos) break;
      }
    } catch (...) {
    }
    return answer;
  }

  testing::TempDir logs, routing;
  Settings settings;
  podman::Client podman;
  std::unique_ptr<traefik::RouteDir> routes;
  std::unique_ptr<AppParts> parts;
  std::unique_ptr<DeployService> service;
  std::unique_ptr<HttpServer> server;
};

void expect_error(const testing::HttpResult& r, int status, const std::string& code) {
  BOOST_TEST(r.status == status);
  auto body = json::parse(r.body, nullptr, false);
  BOOST_TEST_REQUIRE(body.is_object(), "not a JSON object: " << r.body);
  BOOST_TEST(body["code"] == code);
  BOOST_TEST(body["detail"].is_string());
  BOOST_TEST(r.headers.count("Content-Type") == 1u);
  BOOST_TEST(r.headers.at("Content-Type") == "application/json");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server, ServerFixture)

BOOST_AUTO_TEST_CASE(health_answers_ok_without_a_token) {
  auto r = testing::http("GET", url("/internal/health"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json::parse(r.body) == json({{"ok", true}}));
}

BOOST_AUTO_TEST_CASE(agent_endpoints_refuse_a_missing_or_wrong_token) {
  auto missing = testing::http("GET", url("/agent/apps/status?appId=1"));
  expect_error(missing, 401, "unauthorized");
  BOOST_TEST(json::parse(missing.body)["detail"] == "unauthorized");
  expect_error(testing::http("GET", url("/agent/apps/status?appId=1"), "", {{"X-Runtime-Token", "http-test-token-43"}}), 401,
               "unauthorized");
  expect_error(testing::http("GET", url("/agent/apps/status?appId=1"), "", {{"X-Runtime-Token", "short"}}), 401, "unauthorized");
  expect_error(testing::http("POST", url("/agent/apps/deploy"), "{}", {{"X-Runtime-Token", ""}}), 401, "unauthorized");
}

BOOST_AUTO_TEST_CASE(token_comparison_is_exact) {
  BOOST_TEST(token_matches("abc", "abc"));
  BOOST_TEST(!token_matches("abd", "abc"));
  BOOST_TEST(!token_matches("ab", "abc"));
  BOOST_TEST(!token_matches("abcd", "abc"));
  BOOST_TEST(!token_matches("", ""));
}

BOOST_AUTO_TEST_CASE(unknown_paths_are_404_and_wrong_methods_405) {
  expect_error(testing::http("GET", url("/nope")), 404, "not_found");
  expect_error(testing::http("GET", url("/agent/apps/deploy"), "", {{"X-Runtime-Token", kToken}}), 405, "method_not_allowed");
  expect_error(testing::http("DELETE", url("/internal/health")), 405, "method_not_allowed");
}

BOOST_AUTO_TEST_CASE(every_status_line_carries_the_standard_reason_phrase) {
  auto status_line = [&](const std::string& request) {
    std::string answer = raw(request);
    return answer.substr(0, answer.find("\r\n"));
  };
  const std::string auth = "X-Runtime-Token: " + kToken + "\r\n";
  BOOST_TEST(status_line("GET /internal/health HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK");
  BOOST_TEST(status_line("GET /agent/apps HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 401 Unauthorized");
  BOOST_TEST(status_line("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 404 Not Found");
  BOOST_TEST(status_line("DELETE /internal/health HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 405 Method Not Allowed");
  BOOST_TEST(status_line("POST /agent/apps/deploy HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 3\r\n\r\n{x}") ==
             "HTTP/1.1 400 Bad Request");
  // Podman's socket does not exist here: the service is unavailable.
  BOOST_TEST(status_line("GET /agent/apps/status?appId=a1 HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n") ==
             "HTTP/1.1 503 Service Unavailable");
  BOOST_TEST(status_line("POST /agent/apps/deploy HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 9999999\r\n\r\n") ==
             "HTTP/1.1 413 Request Entity Too Large");
  BOOST_TEST(status_line("GET /internal/health HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n") ==
             "HTTP/1.1 431 Request Header Fields Too Large");
}

BOOST_AUTO_TEST_CASE(get_internal_answers_ok_as_the_earlier_agent_did) {
  auto r = testing::http("GET", url("/internal"));
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(json::parse(r.body) == json({{"ok", true}}));
}

BOOST_AUTO_TEST_CASE(the_openapi_document_is_served_and_names_every_endpoint_the_agent_has) {
  auto r = testing::http("GET", url("/openapi.json"));
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(r.headers["Content-Type"].rfind("application/json", 0) == 0u);
  auto doc = json::parse(r.body);
  BOOST_TEST(doc["openapi"].get<std::string>().rfind("3.1", 0) == 0u);
  // Every route of the table, with its method, is documented, and nothing else is.
  size_t operations = 0;
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) operations += (method == "get" || method == "post");
  auto endpoints = api_endpoints(settings, *service, *parts, nullptr, nullptr);
  for (const auto& e : endpoints) {
    std::string method = e.method == "GET" ? "get" : "post";
    BOOST_TEST(doc["paths"].contains(e.path), e.path << " is not in the OpenAPI document");
    if (doc["paths"].contains(e.path)) BOOST_TEST(doc["paths"][e.path].contains(method), e.method << " " << e.path << " is not documented");
  }
  BOOST_TEST(operations == endpoints.size());
}

BOOST_AUTO_TEST_CASE(every_contract_route_is_registered) {
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{{"POST", "/agent/apps/deploy"},
                                                                              {"POST", "/agent/apps/stop"},
                                                                              {"POST", "/agent/apps/delete"},
                                                                              {"GET", "/agent/apps/status"}}) {
    auto r = testing::http(method, url(path), method == "POST" ? "{}" : "", {});
    BOOST_TEST(r.status == 401, path);  // known route, no token
  }
}

BOOST_AUTO_TEST_CASE(a_body_over_1_mib_is_413_from_its_content_length) {
  // Only the headers are sent: the answer must come without reading any body.
  std::string head = "POST /agent/apps/deploy HTTP/1.1\r\nHost: x\r\nX-Runtime-Token: " + kToken +
                     "\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n";
  std::string answer = raw(head);
  BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0, answer.substr(0, 40));
}

BOOST_AUTO_TEST_CASE(a_chunked_body_over_1_mib_is_413) {
  Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server->port())));
  s.setReceiveTimeout(Poco::Timespan(10, 0));
  std::string head = "POST /agent/apps/deploy HTTP/1.1\r\nHost: x\r\nX-Runtime-Token: " + kToken +
                     "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  s.sendBytes(head.data(), static_cast<int>(head.size()));
  std::string chunk = "10000\r\n" + std::string(65536, ' ') + "\r\n";
  std::string answer;
  try {
    for (int i = 0; i < 40; ++i) s.sendBytes(chunk.data(), static_cast<int>(chunk.size()));
  } catch (...) {
    // the server may close once it has answered
  }
  char buf[512];
  int n = s.receiveBytes(buf, sizeof buf);
  answer.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
  BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0, answer.substr(0, 40));
}

BOOST_AUTO_TEST_CASE(malformed_or_empty_json_is_400) {
  expect_error(post("/agent/apps/deploy", "{\"userId\": "), 400, "invalid_json");
  expect_error(post("/agent/apps/deploy", "{'a':1}"), 400, "invalid_json");
  expect_error(post("/agent/apps/stop", ""), 400, "invalid_json");
}

BOOST_AUTO_TEST_CASE(a_wrong_content_type_is_415) {
  expect_error(post("/agent/apps/stop", "{}", {{"Content-Type", "text/plain"}}), 415, "unsupported_media_type");
}

BOOST_AUTO_TEST_CASE(invalid_fields_are_422_naming_the_field) {
  auto r = post("/agent/apps/deploy", R"({"userId":"7","appId":"../etc","image":"x:1"})");
  expect_error(r, 422, "invalid_appId");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("appId") == 0u);
  expect_error(post("/agent/apps/deploy", R"({"userId":"7","appId":"1","image":"x:1","containerPort":"80"})"), 422,
               "invalid_containerPort");
  expect_error(post("/agent/apps/stop", R"([1,2])"), 422, "invalid_body");
  expect_error(testing::http("GET", url("/agent/apps/status?appId=a%2Fb"), "", {{"X-Runtime-Token", kToken}}), 422,
               "invalid_appId");
  expect_error(testing::http("GET", url("/agent/apps/status?appId=1&appId=2"), "", {{"X-Runtime-Token", kToken}}), 422,
               "invalid_appId");
  expect_error(testing::http("GET", url("/agent/apps/status"), "", {{"X-Runtime-Token", kToken}}), 422, "invalid_appId");
}

BOOST_AUTO_TEST_CASE(podman_unreachable_is_503_within_the_connect_timeout) {
  auto started = std::chrono::steady_clock::now();
  auto r = testing::http("GET", url("/agent/apps/status?appId=1"), "", {{"X-Runtime-Token", kToken}});
  expect_error(r, 503, "podman_unavailable");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().rfind("podman unavailable: ", 0) == 0u);
  BOOST_TEST(testing::seconds_since(started) < 3);
}

BOOST_AUTO_TEST_CASE(request_ids_are_kept_when_sane_and_generated_otherwise) {
  auto kept = testing::http("GET", url("/internal/health"), "", {{"X-Request-Id", "runner-abc.123"}});
  BOOST_TEST(kept.headers["X-Request-Id"] == "runner-abc.123");
  auto replaced = testing::http("GET", url("/internal/health"), "", {{"X-Request-Id", "bad id\"<script>"}});
  BOOST_TEST(replaced.headers["X-Request-Id"] != "bad id\"<script>");
  BOOST_TEST(is_sane_request_id(replaced.headers["X-Request-Id"]));
  auto a = testing::http("GET", url("/internal/health"));
  auto b = testing::http("GET", url("/internal/health"));
  BOOST_TEST(a.headers["X-Request-Id"] != b.headers["X-Request-Id"]);
}

BOOST_AUTO_TEST_CASE(the_log_file_has_access_lines_and_never_the_token) {
  testing::http("GET", url("/agent/apps/status?appId=1"), "", {{"X-Runtime-Token", kToken}});
  testing::http("GET", url("/agent/apps/status?appId=1"), "", {{"X-Runtime-Token", "wrong-token-value"}});
  post("/agent/apps/deploy", R"({"userId":"7","appId":"1","image":")" + kToken + R"("})");
  std::ifstream in(logs.path() + "/app.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string log = ss.str();
  BOOST_TEST(log.find("GET /agent/apps/status 503") != std::string::npos, log);
  BOOST_TEST(log.find("GET /agent/apps/status 401") != std::string::npos);
  BOOST_TEST(log.find("127.0.0.1") != std::string::npos);
  BOOST_TEST(log.find("ms ") != std::string::npos);
  BOOST_TEST(log.find(kToken) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_client_trickling_headers_is_cut_off) {
  Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server->port())));
  auto started = std::chrono::steady_clock::now();
  std::string line = "GET /internal/health HTTP/1.1\r\nX-Slow: ";
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    try {
      s.sendBytes(i < static_cast<int>(line.size()) ? &line[i] : "a", 1);
    } catch (...) {
      closed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (s.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) {
      char buf[64];
      try {
        closed = s.receiveBytes(buf, sizeof buf) <= 0;
      } catch (...) {
        closed = true;
      }
    }
  }
  BOOST_TEST(closed);
  BOOST_TEST(testing::seconds_since(started) < 5);
  BOOST_TEST(testing::http("GET", url("/internal/health")).status == 200);
}

BOOST_AUTO_TEST_CASE(stop_lets_a_request_in_flight_finish) {
  int entered = slow_requests_entered;
  auto slow = std::async(std::launch::async, [&] { return testing::http("GET", url("/test/slow")); });
  auto t0 = std::chrono::steady_clock::now();  // until its handler runs: then it is in flight
  while (slow_requests_entered == entered && testing::seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE(slow_requests_entered > entered);
  auto started = std::chrono::steady_clock::now();
  server->stop(std::chrono::seconds(5));
  auto r = slow.get();
  BOOST_TEST(r.status == 200);
  BOOST_TEST(testing::seconds_since(started) < 4);
  BOOST_TEST(testing::http("GET", url("/internal/health"), "", {}, std::chrono::milliseconds(1000)).status == 0);
}

// The heads a smuggler sends (request_reader_test has each): on the real server each gets its 400
// JSON error and a closed connection, and the request hidden behind it is never answered.
BOOST_AUTO_TEST_CASE(a_smuggled_second_request_is_never_answered) {
  const std::string hidden = "GET /internal/health?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<std::string> heads = {
      "POST /agent/apps/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: " + std::to_string(hidden.size()) + "\r\n\r\n",
      "POST /agent/apps/stop HTTP/1.1\r\nHost: x\r\nContent-Length : " + std::to_string(hidden.size()) + "\r\n\r\n",
      "POST /agent/apps/stop HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
      "POST /agent/apps/stop HTTP/1.1\r\nHost: x\r\nX-A: b\r\n Content-Length: 3\r\n\r\n",
  };
  for (const auto& head : heads) {
    testing::RawConnection c(server->port());
    c.send(head + hidden);
    auto t0 = std::chrono::steady_clock::now();
    while (!c.closed() && testing::seconds_since(t0) < 5) c.receive();
    BOOST_TEST(c.closed(), head);
    BOOST_TEST(c.received().rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0u, head << " -> " << c.received());
    BOOST_TEST(c.received().find("\"code\":\"bad_request\"") != std::string::npos, c.received());
    // One answer only: the hidden request got none.
    BOOST_TEST(c.received().find("HTTP/1.1", 1) == std::string::npos, head << " -> " << c.received());
  }
}

BOOST_AUTO_TEST_SUITE_END()
