#include "networks.h"

namespace podman::networks {
namespace {

Network from_json(const nlohmann::json& j) {
  Network n;
  n.name = j.value("name", "");
  n.id = j.value("id", "");
  n.driver = j.value("driver", "");
  n.interface_name = j.value("network_interface", "");
  n.dns_enabled = j.value("dns_enabled", false);
  n.internal = j.value("internal", false);
  if (j.contains("subnets") && j["subnets"].is_array())
    for (const auto& s : j["subnets"]) {
      n.subnets.push_back(s.value("subnet", ""));
      if (!s.value("gateway", "").empty()) n.gateways.push_back(s.value("gateway", ""));
    }
  return n;
}

}  // namespace

bool exists(Client& client, const std::string& name) {
  const std::string call = "network exists";
  auto r = client.get(call, "/networks/" + escape(name) + "/exists");
  if (r.status == 204) return true;
  if (r.status == 404) return false;
  client.fail(call, r);
}

Network create(Client& client, const std::string& name) {
  const std::string call = "network create";
  nlohmann::json body = {{"name", name}, {"driver", "bridge"}, {"dns_enabled", true}};
  auto r = client.post(call, "/networks/create", body.dump());
  if (r.status != 200 && r.status != 201) client.fail(call, r);
  return from_json(Client::decode(call, r));
}

Network inspect(Client& client, const std::string& name) {
  const std::string call = "network inspect";
  auto r = client.get(call, "/networks/" + escape(name) + "/json");
  if (r.status != 200) client.fail(call, r);
  return from_json(Client::decode(call, r));
}

}  // namespace podman::networks
