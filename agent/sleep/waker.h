// The waker: the agent's second listener, where a sleeping app's routing file sends its requests.
// Traefik adds two headers to them (kWakeAppHeader, kWakeSecretHeader); a request without the
// node's secret gets 403 and starts nothing, one naming no app of this node 404. Otherwise the
// request waits while the app is woken (one wake for any number of requests), then its connection
// is relayed to the app's container: the request head without the two headers, then every byte
// both ways, in this listener's event loop (a relayed connection holds no thread, whether it
// carries one request, a body, or a WebSocket for hours). Requests that are not an upgrade are
// relayed with "Connection: close", so that no later request on the connection, which would carry
// the secret again, reaches the app.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace agent {

class Waker {
 public:
  struct Outcome {
    enum class Kind { relay, not_here, failed } kind = Kind::not_here;
    std::string host;  // relay: where the app listens
    int port = 0;
    std::string detail;  // failed: why, for the log and the 503's text
  };
  // Wakes the app (or finds it awake) on a worker thread: where to relay, or why not.
  using Wake = std::function<Outcome(const std::string& app_id)>;

  struct Options {
    std::string host;  // an address of this node (never 0.0.0.0: routing files name it)
    int port = 7006;   // 0 = an ephemeral port
    std::string secret;
    int max_connections = 4096;
    int wake_threads = 4;
    std::chrono::seconds head_deadline{10};
  };

  Waker(const Options& options, Wake wake);
  ~Waker();
  void start();
  void stop();
  int port() const;
  // http://host:port, for routing files.
  std::string url() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent
