#include "api/http_api.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>

#include <chrono>
#include <random>

#include "api/api_error.h"
#include "base/constant_time.h"
#include "base/app_error.h"
#include "sleep/app_sleeper.h"
#include "apps/app_status.h"
#include "apps/deploy_service.h"
#include "node/node_health.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "base/app_labels.h"
#include "podman/errors.h"
#include "config/validation.h"
#include "api/mongo_endpoints.h"
#include "api/openapi.h"
#include "apps/app_parts.h"
#include "mongo/explorer.h"
#include "mongo/mongo_server.h"

namespace agent {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

Poco::Logger& access_log() { return Poco::Logger::get("access"); }
Poco::Logger& api_log() { return Poco::Logger::get("api"); }

std::string generate_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static const char* hex = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t v = rng();
  for (auto& c : id) {
    c = hex[v & 15];
    v >>= 4;
  }
  return id;
}

Reply error_reply(int status, const std::string& code, const std::string& detail) {
  return {status, {{"detail", detail}, {"code", code}}, ""};
}

// The body, which the server has read whole (or left unread when over the limit); throws ApiError
// 413 past kMaxBodyBytes. Slow or broken bodies never reach a handler: the server answers them 408.
std::string read_body(HTTPServerRequest& request) {
  std::string body;
  std::istream& in = request.stream();
  char buffer[16384];
  while (in) {
    in.read(buffer, sizeof buffer);
    body.append(buffer, static_cast<size_t>(in.gcount()));
    if (body.size() > kMaxBodyBytes)
      throw ApiError(413, "body_too_large", "request body is larger than " + std::to_string(kMaxBodyBytes) + " bytes");
  }
  return body;
}

class ApiRequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  ApiRequestHandler(const std::string& token, const std::vector<Endpoint>& endpoints) : token_(token), endpoints_(endpoints) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    auto started = std::chrono::steady_clock::now();
    std::string rid = request.get("X-Request-Id", "");
    if (!is_sane_request_id(rid)) rid = generate_request_id();
    set_current_request_id(rid);

    std::string path = "?";
    bool body_consumed = true;
    Reply reply;
    try {
      Poco::URI uri(request.getURI());
      path = uri.getPath();
      reply = dispatch(request, uri, body_consumed);
    } catch (const ApiError& e) {
      reply = error_reply(e.status(), e.code(), e.what());
      if (e.status() == 408 || e.status() == 413) body_consumed = false;
    } catch (const AppError& e) {
      reply = error_reply(status_for_code(e.code()), e.code(), e.what());
    } catch (const ValidationError& e) {
      reply = error_reply(422, "invalid_" + e.field(), e.what());
    } catch (const ExplorerRefusal& e) {
      reply = error_reply(e.status(), e.status() == 403 ? "forbidden_collection" : "invalid_" + e.field(), e.what());
    } catch (const MongoBusy& e) {
      reply = error_reply(503, "mongo_busy", e.what());
    } catch (const MongoError& e) {
      reply = error_reply(500, "mongo_error", e.what());
    } catch (const podman::Unreachable& e) {
      reply = error_reply(503, "podman_unavailable", "podman unavailable: " + e.message());
    } catch (const podman::Error& e) {
      reply = error_reply(502, "podman_error", "podman " + e.call() + " failed: " + e.message());
    } catch (const Poco::SyntaxException& e) {
      reply = error_reply(400, "bad_request", "malformed request: " + e.displayText());
    } catch (const Poco::Net::NetException& e) {
      reply = error_reply(400, "bad_request", "malformed request: " + e.displayText());
      body_consumed = false;
    } catch (const std::exception& e) {
      api_log().error(std::string("unexpected error: ") + e.what());
      reply = error_reply(500, "internal_error", std::string("internal error: ") + e.what());
    }

    if (!body_consumed) response.setKeepAlive(false);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    response.set("X-Request-Id", rid);
    std::string payload;
    if (!reply.text.empty() || reply.body.is_null()) {
      response.setContentType(reply.content_type.empty() ? "text/plain; charset=utf-8" : reply.content_type);
      payload = reply.text;
    } else {
      response.setContentType("application/json");
      payload = reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    try {
      response.sendBuffer(payload.data(), payload.size());
    } catch (const std::exception&) {
      // the client went away
    }

    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.1f", ms);
    std::string shown_path = path.size() > 200 ? path.substr(0, 200) + "..." : path;
    access_log().information(request.getMethod() + " " + shown_path + " " + std::to_string(reply.status) + " " + duration +
                             "ms " + request.clientAddress().toString());
    metrics().http_request(route_label_, method_label(request.getMethod()), reply.status, ms / 1000.0);
    set_current_request_id("");
  }

 private:
  Reply dispatch(HTTPServerRequest& request, const Poco::URI& uri, bool& body_consumed) {
    const std::string path = uri.getPath();
    const Endpoint* match = nullptr;
    bool path_known = false;
    for (const auto& e : endpoints_) {
      if (e.path != path) continue;
      path_known = true;
      if (e.method == request.getMethod()) match = &e;
    }
    bool has_body = request.hasContentLength() ? request.getContentLength64() > 0 : request.getChunkedTransferEncoding();
    body_consumed = !has_body;
    if (path_known) route_label_ = path;
    if (!path_known) return error_reply(404, "not_found", "no endpoint at " + (path.size() > 200 ? path.substr(0, 200) + "..." : path));
    if (!match) return error_reply(405, "method_not_allowed", request.getMethod() + " is not allowed on " + path);
    Call call;
    call.peer = request.clientAddress().host().toString();
    if (match->needs_token && !token_matches(request.get("X-Runtime-Token", ""), token_) &&
        !(match->admits_without_token && match->admits_without_token(call.peer)))
      return error_reply(401, "unauthorized", "unauthorized");

    for (const auto& [name, value] : uri.getQueryParameters()) {
      if (call.query.count(name)) throw ValidationError(name, "query parameter given more than once");
      call.query[name] = value;
    }
    if (match->reads_body) {
      if (request.hasContentLength() && request.getContentLength64() > static_cast<Poco::Int64>(kMaxBodyBytes))
        throw ApiError(413, "body_too_large", "request body is larger than " + std::to_string(kMaxBodyBytes) + " bytes");
      std::string type = request.getContentType();
      if (!type.empty() && type.rfind("application/json", 0) != 0 && type.find("+json") == std::string::npos)
        throw ApiError(415, "unsupported_media_type", "Content-Type must be application/json, got " + type.substr(0, 100));
      std::string text = read_body(request);
      body_consumed = true;
      if (text.empty()) throw ApiError(400, "invalid_json", "request body is empty; a JSON object is expected");
      try {
        call.body = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        throw ApiError(400, "invalid_json", std::string("request body is not valid JSON: ") + e.what());
      }
    }
    return match->handle(call);
  }

  const std::string& token_;
  const std::vector<Endpoint>& endpoints_;
  std::string route_label_ = "other";  // a known route template, never the caller's path
};

nlohmann::json optional_json(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json to_json(const AppStatus& s) {
  if (!s.exists)
    return {{"appId", s.app_id}, {"containerName", optional_json(s.container_name)}, {"exists", false},
            {"running", false},  {"image", nullptr},                              {"port", nullptr}};
  nlohmann::json j = {{"appId", s.app_id},
                      {"userId", s.user_id},
                      {"containerName", optional_json(s.container_name)},
                      {"exists", true},
                      {"running", s.running},
                      {"image", s.image},
                      {"port", s.port ? nlohmann::json(*s.port) : nlohmann::json(nullptr)},
                      {"state", s.state},
                      {"startedAt", s.started_at},
                      {"restartCount", s.restart_count},
                      {"ip", optional_json(s.ip)},
                      {"basePath", s.base_path},
                      {"routed", s.routed},
                      {"sleeping", s.sleeping},
                      {"oomKilled", s.oom_killed}};
  if (s.exit_code) j["exitCode"] = *s.exit_code;
  return j;
}

nlohmann::json to_json(const DeployResult& r) {
  nlohmann::json j = {{"appId", r.app_id},   {"containerName", r.container_name}, {"status", "DEPLOYED"},
                      {"previewUrl", optional_json(r.preview_url)}, {"imageId", r.image_id}, {"pulled", r.pulled}};
  if (!r.warning.empty()) j["warning"] = r.warning;
  return j;
}

Reply to_reply(const HealthReport& h) {
  nlohmann::json podman = {{"endpoint", h.podman.endpoint}, {"reachable", h.podman.reachable}};
  if (h.podman.reachable) {
    podman["version"] = h.podman.version;
    podman["ociRuntime"] = h.podman.oci_runtime;
  } else {
    podman["error"] = h.podman.error;
  }
  nlohmann::json routing = {{"enabled", h.routing.enabled}};
  if (h.routing.enabled) {
    routing["dir"] = h.routing.dir;
    routing["writable"] = h.routing.writable;
  }
  return {h.ok ? 200 : 503, {{"ok", h.ok}, {"podman", podman}, {"routing", routing}, {"heartbeat", h.heartbeat}}, ""};
}

unsigned parse_tail(const std::optional<std::string>& text) {
  if (!text) return 200;
  int n = 0;
  if (!Poco::NumberParser::tryParse(*text, n) || n < 1 || n > 5000) throw ValidationError("tail", "must be an integer from 1 to 5000");
  return static_cast<unsigned>(n);
}

}  // namespace

int status_for_code(const std::string& code) {
  static const std::map<std::string, int> statuses = {
      {"deploy_in_progress", 409}, {"app_busy", 409},          {"app_owned_by_another_user", 409}, {"name_in_use", 409},
      {"app_not_found", 404},      {"app_exited", 502},        {"app_not_ready", 502},             {"image_pull_failed", 502},
      {"image_unavailable", 502},  {"routing_write_failed", 500}, {"app_not_running", 409},  {"scale_to_zero_off", 409}};
  auto it = statuses.find(code);
  return it == statuses.end() ? 500 : it->second;
}

bool is_sane_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

ApiHandlerFactory::ApiHandlerFactory(std::string token, std::vector<Endpoint> endpoints)
    : token_(std::move(token)), endpoints_(std::move(endpoints)) {}

Poco::Net::HTTPRequestHandler* ApiHandlerFactory::createRequestHandler(const HTTPServerRequest&) {
  return new ApiRequestHandler(token_, endpoints_);
}

std::vector<Endpoint> api_endpoints(const Settings& settings, DeployService& service, AppParts& parts,
                                    std::function<void()> before_scrape, DeepHealth deep_health, AppSleeper* sleeper) {
  const int default_port = settings.container_port;
  AppStatusReader& statuses = parts.statuses;
  std::vector<Endpoint> endpoints = {
      {"GET", "/internal", false, false, [](const Call&) -> Reply { return {200, {{"ok", true}}, ""}; }},
      {"GET", "/openapi.json", false, false,
       [](const Call&) -> Reply {
         Reply r{200, nullptr, openapi_document()};
         r.content_type = "application/json";
         return r;
       }},
      {"GET", "/internal/health", false, false,
       [deep_health](const Call& call) -> Reply {
         auto deep = call.param("deep");
         if (deep && *deep != "0" && *deep != "false" && deep_health) return to_reply(deep_health());
         return {200, {{"ok", true}}, ""};
       }},
      {"POST", "/agent/apps/deploy", true, true,
       [&service, default_port](const Call& call) -> Reply {
         return {200, to_json(service.deploy(parse_deploy_request(call.body, default_port))), ""};
       }},
      {"POST", "/agent/apps/stop", true, true,
       [&service](const Call& call) -> Reply {
         auto app = parse_app_ref(call.body);
         service.stop(app);
         return {200, {{"appId", app.app_id}, {"status", "STOPPED"}}, ""};
       }},
      {"POST", "/agent/apps/delete", true, true,
       [&service](const Call& call) -> Reply {
         auto r = service.remove(parse_app_ref(call.body));
         return {200,
                 {{"appId", r.app_id}, {"status", "DELETED"}, {"images", {{"removed", r.images.removed}, {"kept", r.images.kept}}}, {"mongo", r.mongo}},
                 ""};
       }},
      {"GET", "/agent/apps/status", true, false,
       [&statuses](const Call& call) -> Reply {
         auto app_id = require_id(call.param("appId"), "appId");
         return {200, to_json(*statuses.status(app_id, optional_id(call.param("userId"), "userId"))), ""};
       }},
      {"GET", "/metrics", false, false,
       [before_scrape](const Call&) -> Reply {
         if (before_scrape) before_scrape();
         Reply r{200, nullptr, metrics().serialize()};
         r.content_type = "text/plain; version=0.0.4; charset=utf-8";
         return r;
       }},
      {"GET", "/agent/apps", true, false,
       [&statuses](const Call&) -> Reply {
         nlohmann::json apps = nlohmann::json::array();
         for (const auto& s : statuses.list()) apps.push_back(to_json(s));
         return {200, {{"apps", apps}, {"count", apps.size()}}, ""};
       }},
      {"POST", "/agent/apps/sleep", true, true,
       [sleeper](const Call& call) -> Reply {
         auto app = parse_app_ref(call.body);
         if (!sleeper) throw AppError("scale_to_zero_off", "scale to zero is not part of this agent");
         sleeper->sleep(app.app_id, app.user_id);
         return {200, {{"appId", app.app_id}, {"sleeping", true}}, ""};
       }},
      {"POST", "/agent/apps/wake", true, true,
       [sleeper](const Call& call) -> Reply {
         auto app = parse_app_ref(call.body);
         if (!sleeper) throw AppError("scale_to_zero_off", "scale to zero is not part of this agent");
         sleeper->wake(app.app_id, app.user_id);
         return {200, {{"appId", app.app_id}, {"running", true}, {"sleeping", false}}, ""};
       }},
      {"GET", "/agent/apps/logs", true, false,
       [&statuses](const Call& call) -> Reply {
         auto app_id = require_id(call.param("appId"), "appId");
         auto user_id = optional_id(call.param("userId"), "userId");
         unsigned tail = parse_tail(call.param("tail"));
         return {200, nullptr, statuses.logs(app_id, user_id, tail)};
       }},
  };
  for (auto& e : mongo_endpoints(settings, parts)) endpoints.push_back(std::move(e));
  return endpoints;
}

}  // namespace agent
