#include "test_support.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "app_labels.h"
#include "http_api.h"
#include "metrics.h"
#include "podman/containers.h"

namespace testing {

std::string podman_fixture_dir() {
  const char* state = std::getenv("FUNAI_PODMAN_FIXTURE_FILE");
  BOOST_REQUIRE_MESSAGE(state != nullptr, "FUNAI_PODMAN_FIXTURE_FILE is not set: run this suite through ctest (podman fixture)");
  std::ifstream in(state);
  std::string dir;
  std::getline(in, dir);
  BOOST_REQUIRE_MESSAGE(!dir.empty(), std::string("the podman fixture did not start: no directory in ") + state);
  return dir;
}

std::string podman_socket() { return "unix://" + podman_fixture_dir() + "/podman.sock"; }

std::string unique_id(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(::getpid() % 100000) + "x" + std::to_string(++counter);
}

TempDir::TempDir() {
  char name[] = "/tmp/funai-test.XXXXXX";
  path_ = ::mkdtemp(name);
}

TempDir::~TempDir() {
  try {
    Poco::File(path_).remove(true);
  } catch (...) {
  }
}

HttpResult http(const std::string& method, const std::string& url, const std::string& body,
                const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult result;
  try {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(timeout.count() * 1000));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty() || method == "POST") request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    result.status = response.getStatus();
    for (const auto& [k, v] : response) result.headers[k] = v;
    Poco::StreamCopier::copyToString(in, result.body);
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  return result;
}

agent::Settings test_settings(const std::string& routing_dir, const std::string& log_dir) {
  agent::Settings s;
  s.host = "127.0.0.1";
  s.port = 0;
  s.token = "test-token-0123456789";
  s.http_threads = 32;
  s.podman_socket = podman_socket();
  s.network = "funai-test-net";
  s.traefik_dynamic_dir = routing_dir;
  s.pull_policy = agent::PullPolicy::missing;
  s.stop_timeout_seconds = 2;
  s.ready_timeout_seconds = 8;
  s.retire_grace_seconds = 3;
  s.node_gateway_base_url = "http://gateway.test";
  s.log_dir = log_dir;
  return s;
}

AgentUnderTest::AgentUnderTest(agent::Settings s) : settings(std::move(s)), podman(settings.podman_socket) {
  podman.on_error([](const std::string& call) { agent::metrics().podman_error(call); });
  if (settings.traefik_enable) routes = std::make_unique<traefik::RouteDir>(settings.traefik_dynamic_dir);
  service = std::make_unique<agent::DeployService>(settings, podman, routes.get());
  agent::HttpServerOptions options;
  options.host = settings.host;
  options.port = settings.port;
  options.threads = settings.http_threads;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory(
      new agent::ApiHandlerFactory(settings.token, agent::api_endpoints(settings, *service, nullptr)));
  server = std::make_unique<agent::HttpServer>(options, factory);
  server->start();
}

AgentUnderTest::~AgentUnderTest() {
  server->stop(std::chrono::seconds(5));
  service->retire_pending_now();
}

std::string AgentUnderTest::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(server->port()) + path;
}

HttpResult AgentUnderTest::call(const std::string& method, const std::string& path, const std::string& body,
                                std::chrono::milliseconds timeout) const {
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", settings.token}};
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return http(method, url(path), body, headers, timeout);
}

void remove_app_containers(podman::Client& podman, const std::string& app_id) {
  for (const auto& c : podman::containers::list(podman, {agent::labels::app_filter(app_id)}))
    podman::containers::remove(podman, c.id, true, 0);
}

std::string routed_upstream(traefik::RouteDir& routes, const std::string& app_id) {
  auto route = routes.read(app_id);
  return route && !route->upstreams.empty() ? route->upstreams.front() : "";
}

}  // namespace testing
