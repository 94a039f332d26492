// The agent's Prometheus metrics (prometheus-cpp core: its registry and text serializer; served
// by our own HTTP server at GET /metrics). One process-wide set: every part of the agent records
// into it, like a Prometheus client's default registry. Thread-safe. Labels have bounded values
// (route templates, result codes, call names), never ids or user input.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace agent {

class Metrics {
 public:
  Metrics();

  void http_request(const std::string& route, const std::string& method, int status, double seconds);
  void deploy(const std::string& result, double seconds);  // result: "success" or an error code
  void heartbeat(bool ok);
  void podman_error(const std::string& call);
  void reconcile_action(const std::string& action, int count);
  void managed_containers(size_t running, size_t total);
  void podman_up(bool up);
  void images_removed(int count);
  void image_pull(const std::string& result);  // "pulled", "unchanged", "local_copy", or a PullFailed reason
  void http_connections(int open);
  void http_connection_refused();  // closed at accept: RUNTIME_MAX_CONNECTIONS reached
  void apps_sleeping(int count);
  void wake(const std::string& result, double seconds);  // result: "woken" or an error code
  void disk_space(uint64_t free_bytes, uint64_t size_bytes);
  void reconcile_failed_apps(int count);  // after each full pass
  void routing_dir_recreated();           // the routing directory was gone and made again
  // A relay of the waker ended by its deadline. phase: head (the request head did not arrive),
  // wake (the app did not wake in time), answer (the app's answer head did not come), idle (no byte
  // either way), half_open (an upgraded connection after one side's end).
  void waker_expired(const std::string& phase);
  // A request the waker turned away with 503: queue_full (too many wait for the app's wake),
  // relays_full (too many of the app's connections are being relayed); peer_full: a connection
  // closed at accept (its address holds too many connections that have not named an app).
  void waker_refused(const std::string& reason);
  void waker_relays(int open);  // connections being relayed to apps now

  // The text exposition format (version 0.0.4).
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& deploys_;
  prometheus::Histogram& deploy_duration_;
  prometheus::Family<prometheus::Counter>& heartbeats_;
  prometheus::Family<prometheus::Counter>& podman_errors_;
  prometheus::Family<prometheus::Counter>& reconcile_actions_;
  prometheus::Family<prometheus::Gauge>& containers_;
  prometheus::Gauge& podman_up_;
  prometheus::Counter& images_removed_;
  prometheus::Family<prometheus::Counter>& image_pulls_;
  prometheus::Gauge& http_connections_;
  prometheus::Counter& http_connections_refused_;
  prometheus::Gauge& apps_sleeping_;
  prometheus::Family<prometheus::Counter>& wakes_;
  prometheus::Histogram& wake_duration_;
  prometheus::Gauge& disk_free_bytes_;
  prometheus::Gauge& disk_size_bytes_;
  prometheus::Gauge& reconcile_failed_apps_;
  prometheus::Counter& routing_dir_recreated_;
  prometheus::Family<prometheus::Counter>& waker_expired_;
  prometheus::Family<prometheus::Counter>& waker_refused_;
  prometheus::Gauge& waker_relays_;
};

Metrics& metrics();

// The method as a label: one of the methods HTTP defines (RFC 9110), else "other", so no caller
// can add series by inventing methods.
std::string method_label(const std::string& method);

}  // namespace agent
