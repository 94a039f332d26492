// The libpod v4 REST transport: libcurl over a unix socket (unix:///path) or TCP (tcp://host:port).
// Thread-safe; connections are kept in a small pool of curl handles and reused between calls.
// Only this file and client.cpp know HTTP; the endpoint families (containers.h, images.h, ...)
// build paths, check the status codes libpod documents and decode bodies.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"

namespace podman {

struct Response {
  long status = 0;
  std::string body;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds call_budget{30000};  // default for calls that give none
};

struct Request {
  Request(std::string call_name, std::string http_method, std::string api_path, std::string json_body = "",
          std::chrono::milliseconds call_budget = std::chrono::milliseconds(0))
      : call(std::move(call_name)), method(std::move(http_method)), path(std::move(api_path)), body(std::move(json_body)),
        budget(call_budget) {}

  std::string call;    // human name for errors: "container create"
  std::string method;  // GET, POST, DELETE
  std::string path;    // below /v4.0.0/libpod, with query string: "/containers/json?all=true"
  std::string body;    // JSON, sent with Content-Type: application/json when not empty
  std::chrono::milliseconds budget;  // 0 = the client's call_budget
  std::map<std::string, std::string> headers;
};

class Client {
 public:
  // endpoint: "unix:///run/podman/podman.sock", "/run/podman/podman.sock" or "tcp://host:port".
  explicit Client(const std::string& endpoint, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends the request and returns whatever status libpod answered. Throws Unreachable when no
  // answer came.
  Response send(const Request& request);
  Response get(const std::string& call, const std::string& path) { return send({call, "GET", path}); }
  Response post(const std::string& call, const std::string& path, const std::string& json_body = "") {
    return send({call, "POST", path, json_body});
  }
  Response del(const std::string& call, const std::string& path) { return send({call, "DELETE", path}); }

  // Sends the request and hands the body to on_data as it arrives. Returns the HTTP status.
  // The transfer ends when the server ends it, when on_data returns false, or when `stop`
  // becomes true (checked at least once a second). budget 0 = no overall limit. on_headers, when
  // set, is called with the status once the response head has arrived.
  long stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
              const std::atomic<bool>* stop = nullptr, const std::function<void(long)>& on_headers = {});

  // Throws the typed error for an unexpected answer, with libpod's cause and message.
  [[noreturn]] void fail(const std::string& call, const Response& response) const;

  // Called with the call's name whenever a call fails (for metrics). Set before use.
  void on_error(std::function<void(const std::string& call)> listener) { error_listener_ = std::move(listener); }
  void report_error(const std::string& call) const {
    if (error_listener_) error_listener_(call);
  }

  // Parses a JSON body or throws ServerError naming the call.
  static nlohmann::json decode(const std::string& call, const Response& response);

  const std::string& endpoint() const { return endpoint_; }

 private:
  void* acquire();
  void release(void* handle);
  void prepare(void* handle, const Request& request, void* header_list) const;

  std::string endpoint_;
  std::string socket_path_;  // empty for tcp
  std::string base_url_;
  ClientOptions options_;
  std::function<void(const std::string&)> error_listener_;
  std::mutex pool_mutex_;
  std::vector<void*> idle_;
};

// Percent-encodes a query-string value.
std::string escape(const std::string& value);

}  // namespace podman
