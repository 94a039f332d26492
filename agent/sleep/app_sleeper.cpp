#include "sleep/app_sleeper.h"

#include <Poco/Logger.h>

#include <random>

#include "apps/app_containers.h"
#include "base/app_error.h"
#include "base/app_labels.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/errors.h"
#include "podman/networks.h"

namespace agent {
namespace pc = podman::containers;

namespace {
Poco::Logger& logger() { return Poco::Logger::get("sleep"); }

std::string random_secret() {
  std::random_device random;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) s += hex[random() & 15];
  return s;
}
}  // namespace

AppSleeper::AppSleeper(const Settings& settings, podman::Client& podman, traefik::RouteDir* routes, AppParts& parts)
    : settings_(settings), podman_(podman), routes_(routes), parts_(parts), secret_(settings.wake_secret) {}

AppSleeper::~AppSleeper() { stop(); }

void AppSleeper::adopt_secret() {
  if (secret_.empty() && routes_) {
    // The secret the sleeping apps' routing files carry (Traefik sends it), so that a restart does
    // not turn their wakes into 403s.
    for (const auto& app : routes_->list()) {
      try {
        auto route = routes_->read(app);
        if (route && route->wake_secret) {
          secret_ = *route->wake_secret;
          break;
        }
      } catch (const std::exception&) {
      }
    }
  }
  if (secret_.empty()) secret_ = random_secret();
}


bool AppSleeper::enabled() const { return settings_.idle_sleep_seconds > 0 && routes_ != nullptr; }

std::optional<traefik::Route> AppSleeper::sleeping_route_now(const traefik::Route& sleeping) const {
  if (!enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  if (waker_url_.empty()) return sleeping;
  traefik::Route now = sleeping;
  now.upstreams = {waker_url_};
  now.wake_secret = secret_;
  return now;
}

void AppSleeper::start() {
  if (!enabled()) return;
  start_waker();
  scanner_ = std::thread([this] { scan_loop(); });
}

void AppSleeper::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_up_.notify_all();
  if (scanner_.joinable()) scanner_.join();
  std::unique_ptr<Waker> waker;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    waker.swap(waker_);
  }
  if (waker) waker->stop();
}

bool AppSleeper::start_waker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waker_) return true;
  }
  if (secret_.empty()) adopt_secret();  // before the first route to the waker is written
  Waker::Options options;
  options.secret = secret_;
  options.max_connections = settings_.max_connections;
  options.limits.answer = std::chrono::seconds(settings_.wake_answer_timeout_seconds);
  options.limits.idle = std::chrono::seconds(settings_.wake_idle_timeout_seconds);
  options.queue_per_app = settings_.wake_queue_per_app;
  options.relays_per_app = settings_.wake_relays_per_app;
  try {
    if (!settings_.wake_listen.empty()) {
      auto colon = settings_.wake_listen.rfind(':');
      options.host = settings_.wake_listen.substr(0, colon);
      options.port = std::stoi(settings_.wake_listen.substr(colon + 1));
    } else {
      parts_.network.ensure();
      auto network = podman::networks::inspect(podman_, settings_.network);
      if (network.gateways.empty()) throw std::runtime_error("network " + settings_.network + " has no gateway address");
      options.host = network.gateways.front();
      options.port = 7006;
    }
    auto waker = std::make_unique<Waker>(options, [this](const std::string& app, std::chrono::steady_clock::time_point give_up_by) {
      return wake_for_request(app, give_up_by);
    });
    waker->start();
    std::lock_guard<std::mutex> lock(mutex_);
    waker_url_ = waker->url();
    waker_ = std::move(waker);
    logger().information("waker listening on " + waker_url_);
    return true;
  } catch (const std::exception& e) {
    logger().warning(std::string("waker not started (no app sleeps until it is): ") + e.what());
    return false;
  }
}

int AppSleeper::waker_port() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waker_ ? waker_->port() : 0;
}

bool AppSleeper::sleeping(const std::string& app_id) const {
  if (!routes_) return false;
  try {
    auto route = routes_->read(app_id);
    return route && route->sleeping();
  } catch (const std::exception&) {
    return false;
  }
}

int AppSleeper::sleeping_count() const {
  if (!routes_) return 0;
  int n = 0;
  for (const auto& app : routes_->list()) n += sleeping(app) ? 1 : 0;
  return n;
}

}  // namespace agent
