#include "route.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace traefik {
namespace {

bool safe_chars(const std::string& s, const std::string& extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || extra.find(c) != std::string::npos;
  });
}

void check(const Route& route) {
  if (route.app_id.empty() || !safe_chars(route.app_id, "_-"))
    throw RouteFormatError("app id '" + route.app_id + "' is not [A-Za-z0-9_-]");
  if (route.base_path.size() < 2 || route.base_path[0] != '/' || route.base_path.back() == '/' ||
      !safe_chars(route.base_path, "/_.-"))
    throw RouteFormatError("base path '" + route.base_path + "' is not /[A-Za-z0-9/_.-] without a trailing '/'");
  if (route.upstreams.empty()) throw RouteFormatError("route for " + route.app_id + " has no upstream");
  for (const auto& u : route.upstreams)
    if (u.rfind("http://", 0) != 0 || !safe_chars(u.substr(7), ".:[]-_"))
      throw RouteFormatError("upstream '" + u + "' is not http://host:port");
  for (const auto& e : route.entry_points)
    if (e.empty() || !safe_chars(e, "_-")) throw RouteFormatError("entry point '" + e + "' is not [A-Za-z0-9_-]");
  if (route.wake_secret && (route.wake_secret->size() < 16 || !safe_chars(*route.wake_secret, "")))
    throw RouteFormatError("wake secret is not 16 or more of [A-Za-z0-9]");
  if (route.wake_deploy && (!route.wake_secret || route.wake_deploy->empty() || route.wake_deploy->size() > 64 || !safe_chars(*route.wake_deploy, "_-")))
    throw RouteFormatError("wake deploy is not 1-64 of [A-Za-z0-9_-] on a sleeping route");
}

}  // namespace

std::string router_name(const std::string& app_id) { return "rt-app-" + app_id; }
std::string middleware_name(const std::string& app_id) { return "rt-mw-" + app_id; }
std::string service_name(const std::string& app_id) { return "rt-svc-" + app_id; }
std::string wake_middleware_name(const std::string& app_id) { return "rt-wake-" + app_id; }

std::string rule_for(const std::string& base_path) {
  return "Path(`" + base_path + "`) || PathPrefix(`" + base_path + "/`)";
}

std::string render(const Route& route) {
  check(route);
  YAML::Emitter out;
  out << YAML::Comment("Managed by fun-ai-runtime-agent: rewritten on every deploy, removed on stop.");
  out << YAML::BeginMap << YAML::Key << "http" << YAML::Value << YAML::BeginMap;

  out << YAML::Key << "routers" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << router_name(route.app_id) << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "rule" << YAML::Value << YAML::DoubleQuoted << rule_for(route.base_path);
  out << YAML::Key << "service" << YAML::Value << service_name(route.app_id);
  out << YAML::Key << "middlewares" << YAML::Value << YAML::BeginSeq << middleware_name(route.app_id);
  if (route.wake_secret) out << wake_middleware_name(route.app_id);
  out << YAML::EndSeq;
  if (!route.entry_points.empty()) {
    out << YAML::Key << "entryPoints" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : route.entry_points) out << e;
    out << YAML::EndSeq;
  }
  if (route.priority) out << YAML::Key << "priority" << YAML::Value << *route.priority;
  out << YAML::EndMap << YAML::EndMap;

  out << YAML::Key << "middlewares" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << middleware_name(route.app_id) << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "stripPrefix" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "prefixes" << YAML::Value << YAML::BeginSeq << YAML::DoubleQuoted << route.base_path << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndMap;
  if (route.wake_secret) {
    out << YAML::Key << wake_middleware_name(route.app_id) << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "customRequestHeaders" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << kWakeAppHeader << YAML::Value << YAML::DoubleQuoted << route.app_id;
    out << YAML::Key << kWakeSecretHeader << YAML::Value << YAML::DoubleQuoted << *route.wake_secret;
    if (route.wake_deploy) out << YAML::Key << kWakeDeployHeader << YAML::Value << YAML::DoubleQuoted << *route.wake_deploy;
    out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap;

  out << YAML::Key << "services" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << service_name(route.app_id) << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "loadBalancer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "passHostHeader" << YAML::Value << true;
  out << YAML::Key << "servers" << YAML::Value << YAML::BeginSeq;
  for (const auto& u : route.upstreams)
    out << YAML::BeginMap << YAML::Key << "url" << YAML::Value << YAML::DoubleQuoted << u << YAML::EndMap;
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap << YAML::EndMap;

  out << YAML::EndMap << YAML::EndMap;
  if (!out.good()) throw RouteFormatError("cannot render route for " + route.app_id + ": " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

Route parse(const std::string& yaml_text) {
  try {
    YAML::Node root = YAML::Load(yaml_text);
    YAML::Node routers = root["http"]["routers"];
    if (!routers || !routers.IsMap() || routers.size() != 1) throw RouteFormatError("expected exactly one router");
    std::string router = routers.begin()->first.as<std::string>();
    if (router.rfind("rt-app-", 0) != 0) throw RouteFormatError("router '" + router + "' is not rt-app-{appId}");
    Route route;
    route.app_id = router.substr(7);
    YAML::Node r = routers.begin()->second;
    if (r["entryPoints"])
      for (const auto& e : r["entryPoints"]) route.entry_points.push_back(e.as<std::string>());
    if (r["priority"]) route.priority = r["priority"].as<int>();
    YAML::Node prefixes = root["http"]["middlewares"][middleware_name(route.app_id)]["stripPrefix"]["prefixes"];
    if (!prefixes || !prefixes.IsSequence() || prefixes.size() != 1) throw RouteFormatError("expected one stripPrefix prefix");
    route.base_path = prefixes[0].as<std::string>();
    if (r["rule"].as<std::string>("") != rule_for(route.base_path)) throw RouteFormatError("rule does not match the base path");
    YAML::Node servers = root["http"]["services"][service_name(route.app_id)]["loadBalancer"]["servers"];
    if (!servers || !servers.IsSequence()) throw RouteFormatError("expected loadBalancer servers");
    for (const auto& s : servers) route.upstreams.push_back(s["url"].as<std::string>());
    YAML::Node wake = root["http"]["middlewares"][wake_middleware_name(route.app_id)]["headers"]["customRequestHeaders"];
    if (wake) {
      if (wake[kWakeAppHeader].as<std::string>("") != route.app_id) throw RouteFormatError("wake middleware names another app");
      route.wake_secret = wake[kWakeSecretHeader].as<std::string>("");
      if (wake[kWakeDeployHeader]) route.wake_deploy = wake[kWakeDeployHeader].as<std::string>("");
    }
    check(route);
    return route;
  } catch (const YAML::Exception& e) {
    throw RouteFormatError(std::string("not a routing file: ") + e.what());
  }
}

}  // namespace traefik
