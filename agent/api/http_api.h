// The agent's HTTP API: the route table of the compatibility contract, token check, body limits,
// JSON errors {"detail","code"}, request ids and the access log. The factory only dispatches;
// each endpoint is a small function over DeployService.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "podman/client.h"
#include "config/settings.h"

namespace agent {

class DeployService;
struct AppParts;
class AppSleeper;

struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string text;  // sent as text/plain instead of body when set
  std::string content_type = "";  // for text: defaults to text/plain; charset=utf-8
};

struct Call {
  std::map<std::string, std::string> query;  // each parameter once (repeats are refused)
  nlohmann::json body;                       // null when the request had none
  std::string peer;                          // the client's address, without the port
  std::optional<std::string> param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

struct Endpoint {
  std::string method;
  std::string path;
  bool needs_token;
  bool reads_body;
  std::function<Reply(const Call&)> handle;
  // For a needs_token endpoint: callers this admits by their address need no token.
  std::function<bool(const std::string& peer)> admits_without_token = nullptr;
};

struct HealthReport;
// Extra facts for GET /internal/health?deep=1 (Podman, routing directory, heartbeat).
using DeepHealth = std::function<HealthReport()>;

constexpr size_t kMaxBodyBytes = 1024 * 1024;

// The endpoints of the contract, bound to the services, and GET /metrics (no token), which calls
// before_scrape (when set) to bring the gauges up to date. sleeper may be null: sleep and wake
// then answer 409 scale_to_zero_off. With them the MongoDB endpoints (mongo_endpoints.h) and
// GET /openapi.json.
std::vector<Endpoint> api_endpoints(const Settings& settings, DeployService& service, AppParts& parts,
                                    std::function<void()> before_scrape, DeepHealth deep_health, AppSleeper* sleeper = nullptr);

// The HTTP status of an AppError code (500 for a code it does not know).
int status_for_code(const std::string& code);

class ApiHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  ApiHandlerFactory(std::string token, std::vector<Endpoint> endpoints);
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

 private:
  std::string token_;
  std::vector<Endpoint> endpoints_;
};

// A caller's X-Request-Id is kept when it is 1-64 characters of [A-Za-z0-9._-].
bool is_sane_request_id(const std::string& id);

}  // namespace agent
