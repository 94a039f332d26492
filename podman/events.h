// The libpod events stream: one callback per event, until stopped from another thread or until
// the stream ends (Podman restarted). Reconnecting is the caller's choice.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client.h"

namespace podman::events {

struct Event {
  std::string type;    // "container"
  std::string action;  // "start", "died", "restart", "remove", ...
  std::string id;
  std::string name;
  std::map<std::string, std::string> attributes;  // labels and name, image, ...
  int64_t time_nano = 0;
};

struct Filter {
  std::vector<std::string> types;   // {"container"}
  std::vector<std::string> labels;  // {"io.funai.managed=true"}
  std::vector<std::string> events;  // {"start","died"}
  // Events from this time on (whole seconds), read back from libpod's log, not only those that come
  // after libpod has opened it: libpod answers 200 before it starts reading, and an event in
  // between is lost otherwise. The cost: libpod then reads its whole event log from the start
  // (file or journald) to find them, once per connection. Unset: from when libpod starts reading.
  std::optional<std::chrono::system_clock::time_point> since;
};

// GET /events?stream=true&filters=... Blocks, calling on_event for each event, until `stop` is
// true (noticed within about a second), on_event returns false, or the server ends the stream.
// on_connected, when set, is called once libpod has accepted the stream (a 200 head), before any
// event. Throws Unreachable when Podman cannot be reached or the connection drops.
void stream(Client& client, const Filter& filter, const std::function<bool(const Event&)>& on_event,
            const std::atomic<bool>& stop, const std::function<void()>& on_connected = {});

// Parses one line of the stream; false when it is not an event.
bool parse(const std::string& line, Event& event);

}  // namespace podman::events
