#include "metrics.h"

#include <prometheus/text_serializer.h>

namespace agent {

namespace {
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                  0.25,  0.5,    1,     2.5,  5,     10,   30};
const prometheus::Histogram::BucketBoundaries kDeployBuckets = {0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60};
}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("funai_http_requests_total")
                         .Help("HTTP requests by route, method and status")
                         .Register(*registry_)),
      http_duration_(prometheus::BuildHistogram()
                         .Name("funai_http_request_duration_seconds")
                         .Help("HTTP request duration by route")
                         .Register(*registry_)),
      deploys_(prometheus::BuildCounter().Name("funai_deploys_total").Help("Deploys by result").Register(*registry_)),
      deploy_duration_(prometheus::BuildHistogram()
                           .Name("funai_deploy_duration_seconds")
                           .Help("Duration of successful deploys, request to route switch")
                           .Register(*registry_)
                           .Add({}, kDeployBuckets)),
      heartbeats_(prometheus::BuildCounter().Name("funai_heartbeats_total").Help("Heartbeats by result").Register(*registry_)),
      podman_errors_(
          prometheus::BuildCounter().Name("funai_podman_errors_total").Help("Failed libpod calls by call (unreachable, conflict, server error; not-found answers are not counted)").Register(*registry_)),
      reconcile_actions_(prometheus::BuildCounter()
                             .Name("funai_reconcile_actions_total")
                             .Help("Changes made by the reconciler, by action")
                             .Register(*registry_)),
      containers_(prometheus::BuildGauge()
                      .Name("funai_managed_containers")
                      .Help("Managed app containers (state=running|total), at the last scrape")
                      .Register(*registry_)),
      podman_up_(prometheus::BuildGauge()
                     .Name("funai_podman_up")
                     .Help("1 when the libpod API answered at the last scrape")
                     .Register(*registry_)
                     .Add({})),
      images_removed_(prometheus::BuildCounter()
                          .Name("funai_images_removed_total")
                          .Help("App images removed: untagged after a redeploy, on delete, or by the periodic sweep")
                          .Register(*registry_)
                          .Add({})),
      image_pulls_(prometheus::BuildCounter()
                       .Name("funai_image_pulls_total")
                       .Help("Image pulls of deploys by result (pulled, unchanged, local_copy, or why it failed)")
                       .Register(*registry_)),
      http_connections_(prometheus::BuildGauge()
                            .Name("funai_http_connections")
                            .Help("Client connections open on the agent's API port")
                            .Register(*registry_)
                            .Add({})),
      http_connections_refused_(prometheus::BuildCounter()
                                    .Name("funai_http_connections_refused_total")
                                    .Help("Connections closed at accept because RUNTIME_MAX_CONNECTIONS were open")
                                    .Register(*registry_)
                                    .Add({})),
      apps_sleeping_(prometheus::BuildGauge()
                         .Name("funai_apps_sleeping")
                         .Help("Apps asleep (scale to zero): routed to the waker, container stopped")
                         .Register(*registry_)
                         .Add({})),
      wakes_(prometheus::BuildCounter().Name("funai_wakes_total").Help("Wakes of sleeping apps by result (woken, or why not)").Register(*registry_)),
      wake_duration_(prometheus::BuildHistogram()
                         .Name("funai_wake_duration_seconds")
                         .Help("Duration of wakes, start to route switch")
                         .Register(*registry_)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 20})),
      disk_free_bytes_(prometheus::BuildGauge()
                           .Name("funai_disk_free_bytes")
                           .Help("Free space of Podman's storage (or RUNTIME_DISK_PATH) at the last scrape, as the heartbeat reports it")
                           .Register(*registry_)
                           .Add({})),
      disk_size_bytes_(prometheus::BuildGauge()
                           .Name("funai_disk_size_bytes")
                           .Help("Size of that filesystem at the last scrape")
                           .Register(*registry_)
                           .Add({})),
      reconcile_failed_apps_(prometheus::BuildGauge()
                                 .Name("funai_reconcile_failed_apps")
                                 .Help("Apps the last full reconcile pass could not repair (tried again on the next pass)")
                                 .Register(*registry_)
                                 .Add({})),
      routing_dir_recreated_(prometheus::BuildCounter()
                                 .Name("funai_routing_dir_recreated_total")
                                 .Help("Times the routing directory was found gone and made again")
                                 .Register(*registry_)
                                 .Add({})),
      waker_expired_(prometheus::BuildCounter()
                         .Name("funai_waker_expired_total")
                         .Help("Waker connections ended by a deadline, by phase (head, wake, answer, idle, half_open)")
                         .Register(*registry_)),
      waker_refused_(prometheus::BuildCounter()
                         .Name("funai_waker_refused_total")
                         .Help("Requests the waker turned away: queue_full and relays_full (503), peer_full (closed: one address holds too many connections that named no app)")
                         .Register(*registry_)),
      waker_relays_(prometheus::BuildGauge()
                        .Name("funai_waker_relays")
                        .Help("Connections the waker relays to apps now")
                        .Register(*registry_)
                        .Add({})) {
  // The usual outcomes exist from the start, so rules comparing them see a 0 rather than nothing.
  heartbeats_.Add({{"result", "ok"}});
  heartbeats_.Add({{"result", "failed"}});
  // Failures too: increase() sees a failure only as a step from a value scraped before it.
  for (const char* result : {"success", "image_pull_failed", "image_unavailable", "app_not_ready", "app_exited", "name_in_use",
                             "routing_write_failed", "podman_unavailable", "podman_error", "internal_error"})
    deploys_.Add({{"result", result}});
  for (const char* result : {"woken", "app_not_ready", "app_exited", "podman_unavailable", "podman_error", "routing_write_failed", "failed"})
    wakes_.Add({{"result", result}});
  for (const char* phase : {"head", "wake", "answer", "idle", "half_open"}) waker_expired_.Add({{"phase", phase}});
  for (const char* reason : {"queue_full", "relays_full", "peer_full"}) waker_refused_.Add({{"reason", reason}});
}

void Metrics::waker_expired(const std::string& phase) { waker_expired_.Add({{"phase", phase}}).Increment(); }
void Metrics::waker_refused(const std::string& reason) { waker_refused_.Add({{"reason", reason}}).Increment(); }
void Metrics::waker_relays(int open) { waker_relays_.Set(open); }

void Metrics::apps_sleeping(int count) { apps_sleeping_.Set(count); }

void Metrics::wake(const std::string& result, double seconds) {
  wakes_.Add({{"result", result}}).Increment();
  if (result == "woken") wake_duration_.Observe(seconds);
}

void Metrics::http_connections(int open) { http_connections_.Set(open); }

void Metrics::http_connection_refused() { http_connections_refused_.Increment(); }

void Metrics::http_request(const std::string& route, const std::string& method, int status, double seconds) {
  http_requests_.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}}).Increment();
  http_duration_.Add({{"route", route}}, kRequestBuckets).Observe(seconds);
}

void Metrics::deploy(const std::string& result, double seconds) {
  deploys_.Add({{"result", result}}).Increment();
  if (result == "success") deploy_duration_.Observe(seconds);
}

void Metrics::heartbeat(bool ok) { heartbeats_.Add({{"result", ok ? "ok" : "failed"}}).Increment(); }

void Metrics::podman_error(const std::string& call) { podman_errors_.Add({{"call", call}}).Increment(); }

void Metrics::reconcile_action(const std::string& action, int count) {
  if (count > 0) reconcile_actions_.Add({{"action", action}}).Increment(count);
}

void Metrics::managed_containers(size_t running, size_t total) {
  containers_.Add({{"state", "running"}}).Set(static_cast<double>(running));
  containers_.Add({{"state", "total"}}).Set(static_cast<double>(total));
}

void Metrics::disk_space(uint64_t free_bytes, uint64_t size_bytes) {
  disk_free_bytes_.Set(static_cast<double>(free_bytes));
  disk_size_bytes_.Set(static_cast<double>(size_bytes));
}

void Metrics::reconcile_failed_apps(int count) { reconcile_failed_apps_.Set(count); }

void Metrics::routing_dir_recreated() { routing_dir_recreated_.Increment(); }

std::string method_label(const std::string& method) {
  for (const char* known : {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"})
    if (method == known) return method;
  return "other";
}

void Metrics::podman_up(bool up) { podman_up_.Set(up ? 1 : 0); }

void Metrics::images_removed(int count) {
  if (count > 0) images_removed_.Increment(count);
}

void Metrics::image_pull(const std::string& result) { image_pulls_.Add({{"result", result}}).Increment(); }

std::string Metrics::serialize() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

Metrics& metrics() {
  static Metrics instance;
  return instance;
}

}  // namespace agent
