#include "system.h"

namespace podman::system {

bool ping(Client& client) {
  auto r = client.send({"ping", "GET", "/_ping", "", std::chrono::milliseconds(3000)});
  return r.status == 200 && r.body == "OK";
}

Info info(Client& client) {
  const std::string call = "info";
  auto r = client.get(call, "/info");
  if (r.status != 200) client.fail(call, r);
  auto j = Client::decode(call, r);
  Info info;
  info.version = j.value("/version/Version"_json_pointer, "");
  info.api_version = j.value("/version/APIVersion"_json_pointer, "");
  info.graph_root = j.value("/store/graphRoot"_json_pointer, "");
  info.cgroup_version = j.value("/host/cgroupVersion"_json_pointer, "");
  info.cgroup_manager = j.value("/host/cgroupManager"_json_pointer, "");
  info.oci_runtime = j.value("/host/ociRuntime/name"_json_pointer, "");
  return info;
}

}  // namespace podman::system
