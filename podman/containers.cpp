#include "containers.h"

namespace podman::containers {
namespace {

std::map<std::string, std::string> string_map(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

std::chrono::milliseconds budget_for(unsigned timeout_seconds) {
  return std::chrono::milliseconds((timeout_seconds + 15) * 1000LL);
}

}  // namespace

std::string Container::ip_on(const std::string& network) const {
  auto it = ip_by_network.find(network);
  return it == ip_by_network.end() ? "" : it->second;
}

std::string create(Client& client, const Spec& spec) {
  const std::string call = "container create";
  auto r = client.post(call, "/containers/create", to_json(spec).dump());
  if (r.status != 201 && r.status != 200) client.fail(call, r);
  return Client::decode(call, r).value("Id", "");
}

void start(Client& client, const std::string& name) {
  const std::string call = "container start";
  auto r = client.post(call, "/containers/" + escape(name) + "/start");
  if (r.status != 204 && r.status != 304) client.fail(call, r);
}

void stop(Client& client, const std::string& name, unsigned timeout_seconds) {
  const std::string call = "container stop";
  Request request{call, "POST", "/containers/" + escape(name) + "/stop?timeout=" + std::to_string(timeout_seconds)};
  request.budget = budget_for(timeout_seconds);
  auto r = client.send(request);
  if (r.status != 204 && r.status != 304) client.fail(call, r);
}

bool remove(Client& client, const std::string& name, bool force, unsigned timeout_seconds, bool ignore_missing) {
  const std::string call = "container remove";
  Request request{call, "DELETE",
                  "/containers/" + escape(name) + "?force=" + (force ? "true" : "false") + "&timeout=" + std::to_string(timeout_seconds)};
  request.budget = budget_for(timeout_seconds);
  auto r = client.send(request);
  if (r.status == 200 || r.status == 204) return true;
  if (r.status == 404 && ignore_missing) return false;
  client.fail(call, r);
}

Container inspect(Client& client, const std::string& name) {
  const std::string call = "container inspect";
  auto r = client.get(call, "/containers/" + escape(name) + "/json");
  if (r.status != 200) client.fail(call, r);
  auto j = Client::decode(call, r);
  Container c;
  c.id = j.value("Id", "");
  c.name = j.value("Name", "");
  c.image = j.value("ImageName", "");
  c.image_id = j.value("Image", "");
  c.restart_count = j.value("RestartCount", 0);
  if (j.contains("State") && j["State"].is_object()) {
    const auto& s = j["State"];
    c.state.status = s.value("Status", "");
    c.state.running = s.value("Running", false);
    c.state.exit_code = s.value("ExitCode", 0);
    c.state.oom_killed = s.value("OOMKilled", false);
    c.state.started_at = s.value("StartedAt", "");
    c.state.finished_at = s.value("FinishedAt", "");
    c.state.error = s.value("Error", "");
  }
  if (j.contains("Config") && j["Config"].is_object() && j["Config"].contains("Labels"))
    c.labels = string_map(j["Config"]["Labels"]);
  auto networks = j.value("/NetworkSettings/Networks"_json_pointer, nlohmann::json::object());
  for (auto it = networks.begin(); it != networks.end(); ++it)
    if (it.value().is_object()) c.ip_by_network[it.key()] = it.value().value("IPAddress", "");
  return c;
}

std::vector<Summary> list(Client& client, const std::vector<std::string>& label_filters, bool all) {
  const std::string call = "container list";
  std::string path = std::string("/containers/json?all=") + (all ? "true" : "false");
  if (!label_filters.empty()) path += "&filters=" + escape(nlohmann::json{{"label", label_filters}}.dump());
  auto r = client.get(call, path);
  if (r.status != 200) client.fail(call, r);
  std::vector<Summary> out;
  for (const auto& j : Client::decode(call, r)) {
    Summary s;
    s.id = j.value("Id", "");
    if (j.contains("Names") && j["Names"].is_array())
      for (const auto& n : j["Names"]) s.names.push_back(n.get<std::string>());
    s.image = j.value("Image", "");
    s.state = j.value("State", "");
    s.exit_code = j.value("ExitCode", 0);
    if (j.contains("Labels")) s.labels = string_map(j["Labels"]);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Stats> stats(Client& client) {
  const std::string call = "container stats";
  auto r = client.get(call, "/containers/stats?stream=false");
  if (r.status != 200) client.fail(call, r);
  auto j = Client::decode(call, r);
  std::vector<Stats> out;
  if (!j.contains("Stats") || !j["Stats"].is_array()) return out;
  for (const auto& e : j["Stats"]) {
    if (!e.is_object()) continue;
    Stats s;
    s.id = e.value("ContainerID", "");
    s.name = e.value("Name", "");
    // Podman 4 sends NetInput; Podman 5 sends Network: {"eth0": {"RxBytes": ..}, ..} instead.
    if (e.contains("NetInput") && e["NetInput"].is_number_unsigned()) {
      s.net_input = e["NetInput"].get<uint64_t>();
    } else if (e.contains("Network") && e["Network"].is_object()) {
      for (const auto& [name, interface] : e["Network"].items())
        if (interface.is_object() && interface.contains("RxBytes") && interface["RxBytes"].is_number_unsigned())
          s.net_input += interface["RxBytes"].get<uint64_t>();
    }
    out.push_back(std::move(s));
  }
  return out;
}

void rename(Client& client, const std::string& name, const std::string& new_name) {
  const std::string call = "container rename";
  auto r = client.post(call, "/containers/" + escape(name) + "/rename?name=" + escape(new_name));
  if (r.status != 204 && r.status != 200) client.fail(call, r);
}

Logs logs(Client& client, const std::string& name, unsigned tail) {
  const std::string call = "container logs";
  auto r = client.get(call, "/containers/" + escape(name) + "/logs?stdout=true&stderr=true&tail=" + std::to_string(tail));
  if (r.status != 200) client.fail(call, r);
  return demultiplex(r.body);
}

}  // namespace podman::containers
