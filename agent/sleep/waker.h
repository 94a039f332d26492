// The waker: the agent's second listener, where a sleeping app's routing file sends its requests.
// Traefik adds two headers to them (kWakeAppHeader, kWakeSecretHeader); a request without the
// node's secret gets 403 and starts nothing, one naming no app of this node 404. Otherwise the
// request waits in the app's queue (bounded: past it, 503 with Retry-After) while the app is woken
// (one wake for any number of requests, on a thread of its own: one app's slow wake holds up no
// other's), then it is relayed to the app's container (relay.h): one request per connection, with
// "Connection: close" both ways, so no later request on the connection, which would carry the
// secret again, reaches the app. Every phase of a relay has a deadline; a relayed connection holds
// no thread, whether it carries one request, a body, or a WebSocket for hours.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "sleep/relay.h"

namespace agent {

class Waker {
 public:
  struct Outcome {
    enum class Kind { relay, not_here, failed } kind = Kind::not_here;
    std::string host;  // relay: where the app listens
    int port = 0;
    std::string detail;  // failed: why, for the log and the 503's text
  };
  // Wakes the app (or finds it awake) on a thread of its own: where to relay, or why not. `give_up_by`
  // is when the first waiting request gets its 504: no claim is waited for past it.
  using Wake = std::function<Outcome(const std::string& app_id, std::chrono::steady_clock::time_point give_up_by)>;

  struct Options {
    std::string host;  // an address of this node (never 0.0.0.0: routing files name it)
    int port = 7006;   // 0 = an ephemeral port
    std::string secret;
    int max_connections = 4096;
    relay::Limits limits;
    int queue_per_app = 64;    // requests waiting for one app's wake
    int relays_per_app = 256;  // connections of one app relayed at once
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
