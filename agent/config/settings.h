// Settings of the Runtime-Agent: every key of etc/runtime.env, its default, and its parsing.
// Sources: an optional EnvironmentFile (KEY=VALUE, '#' comments, optional quotes) and the process
// environment, which wins. load_settings() never throws for a bad value: it returns every problem,
// each naming its key, so an operator sees them all at once.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/logging.h"
#include "config/env_file.h"

namespace agent {


struct Ulimit {
  std::string name;  // nofile, nproc, ...
  int64_t soft = 0;
  int64_t hard = 0;
};

enum class PullPolicy { always, newer, missing, never };

struct Settings {
  std::string host = "0.0.0.0";
  int port = 7005;
  std::string token;
  int http_threads = 32;
  int max_connections = 4096;

  std::string node_name = "rt-node-01";
  std::string node_agent_base_url;
  std::string node_gateway_base_url;
  std::string deploy_base_url;
  std::string deploy_node_token;
  int heartbeat_seconds = 60;
  bool inflight_reject = true;

  std::string podman_socket = "unix:///run/podman/podman.sock";
  std::string network = "funai-runtime-net";

  bool traefik_enable = true;
  std::string traefik_dynamic_dir = "/etc/fun-ai-studio/traefik/dynamic";
  std::vector<std::string> traefik_entrypoints;

  int container_port = 3000;
  std::optional<double> app_cpus = 1.0;
  std::optional<int64_t> app_cpu_shares;
  std::string app_cpuset_cpus;
  // Limits by default (etc/runtime.env): a few hundred apps on a 24 GiB node, none able to take it down.
  std::optional<int64_t> app_memory = 512LL << 20;  // bytes
  std::optional<int64_t> app_memory_swap;  // bytes, -1 = unlimited
  std::optional<int64_t> app_pids_limit = 512;
  std::optional<int64_t> app_log_size = 10LL << 20;  // bytes of an app's container log
  bool app_userns = false;  // RUNTIME_APP_USERNS=auto: each app in a user namespace of its own
  std::vector<Ulimit> app_ulimits;
  bool app_init = true;
  std::string app_restart_policy = "always";
  int stop_timeout_seconds = 10;
  int ready_timeout_seconds = 20;
  int retire_grace_seconds = 3;
  int reconcile_seconds = 30;
  std::string disk_path;
  std::string traefik_static_config = "/etc/fun-ai-studio/traefik/traefik.yml";  // read by doctor only
  int doctor_min_free_pct = 10;

  // Scale to zero (off while idle_sleep_seconds is 0).
  int idle_sleep_seconds = 0;   // no network input for this long: the app sleeps
  int idle_scan_seconds = 30;   // one container stats call every N seconds
  std::string wake_listen;      // host:port of the waker; empty = the apps' network gateway, port 7006
  std::string wake_secret;      // empty = kept from the sleeping apps' routing files, or a new one
  int wake_answer_timeout_seconds = 60;  // a request at the waker -> the app's answer head, the wake included
  int wake_idle_timeout_seconds = 30;    // a relayed exchange with no byte either way; an upgrade half closed
  int wake_queue_per_app = 64;           // requests waiting for one app's wake; past it 503
  int wake_relays_per_app = 256;         // one app's connections relayed at once; past it 503

  PullPolicy pull_policy = PullPolicy::always;
  std::string registry_url;
  std::string registry_username;
  std::string registry_password;
  bool registry_insecure = false;   // pull from REGISTRY_URL's host without TLS
  std::string registry_auth_file;   // auth.json for other registries
  int pull_timeout_seconds = 300;
  int app_lock_wait_seconds = 60;   // how long a deploy, stop or delete waits for an app held by another
  int image_gc_seconds = 3600;      // 0 = no periodic sweep
  bool cleanup_images_on_stop = false;

  std::string log_dir = "/data/funai/logs/fun-ai-studio/fun-ai-studio-runtime";
  int64_t log_max_file_size_bytes = 50 * 1024 * 1024;
  int log_max_history_days = 30;
  int64_t log_total_size_cap_bytes = 5LL * 1024 * 1024 * 1024;  // the rotated archives together

  // Each app's MongoDB (off while mongo_host is empty), as the earlier agent named them.
  std::string mongo_host;
  int mongo_port = 27017;
  std::string mongo_username;
  std::string mongo_password;
  std::string mongo_auth_source = "admin";
  std::string mongo_db_template = "db_u{userId}_a{appId}";
  bool mongo_precreate = true;
  int mongo_precreate_timeout_seconds = 3;  // also bounds the drop on delete
  bool mongo_drop_on_delete = false;
  int mongo_cleanup_max_drop = 20;              // POST /agent/cleanup-orphaned drops at most this many
  std::vector<std::string> mongo_explorer_allow_from;  // CIDRs that may use the explorer without the token

};

struct SettingsResult {
  Settings settings;
  std::vector<std::string> errors;  // each starts with the key it is about
  std::vector<std::string> warnings;  // taken, but said at start (a value replaced, unknown keys)
  bool ok() const { return errors.empty(); }
};

// Reads every known key from `env` (missing or empty keys take their defaults). Keys it does not
// know are named in one warning: every such key of `file_keys` (the EnvironmentFile given with
// --config), and those of `env` that look like the agent's (RUNTIME_*, DEPLOY_*, REGISTRY_*,
// FUNAI_LOG_*), the earlier agent's retired keys with what replaced them.
SettingsResult load_settings(const Environment& env, const Environment& file_keys = {});

// Every known key with its effective value as the agent sees it, secrets masked: the
// output of --check-config.
std::vector<std::pair<std::string, std::string>> describe_settings(const Environment& env);

// An address range: "10.0.0.0/24", "fd00::/8", or one address (all its bits).
struct Cidr {
  std::vector<uint8_t> bytes;  // 4 or 16
  int bits = 0;
  // IPv4-mapped IPv6 peers (::ffff:10.0.0.5) match IPv4 ranges.
  bool contains(const std::string& address) const;
};
std::optional<Cidr> parse_cidr(const std::string& text);

// The log settings (FUNAI_LOG_*) as the logger takes them.
LogOptions log_options(const Settings& settings);

// Parses podman-style sizes: "512m", "1g", "1048576", "-1" (unlimited). nullopt when malformed.
std::optional<int64_t> parse_size(const std::string& text);

}  // namespace agent
