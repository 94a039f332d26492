#include "apps/app_containers.h"

#include <algorithm>

#include "base/app_error.h"
#include "base/app_labels.h"

namespace agent {

namespace pc = podman::containers;

std::string label_of(const pc::Container& c, const char* key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? "" : it->second;
}

std::string image_of(const pc::Container& c) { return c.image.empty() ? label_of(c, labels::kImage) : c.image; }

void sort_newest_first(std::vector<pc::Container>& containers) {
  std::sort(containers.begin(), containers.end(), [](const pc::Container& a, const pc::Container& b) {
    return label_of(a, labels::kDeployId) > label_of(b, labels::kDeployId);
  });
}

std::vector<pc::Container> containers_of(podman::Client& podman, const std::string& app_id) {
  std::vector<pc::Container> out;
  for (const auto& s : pc::list(podman, {labels::managed_filter(), labels::app_filter(app_id)})) {
    try {
      out.push_back(pc::inspect(podman, s.id));
    } catch (const podman::NotFound&) {
      // removed between list and inspect
    }
  }
  sort_newest_first(out);
  return out;
}

std::optional<traefik::Route> route_for(const Settings& settings, const pc::Container& c) {
  std::string ip = c.ip_on(settings.network);
  std::string port = label_of(c, labels::kPort);
  if (ip.empty() || port.empty()) return std::nullopt;
  traefik::Route route;
  route.app_id = label_of(c, labels::kAppId);
  route.base_path = label_of(c, labels::kBasePath);
  if (route.base_path.empty()) route.base_path = "/apps/" + route.app_id;
  route.upstreams = {"http://" + ip + ":" + port};
  route.entry_points = settings.traefik_entrypoints;
  return route;
}

bool routes_to(const Settings& settings, const std::optional<traefik::Route>& current, const pc::Container& c) {
  auto expected = route_for(settings, c);
  return current && expected && current->upstreams == expected->upstreams;
}

void write_route(traefik::RouteDir& routes, const traefik::Route& route) {
  try {
    routes.write(route);
  } catch (const std::exception& e) {
    throw AppError("routing_write_failed", std::string("cannot write the routing file: ") + e.what());
  }
}

bool has_exited(const pc::Container& c) {
  return !c.state.running && (c.state.status == "exited" || c.state.status == "stopped" || c.state.status == "dead");
}

bool force_remove(podman::Client& podman, const Settings& settings, const std::string& name_or_id) {
  return pc::remove(podman, name_or_id, true, static_cast<unsigned>(settings.stop_timeout_seconds));
}

std::string last_log_lines(podman::Client& podman, const std::string& name, size_t count) {
  std::string t;
  try {
    t = pc::logs(podman, name, static_cast<unsigned>(count)).combined;
  } catch (const podman::Error&) {
    return "";
  }
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t pos = t.size();
  for (size_t n = 0; n < count && pos > 0; ++n) {
    auto nl = t.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  std::string out = t.substr(pos == 0 ? 0 : pos + 1);
  if (out.size() > 2000) out = out.substr(out.size() - 2000);
  return out;
}

}  // namespace agent
