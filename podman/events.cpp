#include "events.h"

namespace podman::events {

bool parse(const std::string& line, Event& event) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  event = Event{};
  event.type = j.value("Type", "");
  event.action = j.value("Action", j.value("status", ""));
  event.time_nano = j.value("timeNano", int64_t{0});
  if (j.contains("Actor") && j["Actor"].is_object()) {
    event.id = j["Actor"].value("ID", "");
    if (j["Actor"].contains("Attributes") && j["Actor"]["Attributes"].is_object())
      for (auto it = j["Actor"]["Attributes"].begin(); it != j["Actor"]["Attributes"].end(); ++it)
        if (it.value().is_string()) event.attributes[it.key()] = it.value().get<std::string>();
  }
  auto name = event.attributes.find("name");
  if (name != event.attributes.end()) event.name = name->second;
  return !event.type.empty() || !event.action.empty();
}

void stream(Client& client, const Filter& filter, const std::function<bool(const Event&)>& on_event,
            const std::atomic<bool>& stop, const std::function<void()>& on_connected) {
  nlohmann::json filters = nlohmann::json::object();
  if (!filter.types.empty()) filters["type"] = filter.types;
  if (!filter.labels.empty()) filters["label"] = filter.labels;
  if (!filter.events.empty()) filters["event"] = filter.events;
  std::string query = "stream=true&filters=" + escape(filters.dump());
  if (filter.since)  // Unix seconds, one of the forms libpod's ParseInputTime reads
    query += "&since=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(filter.since->time_since_epoch()).count());
  Request request{"events", "GET", "/events?" + query};
  std::string buffer;
  auto consume = [&](std::string_view chunk) {
    buffer.append(chunk);
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      Event event;
      if (parse(buffer.substr(start, nl - start), event) && !on_event(event)) return false;
    }
    buffer.erase(0, start);
    return true;
  };
  long status = client.stream(request, consume, &stop, [&](long head_status) {
    if (head_status == 200 && on_connected) on_connected();
  });
  if (status != 0 && status != 200 && !stop.load()) client.fail("events", {status, buffer});
}

}  // namespace podman::events
