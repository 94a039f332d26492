#include "images.h"

namespace podman::images {

std::optional<std::string> id_of(Client& client, const std::string& reference) {
  const std::string call = "image inspect";
  auto r = client.get(call, "/images/" + escape(reference) + "/json");
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) client.fail(call, r);
  auto j = Client::decode(call, r);
  std::string id = j.is_object() ? j.value("Id", "") : "";
  if (id.empty()) throw ServerError(call, r.status, "bad answer", "libpod reported no id for image " + reference);
  return id;
}

std::string pull(Client& client, const std::string& reference, const PullOptions& options) {
  const std::string call = "image pull";
  std::string path = "/images/pull?reference=" + escape(reference) + "&policy=" + escape(options.policy);
  if (options.tls_verify) path += *options.tls_verify ? "&tlsVerify=true" : "&tlsVerify=false";
  Request request{call, "POST", path};
  request.budget = options.timeout;
  if (!options.registry_auth.empty()) request.headers["X-Registry-Auth"] = options.registry_auth;

  // The answer is a stream of JSON objects: {"stream":..}, {"error":..}, {"images":[..],"id":..}.
  std::string buffer, error, id, raw;
  auto consume = [&](std::string_view chunk) {
    buffer.append(chunk);
    if (raw.size() < 4096) raw.append(chunk.substr(0, 4096 - raw.size()));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      auto j = nlohmann::json::parse(buffer.substr(start, nl - start), nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty()) error = j["error"];
      if (j.contains("id") && j["id"].is_string()) id = j["id"];
    }
    buffer.erase(0, start);
    return true;
  };
  long status = client.stream(request, consume);
  consume("\n");  // a last object without a newline
  if (status != 200) client.fail(call, {status, raw});
  if (!error.empty()) {
    client.report_error(call);
    throw ServerError(call, status, "pull failed", error);
  }
  if (id.empty()) throw ServerError(call, status, "pull failed", "libpod reported no image id for " + reference);
  return id;
}

std::vector<Image> list(Client& client, const std::string& reference_filter) {
  const std::string call = "image list";
  std::string path = "/images/json";
  if (!reference_filter.empty()) path += "?filters=" + escape(nlohmann::json{{"reference", {reference_filter}}}.dump());
  auto r = client.get(call, path);
  for (int again = 0; again < 3 && r.status != 200 && r.body.find("image not known") != std::string::npos; ++again)
    r = client.get(call, path);
  if (r.status != 200) client.fail(call, r);
  std::vector<Image> out;
  for (const auto& j : Client::decode(call, r)) {
    Image image;
    image.id = j.value("Id", "");
    for (const char* key : {"RepoTags", "RepoDigests", "History"}) {
      if (!j.contains(key) || !j[key].is_array()) continue;
      std::string k = key;
      auto& into = k == "RepoTags" ? image.names : k == "RepoDigests" ? image.repo_digests : image.history;
      for (const auto& t : j[key])
        if (t.is_string()) into.push_back(t.get<std::string>());
    }
    if (j.contains("Containers") && j["Containers"].is_number_integer()) image.containers = j["Containers"].get<int>();
    out.push_back(std::move(image));
  }
  return out;
}

void remove(Client& client, const std::string& reference, bool force) {
  const std::string call = "image remove";
  auto r = client.del(call, "/images/" + escape(reference) + (force ? "?force=true" : ""));
  if (r.status != 200) client.fail(call, r);
}

}  // namespace podman::images
