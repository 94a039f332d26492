#include "apps/reconciler.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Logger.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <optional>

#include "apps/app_containers.h"
#include "apps/container_choice.h"
#include "base/lanes.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/events.h"

namespace agent {

namespace pc = podman::containers;

namespace {

Poco::Logger& logger() { return Poco::Logger::get("reconcile"); }

constexpr size_t kPassWorkers = 4;  // apps reconciled at once in a full pass

// libpod's times: RFC 3339 with nanoseconds and a zone ("2026-11-29T19:40:01.123456789Z" or
// "...+01:00"); the zero time means never. nullopt when unknown.
std::optional<Poco::Timestamp> parse_time(const std::string& text) {
  if (text.empty() || text.rfind("0001-", 0) == 0) return std::nullopt;
  std::string plain = text;
  auto dot = plain.find('.');
  if (dot != std::string::npos) {
    auto zone = plain.find_first_not_of("0123456789", dot + 1);
    plain.erase(dot, zone == std::string::npos ? std::string::npos : zone - dot);
  }
  Poco::DateTime parsed;
  int tz = 0;
  if (!Poco::DateTimeParser::tryParse("%Y-%m-%dT%H:%M:%S%z", plain, parsed, tz)) return std::nullopt;
  Poco::Timestamp at = parsed.timestamp();
  at -= static_cast<Poco::Timestamp::TimeDiff>(tz) * Poco::Timestamp::resolution();
  return at;
}

// A stopped container that nobody is stopping or restarting at the moment: not "stopping", and
// down for at least `settle` (or since a time libpod does not know).
bool down_for_at_least(const pc::State& state, std::chrono::milliseconds settle) {
  if (state.status == "stopping" || state.status == "removing") return false;
  if (settle.count() <= 0) return true;
  auto finished = parse_time(state.finished_at);
  if (!finished) return true;
  return finished->elapsed() >= static_cast<Poco::Timestamp::TimeDiff>(settle.count()) * 1000;
}

}  // namespace

namespace {
void record(const ReconcileSummary& s) {
  metrics().reconcile_action("route_written", s.routes_written);
  metrics().reconcile_action("route_removed", s.routes_removed);
  metrics().reconcile_action("container_removed", s.containers_removed);
  metrics().reconcile_action("container_started", s.containers_started);
  metrics().reconcile_action("container_renamed", s.containers_renamed);
  metrics().reconcile_action("temporary_file_removed", static_cast<int>(s.temporary_files_removed));
  metrics().reconcile_action("app_failed", s.apps_failed);
}
}  // namespace

void ReconcileSummary::add(const ReconcileSummary& o) {
  apps += o.apps;
  routes_written += o.routes_written;
  routes_removed += o.routes_removed;
  containers_removed += o.containers_removed;
  containers_started += o.containers_started;
  containers_renamed += o.containers_renamed;
  temporary_files_removed += o.temporary_files_removed;
  apps_failed += o.apps_failed;
}

std::string ReconcileSummary::describe() const {
  return std::to_string(apps) + " app(s): " + std::to_string(routes_written) + " route(s) written, " +
         std::to_string(routes_removed) + " removed; " + std::to_string(containers_removed) + " container(s) removed, " +
         std::to_string(containers_started) + " started, " + std::to_string(containers_renamed) + " renamed; " +
         std::to_string(temporary_files_removed) + " temporary file(s) removed" +
         (apps_failed ? "; " + std::to_string(apps_failed) + " app(s) failed" : "");
}

Reconciler::Reconciler(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts)
    : settings_(settings), podman_(podman), routes_(routes), parts_(parts) {}

Reconciler::~Reconciler() { stop(); }

void Reconciler::start() {
  periodic_ = std::thread([this] { periodic_loop(); });
  events_ = std::thread([this] { events_loop(); });
}

void Reconciler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_events_ = true;
  wake_.notify_all();
  if (periodic_.joinable()) periodic_.join();
  if (events_.joinable()) events_.join();
}

ReconcileSummary Reconciler::run_once() {
  ReconcileSummary summary;
  if (routes_) summary.temporary_files_removed = routes_->remove_temporary_files();
  std::map<std::string, std::vector<std::string>> ids_by_app;
  for (const auto& s : pc::list(podman_, {labels::managed_filter()})) {
    auto it = s.labels.find(labels::kAppId);
    if (it != s.labels.end()) ids_by_app[it->second].push_back(s.id);
  }
  // Apps are independent, and a pass mostly waits for libpod's inspects: a few apps at a time,
  // each one claimed, inspected, reconciled and released in one lane.
  std::vector<const std::pair<const std::string, std::vector<std::string>>*> work;
  for (const auto& entry : ids_by_app) work.push_back(&entry);
  std::mutex merge;
  std::exception_ptr failure;
  run_in_lanes(work.size(), kPassWorkers, [&](size_t i) {
    ReconcileSummary mine;
    bool go_on = true;
    try {
      reconcile_listed_app(work[i]->first, work[i]->second, mine);
    } catch (const podman::Unreachable&) {
      std::lock_guard<std::mutex> lock(merge);
      if (!failure) failure = std::current_exception();
      go_on = false;  // Podman is gone: the other lanes stop too
    } catch (const std::exception& e) {
      // One app that cannot be repaired (its container will not start, say) must not keep the
      // others from being repaired: it is counted, logged, and tried again next pass.
      ++mine.apps_failed;
      logger().warning("reconcile of app " + work[i]->first + " failed: " + e.what());
    } catch (...) {
      ++mine.apps_failed;
      logger().warning("reconcile of app " + work[i]->first + " failed");
    }
    std::lock_guard<std::mutex> lock(merge);
    summary.add(mine);
    return go_on;
  });
  if (failure) std::rethrow_exception(failure);
  summary.apps = static_cast<int>(ids_by_app.size());
  if (routes_) {
    for (const auto& app_id : routes_->list()) {
      if (ids_by_app.count(app_id)) continue;
      auto claim = parts_.locks.try_acquire(app_id);
      if (!claim) continue;
      // Re-check under the claim: a deploy may have finished since the list.
      bool has_container = !pc::list(podman_, {labels::managed_filter(), labels::app_filter(app_id)}).empty();
      if (!has_container && routes_->remove(app_id)) ++summary.routes_removed;
      parts_.statuses.invalidate(app_id);
    }
  }
  record(summary);
  metrics().reconcile_failed_apps(summary.apps_failed);
  if (summary.changed() || summary.apps_failed) logger().information("reconciled " + summary.describe());
  return summary;
}

void Reconciler::reconcile_listed_app(const std::string& app_id, const std::vector<std::string>& ids,
                                      ReconcileSummary& summary) {
  auto claim = parts_.locks.try_acquire(app_id);
  if (!claim) return;  // a deploy or stop is at work on it
  std::vector<pc::Container> containers;
  for (const auto& id : ids) {
    try {
      containers.push_back(pc::inspect(podman_, id));
    } catch (const podman::NotFound&) {
    }
  }
  reconcile_containers(app_id, std::move(containers), summary, true);
}

ReconcileSummary Reconciler::reconcile_app(const std::string& app_id) {
  ReconcileSummary summary;
  auto claim = parts_.locks.try_acquire(app_id);
  if (!claim) {
    summary.apps_busy = 1;
    return summary;
  }
  auto containers = containers_of(podman_, app_id);
  summary.apps = 1;
  parts_.statuses.invalidate(app_id);
  if (containers.empty()) {
    if (routes_ && routes_->remove(app_id)) ++summary.routes_removed;
  } else {
    reconcile_containers(app_id, std::move(containers), summary, false);
  }
  claim.release();
  record(summary);
  if (summary.changed()) logger().information("reconciled app " + app_id + ": " + summary.describe());
  return summary;
}

void Reconciler::reconcile_containers(const std::string& app_id, std::vector<pc::Container> containers,
                                      ReconcileSummary& summary, bool start_stopped) {
  // Containers in their grace period belong to the retirer.
  containers.erase(std::remove_if(containers.begin(), containers.end(), [&](const pc::Container& c) { return parts_.retirer.retiring(c); }),
                   containers.end());
  if (containers.empty()) return;
  sort_newest_first(containers);

  std::optional<traefik::Route> current;
  if (routes_) {
    try {
      current = routes_->read(app_id);
    } catch (const std::exception& e) {
      logger().warning("routing file of app " + app_id + " is unreadable, rewriting it: " + e.what());
    }
  }
  const pc::Container* keep = &container_to_keep(settings_, containers, current);
  for (const auto& c : containers) {
    if (&c == keep) continue;
    force_remove(podman_, settings_, c.id);
    ++summary.containers_removed;
  }

  pc::Container kept = *keep;
  // A sleeping app (scale to zero): its stopped container stays, its route to the waker is
  // brought to the current waker address and secret; with scale to zero off it is woken below
  // (by a full pass, as any container that stays down).
  if (!kept.state.running && current && current->sleeping()) {
    std::optional<traefik::Route> wanted = sleeping_route_now ? sleeping_route_now(*current) : current;
    if (wanted) {
      if (routes_ && !(*wanted == *current) && routes_->write(*wanted)) ++summary.routes_written;
      parts_.statuses.invalidate(app_id);
      return;
    }
  }
  // Podman may be restarting it (a `podman restart`, its restart policy): its start event brings
  // us back. Event-driven passes never start a container; full passes only one that stays down.
  if (!kept.state.running && !(start_stopped && down_for_at_least(kept.state, start_stopped_after))) return;
  if (!kept.state.running) {
    parts_.network.ensure();
    pc::start(podman_, kept.id);
    parts_.network.pin_bridge();
    ++summary.containers_started;
    kept = pc::inspect(podman_, kept.id);
  }
  const std::string canonical = labels::container_name(label_of(kept, labels::kUserId), app_id);
  if (kept.name != canonical) {
    try {
      pc::rename(podman_, kept.id, canonical);
      ++summary.containers_renamed;
    } catch (const podman::Error& e) {
      logger().warning("could not rename " + kept.name + " to " + canonical + ": " + e.message());
    }
  }
  if (routes_) {
    auto route = route_for(settings_, kept);
    if (route && routes_->write(*route)) ++summary.routes_written;
  }
  parts_.statuses.invalidate(app_id);
}

void Reconciler::periodic_loop() {
  using clock = std::chrono::steady_clock;
  auto next_full = clock::now();
  // Apps whose event came while a deploy, stop or pass held them: tried again shortly, so that
  // the event is not lost (a route left on an old IP until the next full pass).
  std::set<std::string> deferred;
  auto retry_at = clock::time_point::max();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_until(lock, std::min(next_full, retry_at), [&] { return stopping_ || !pending_apps_.empty(); });
    if (stopping_) break;
    std::set<std::string> apps;
    apps.swap(pending_apps_);
    auto now = clock::now();
    if (now >= retry_at) {
      apps.insert(deferred.begin(), deferred.end());
      deferred.clear();
      retry_at = clock::time_point::max();
    }
    bool full = now >= next_full || apps.count("");
    lock.unlock();
    try {
      if (full) {
        run_once();
      } else {
        for (const auto& app : apps)
          if (reconcile_app(app).apps_busy) deferred.insert(app);
      }
    } catch (const podman::Unreachable& e) {
      logger().warning("reconcile skipped: " + e.message());
    } catch (const std::exception& e) {
      logger().error(std::string("reconcile failed: ") + e.what());
    }
    lock.lock();
    if (now >= next_full) next_full = clock::now() + std::chrono::seconds(settings_.reconcile_seconds);
    if (!deferred.empty() && retry_at == clock::time_point::max()) retry_at = clock::now() + std::chrono::milliseconds(250);
  }
}

void Reconciler::events_loop() {
  podman::events::Filter filter{{"container"}, {labels::managed_filter()}, {"start", "died", "restart", "remove"}, {}};
  auto backoff = std::chrono::milliseconds(500);
  bool warned = false;
  while (!stop_events_.load()) {
    try {
      // From a second before asking (what happens while libpod sets the stream up is not lost);
      // an event seen twice costs one more look at its app.
      filter.since = std::chrono::system_clock::now() - std::chrono::seconds(1);
      auto connected = [&] {
        if (warned) logger().information("podman events stream connected again");
        events_connected_ = true;
        backoff = std::chrono::milliseconds(500);
        warned = false;
      };
      podman::events::stream(
          podman_, filter,
          [&](const podman::events::Event& e) {
            auto app = e.attributes.find(labels::kAppId);
            if (app != e.attributes.end()) {
              parts_.statuses.invalidate(app->second);
              std::lock_guard<std::mutex> lock(mutex_);
              pending_apps_.insert(app->second);
              wake_.notify_all();
            }
            return true;
          },
          stop_events_, connected);
      events_connected_ = false;
    } catch (const std::exception& e) {
      events_connected_ = false;
      if (!warned) logger().warning(std::string("podman events stream lost, reconnecting with backoff: ") + e.what());
      warned = true;
    }
    if (stop_events_.load()) break;
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    // After a reconnect, a full pass catches whatever happened while the stream was down.
    pending_apps_.insert("");
  }
}

}  // namespace agent
