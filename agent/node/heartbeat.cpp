#include "node/heartbeat.h"

#include <set>

#include <Poco/Logger.h>

#include <memory>
#include <utility>
#include <vector>

#include "base/app_labels.h"
#include "base/http_call.h"
#include "base/metrics.h"
#include "podman/containers.h"
#include "podman/system.h"

namespace agent {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("heartbeat"); }

}  // namespace

Heartbeat::Heartbeat(const Settings& settings, podman::Client& podman)
    : settings_(settings),
      podman_(podman),
      enabled_(missing_settings().empty()),
      storage_(settings.disk_path, podman) {}

Heartbeat::~Heartbeat() { stop(); }

std::string Heartbeat::missing_settings() const {
  const std::pair<const char*, const std::string*> needed[] = {{"DEPLOY_BASE_URL", &settings_.deploy_base_url},
                                                               {"DEPLOY_NODE_TOKEN", &settings_.deploy_node_token},
                                                               {"RUNTIME_NODE_AGENT_BASE_URL", &settings_.node_agent_base_url},
                                                               {"RUNTIME_NODE_GATEWAY_BASE_URL", &settings_.node_gateway_base_url}};
  std::vector<std::string> missing;
  for (const auto& [name, value] : needed)
    if (value->empty()) missing.push_back(name);
  std::string text;
  for (size_t i = 0; i < missing.size(); ++i)
    text += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
  if (missing.empty()) return "";
  return text + (missing.size() == 1 ? " is" : " are");
}

void Heartbeat::start() {
  if (!enabled_) {
    logger().warning("heartbeat disabled: " + missing_settings() + " not set");
    return;
  }
  triggered_ = true;  // one at start
  thread_ = std::thread([this] { loop(); });
}

void Heartbeat::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::trigger() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    triggered_ = true;
  }
  wake_.notify_all();
}

nlohmann::json Heartbeat::payload() {
  nlohmann::json disk_pct = nullptr, disk_bytes = nullptr;
  if (auto disk = storage_.measure()) {
    disk_bytes = disk->free_bytes;
    disk_pct = static_cast<double>(static_cast<int64_t>(10.0 * disk->free_pct())) / 10.0;
  }
  nlohmann::json running_count = nullptr, app_count = nullptr;
  try {
    // containerCount: the apps with a running container (the Deploy plane's field counts running
    // containers); appCount: every deployed app, running, stopped or asleep (scale to zero), once.
    std::set<std::string> apps, running;
    for (const auto& c : podman::containers::list(podman_, {labels::managed_filter()}, true)) {
      auto app = c.labels.find(labels::kAppId);
      if (app == c.labels.end()) continue;
      apps.insert(app->second);
      if (c.state == "running") running.insert(app->second);
    }
    running_count = running.size();
    app_count = apps.size();
  } catch (const std::exception&) {
  }
  return {{"nodeName", settings_.node_name},
          {"agentBaseUrl", settings_.node_agent_base_url},
          {"gatewayBaseUrl", settings_.node_gateway_base_url},
          {"diskFreePct", disk_pct},
          {"diskFreeBytes", disk_bytes},
          {"containerCount", running_count},
          {"appCount", app_count}};
}

std::string Heartbeat::url() const {
  std::string base = settings_.deploy_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/internal/runtime-nodes/heartbeat";
}

bool Heartbeat::send_once() {
  std::string body = payload().dump();
  std::string url = this->url();
  HttpCall call;
  call.method = "POST";
  call.url = url;
  call.headers = {"Content-Type: application/json", "X-RT-Node-Token: " + settings_.deploy_node_token};
  call.body = body;
  auto answer = http_call(call);
  bool ok = answer.ok();
  metrics().heartbeat(ok);
  std::string problem = answer.status == 0 ? answer.error : "HTTP " + std::to_string(answer.status);
  std::lock_guard<std::mutex> lock(mutex_);
  last_ok_ = ok;
  last_error_ = ok ? "" : problem;
  last_attempt_epoch_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (ok) {
    ++sent_;
  } else {
    ++failed_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_failure_logged_ >= std::chrono::minutes(1)) {
      last_failure_logged_ = now;
      logger().warning("heartbeat to " + url + " failed: " + problem + " (retrying with backoff; logged at most once a minute)");
    }
  }
  return ok;
}

void Heartbeat::loop() {
  auto backoff = std::chrono::seconds(0);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    auto wait = backoff.count() > 0 ? backoff : std::chrono::seconds(settings_.heartbeat_seconds);
    wake_.wait_for(lock, wait, [&] { return stopping_ || triggered_; });
    if (stopping_) break;
    triggered_ = false;
    lock.unlock();
    bool ok = send_once();
    lock.lock();
    if (ok) {
      backoff = std::chrono::seconds(0);
    } else {
      backoff = backoff.count() == 0 ? std::chrono::seconds(2) : std::min(backoff * 2, std::chrono::seconds(settings_.heartbeat_seconds));
    }
  }
}

nlohmann::json Heartbeat::last_result() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!enabled_) return {{"enabled", false}};
  return {{"enabled", true}, {"ok", last_ok_}, {"error", last_error_}, {"lastAttemptEpoch", last_attempt_epoch_},
          {"sent", sent_}, {"failed", failed_}};
}

}  // namespace agent
