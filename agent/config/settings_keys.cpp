// The settings the agent takes: each key with its default and how its value is checked and set.
#include "config/settings_keys.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "config/registry_settings.h"

namespace agent::settings_keys {

std::optional<int64_t> parse_int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

namespace {


std::optional<bool> parse_bool(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Setter int_in(int Settings::*field, int64_t lo, int64_t hi) {
  return [=](Settings& s, const std::string& v) -> std::string {
    auto n = parse_int(v);
    if (!n || *n < lo || *n > hi)
      return "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + v + "'";
    s.*field = static_cast<int>(*n);
    return "";
  };
}

Setter boolean(bool Settings::*field) {
  return [=](Settings& s, const std::string& v) -> std::string {
    auto b = parse_bool(v);
    if (!b) return "must be true or false, got '" + v + "'";
    s.*field = *b;
    return "";
  };
}

Setter text(std::string Settings::*field) {
  return [=](Settings& s, const std::string& v) -> std::string {
    s.*field = v;
    return "";
  };
}

Setter url(std::string Settings::*field) {
  return [=](Settings& s, const std::string& v) -> std::string {
    if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
      return "must be an http:// or https:// URL, got '" + v + "'";
    std::string u = v;
    while (!u.empty() && u.back() == '/') u.pop_back();
    s.*field = u;
    return "";
  };
}

// none_word: "none" (or an empty value set on purpose) turns a default limit off.
Setter optional_size(std::optional<int64_t> Settings::*field, bool allow_unlimited, bool none_word = false) {
  return [=](Settings& s, const std::string& v) -> std::string {
    if (v.empty()) return "";
    if (none_word && v == "none") {
      s.*field = std::nullopt;
      return "";
    }
    auto n = parse_size(v);
    if (!n || (*n == -1 && !allow_unlimited) || (*n < 0 && *n != -1) || *n == 0)
      return std::string("must be a size like 512m or 1g") + (allow_unlimited ? " (or -1)" : "") + (none_word ? " (or none)" : "") +
             ", got '" + v + "'";
    s.*field = *n;
    return "";
  };
}

Setter optional_int(std::optional<int64_t> Settings::*field, int64_t lo, int64_t hi) {
  return [=](Settings& s, const std::string& v) -> std::string {
    if (v.empty()) return "";
    auto n = parse_int(v);
    if (!n || *n < lo || *n > hi)
      return "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + v + "'";
    s.*field = *n;
    return "";
  };
}

}  // namespace

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"RUNTIME_AGENT_HOST", "0.0.0.0", false, text(&Settings::host)},
      {"RUNTIME_AGENT_PORT", "7005", false, int_in(&Settings::port, 1, 65535)},
      {"RUNTIME_AGENT_TOKEN", "", true,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.empty() || v == "CHANGE_ME") return "must be set to a secret token (it is empty or CHANGE_ME)";
         s.token = v;
         return "";
       }},
      {"RUNTIME_AGENT_THREADS", "32", false, int_in(&Settings::http_threads, 2, 1024)},
      {"RUNTIME_MAX_CONNECTIONS", "4096", false, int_in(&Settings::max_connections, 16, 60000)},
      {"RUNTIME_NODE_NAME", "rt-node-01", false, text(&Settings::node_name)},
      {"RUNTIME_NODE_AGENT_BASE_URL", "", false, url(&Settings::node_agent_base_url)},
      {"RUNTIME_NODE_GATEWAY_BASE_URL", "", false, url(&Settings::node_gateway_base_url)},
      {"DEPLOY_BASE_URL", "", false, url(&Settings::deploy_base_url)},
      {"DEPLOY_NODE_TOKEN", "", true, text(&Settings::deploy_node_token)},
      {"DEPLOY_HEARTBEAT_SECONDS", "60", false,
       [](Settings& s, const std::string& v) -> std::string {
         // The earlier agent took 0 or less as its default; load_settings says so.
         auto n = parse_int(v);
         if (!n || *n > 86400) return "must be an integer up to 86400, got '" + v + "'";
         s.heartbeat_seconds = *n <= 0 ? 60 : static_cast<int>(*n);
         return "";
       }},
      {"DEPLOY_INFLIGHT_REJECT", "true", false, boolean(&Settings::inflight_reject)},
      {"RUNTIME_PODMAN_SOCKET", "unix:///run/podman/podman.sock", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.rfind("unix://", 0) != 0 && v.rfind("tcp://", 0) != 0 && v.rfind("/", 0) != 0)
           return "must be unix:///path, tcp://host:port or an absolute socket path, got '" + v + "'";
         s.podman_socket = v;
         return "";
       }},
      {"RUNTIME_DOCKER_NETWORK", "funai-runtime-net", false,
       [](Settings& s, const std::string& v) -> std::string {
         bool ok = !v.empty() && v.size() <= 64 && std::isalnum(static_cast<unsigned char>(v[0])) &&
                   std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; });
         if (!ok) return "must be a network name ([A-Za-z0-9][A-Za-z0-9_.-]*), got '" + v + "'";
         s.network = v;
         return "";
       }},
      {"RUNTIME_TRAEFIK_ENABLE", "true", false, boolean(&Settings::traefik_enable)},
      {"RUNTIME_TRAEFIK_DYNAMIC_DIR", "/etc/fun-ai-studio/traefik/dynamic", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.empty() || v[0] != '/') return "must be an absolute directory path, got '" + v + "'";
         s.traefik_dynamic_dir = v;
         return "";
       }},
      {"RUNTIME_TRAEFIK_ENTRYPOINTS", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         s.traefik_entrypoints = split_list(v);
         for (const auto& e : s.traefik_entrypoints)
           if (!std::all_of(e.begin(), e.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }))
             return "entry point names are letters, digits, '-' and '_', got '" + e + "'";
         return "";
       }},
      {"RUNTIME_CONTAINER_PORT", "3000", false, int_in(&Settings::container_port, 1, 65535)},
      {"RUNTIME_APP_CPUS", "1", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.empty()) return "";
         if (v == "none") {
           s.app_cpus = std::nullopt;
           return "";
         }
         char* end = nullptr;
         double d = std::strtod(v.c_str(), &end);
         if (end == v.c_str() || *end != '\0' || !(d > 0) || d > 1024) return "must be a number of CPUs like 0.5 or 2 (or none), got '" + v + "'";
         s.app_cpus = d;
         return "";
       }},
      {"RUNTIME_APP_CPU_SHARES", "", false, optional_int(&Settings::app_cpu_shares, 2, 262144)},
      {"RUNTIME_APP_CPUSET_CPUS", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (!std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) || c == ',' || c == '-'; }))
           return "must be a CPU list like 0-1,3, got '" + v + "'";
         s.app_cpuset_cpus = v;
         return "";
       }},
      {"RUNTIME_APP_MEMORY", "512m", false, optional_size(&Settings::app_memory, false, true)},
      {"RUNTIME_APP_MEMORY_SWAP", "", false, optional_size(&Settings::app_memory_swap, true)},
      {"RUNTIME_APP_PIDS_LIMIT", "512", false, optional_int(&Settings::app_pids_limit, -1, 4194304)},
      {"RUNTIME_APP_LOG_MAX_SIZE", "10m", false, optional_size(&Settings::app_log_size, false, true)},
      {"RUNTIME_APP_USERNS", "host", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v == "auto") s.app_userns = true;
         else if (v == "host") s.app_userns = false;
         else return "must be auto (each app in a user namespace of its own) or host (none: container root is the node's root), got '" + v + "'";
         return "";
       }},
      {"RUNTIME_APP_ULIMITS", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         s.app_ulimits.clear();
         for (const auto& item : split_list(v)) {
           auto eq = item.find('=');
           auto colon = item.find(':', eq == std::string::npos ? 0 : eq);
           if (eq == std::string::npos || eq == 0) return "items are name=soft[:hard], got '" + item + "'";
           Ulimit u;
           u.name = item.substr(0, eq);
           auto soft = parse_int(item.substr(eq + 1, colon == std::string::npos ? std::string::npos : colon - eq - 1));
           auto hard = colon == std::string::npos ? soft : parse_int(item.substr(colon + 1));
           if (!std::all_of(u.name.begin(), u.name.end(), [](unsigned char c) { return std::islower(c); }) || !soft || !hard ||
               *soft < 0 || *hard < *soft)
             return "items are name=soft[:hard] with 0 <= soft <= hard, got '" + item + "'";
           u.soft = *soft;
           u.hard = *hard;
           s.app_ulimits.push_back(u);
         }
         return "";
       }},
      {"RUNTIME_APP_INIT", "true", false, boolean(&Settings::app_init)},
      {"RUNTIME_APP_RESTART_POLICY", "always", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v != "no" && v != "always" && v != "on-failure" && v != "unless-stopped")
           return "must be no, always, on-failure or unless-stopped, got '" + v + "'";
         s.app_restart_policy = v;
         return "";
       }},
      {"RUNTIME_APP_STOP_TIMEOUT_SECONDS", "10", false, int_in(&Settings::stop_timeout_seconds, 0, 3600)},
      {"RUNTIME_READY_TIMEOUT_SECONDS", "20", false, int_in(&Settings::ready_timeout_seconds, 1, 600)},
      {"RUNTIME_RETIRE_GRACE_SECONDS", "3", false, int_in(&Settings::retire_grace_seconds, 0, 600)},
      {"RUNTIME_RECONCILE_SECONDS", "30", false, int_in(&Settings::reconcile_seconds, 1, 86400)},
      {"RUNTIME_DISK_PATH", "", false, text(&Settings::disk_path)},
      {"RUNTIME_TRAEFIK_STATIC_CONFIG", "/etc/fun-ai-studio/traefik/traefik.yml", false, text(&Settings::traefik_static_config)},
      {"RUNTIME_DOCTOR_MIN_FREE_PCT", "10", false, int_in(&Settings::doctor_min_free_pct, 0, 100)},
      {"RUNTIME_IDLE_SLEEP_SECONDS", "0", false, int_in(&Settings::idle_sleep_seconds, 0, 30 * 86400)},
      {"RUNTIME_IDLE_SCAN_SECONDS", "30", false, int_in(&Settings::idle_scan_seconds, 1, 3600)},
      {"RUNTIME_WAKE_LISTEN", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.empty()) {
           s.wake_listen.clear();
           return "";
         }
         auto colon = v.rfind(':');
         std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
         std::string port = colon == std::string::npos ? "" : v.substr(colon + 1);
         in_addr address{};
         int p = port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ? -1 : std::stoi(port);
         if (::inet_pton(AF_INET, host.c_str(), &address) != 1 || host == "0.0.0.0" || p < 1 || p > 65535)
           return "must be IPV4:PORT of this node (not 0.0.0.0: routing files name it), got '" + v + "'";
         s.wake_listen = v;
         return "";
       }},
      {"RUNTIME_WAKE_SECRET", "", true,
       [](Settings& s, const std::string& v) -> std::string {
         if (!v.empty() && (v.size() < 16 || v.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos))
           return "must be 16 or more of [A-Za-z0-9] (or empty: generated)";
         s.wake_secret = v;
         return "";
       }},
      {"RUNTIME_WAKE_ANSWER_TIMEOUT_SECONDS", "60", false, int_in(&Settings::wake_answer_timeout_seconds, 5, 3600)},
      {"RUNTIME_WAKE_IDLE_TIMEOUT_SECONDS", "30", false, int_in(&Settings::wake_idle_timeout_seconds, 1, 3600)},
      {"RUNTIME_WAKE_QUEUE_PER_APP", "64", false, int_in(&Settings::wake_queue_per_app, 1, 100000)},
      {"RUNTIME_WAKE_RELAYS_PER_APP", "256", false, int_in(&Settings::wake_relays_per_app, 1, 100000)},
      {"RUNTIME_PULL_POLICY", "always", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v == "always") s.pull_policy = PullPolicy::always;
         else if (v == "newer") s.pull_policy = PullPolicy::newer;
         else if (v == "missing") s.pull_policy = PullPolicy::missing;
         else if (v == "never") s.pull_policy = PullPolicy::never;
         else return "must be always, newer, missing or never, got '" + v + "'";
         return "";
       }},
      {"RUNTIME_APP_LOCK_WAIT_SECONDS", "60", false, int_in(&Settings::app_lock_wait_seconds, 1, 3600)},
      {"RUNTIME_PULL_TIMEOUT_SECONDS", "300", false, int_in(&Settings::pull_timeout_seconds, 1, 7200)},
      {"RUNTIME_IMAGE_GC_SECONDS", "3600", false, int_in(&Settings::image_gc_seconds, 0, 604800)},
      {"REGISTRY_URL", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         std::string error;
         if (!v.empty() && !parse_registry_url(v, &error)) return error;
         s.registry_url = v;
         return "";
       }},
      {"REGISTRY_INSECURE", "false", false, boolean(&Settings::registry_insecure)},
      {"REGISTRY_AUTH_FILE", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (!v.empty()) {
           std::string error = check_auth_file(v);
           if (!error.empty()) return error.substr(error.find(' ') + 1);  // without the key's name
         }
         s.registry_auth_file = v;
         return "";
       }},
      {"REGISTRY_USERNAME", "", false, text(&Settings::registry_username)},
      {"REGISTRY_PASSWORD", "", true, text(&Settings::registry_password)},
      {"RUNTIME_CLEANUP_IMAGES_ON_STOP", "false", false, boolean(&Settings::cleanup_images_on_stop)},
      {"FUNAI_LOG_DIR", "/data/funai/logs/fun-ai-studio/fun-ai-studio-runtime", false, text(&Settings::log_dir)},
      {"FUNAI_LOG_MAX_FILE_SIZE_BYTES", "52428800", false,
       [](Settings& s, const std::string& v) -> std::string {
         auto n = parse_size(v);
         if (!n || *n < 1024) return "must be a size of at least 1024 bytes, got '" + v + "'";
         s.log_max_file_size_bytes = *n;
         return "";
       }},
      {"FUNAI_LOG_MAX_HISTORY_DAYS", "30", false, int_in(&Settings::log_max_history_days, 1, 3650)},
      {"FUNAI_LOG_TOTAL_SIZE_CAP_BYTES", "5368709120", false,
       [](Settings& s, const std::string& v) -> std::string {
         auto n = parse_size(v);
         if (!n || *n < 1024) return "must be a size of at least 1024 bytes, got '" + v + "'";
         s.log_total_size_cap_bytes = *n;
         return "";
       }},
      {"RUNTIME_MONGO_HOST", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         // A host name or an address, nothing that could change the URI around it.
         if (v.size() > 253 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != std::string::npos)
           return "must be a host name or an IP address" +
                  std::string(v.find('@') != std::string::npos ? " (not a URI: credentials go in RUNTIME_MONGO_USERNAME and _PASSWORD)" : ", got '" + v + "'");
         s.mongo_host = v;
         return "";
       }},
      {"RUNTIME_MONGO_PORT", "27017", false, int_in(&Settings::mongo_port, 1, 65535)},
      {"RUNTIME_MONGO_USERNAME", "", false, text(&Settings::mongo_username)},
      {"RUNTIME_MONGO_PASSWORD", "", true, text(&Settings::mongo_password)},
      {"RUNTIME_MONGO_AUTH_SOURCE", "admin", false,
       [](Settings& s, const std::string& v) -> std::string {
         if (v.size() > 63 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
           return "must be a database name ([A-Za-z0-9_-], at most 63), got '" + v + "'";
         s.mongo_auth_source = v;
         return "";
       }},
      {"RUNTIME_MONGO_DB_TEMPLATE", "db_u{userId}_a{appId}", false,
       [](Settings& s, const std::string& v) -> std::string {
         // Each app its own database: {appId} must be in it, and no other placeholder.
         std::string rest = v;
         for (const char* p : {"{userId}", "{appId}"})
           for (auto at = rest.find(p); at != std::string::npos; at = rest.find(p)) rest.erase(at, std::string(p).size());
         if (v.find("{appId}") == std::string::npos) return "must contain {appId} (each app its own database), got '" + v + "'";
         if (rest.find_first_of("{}") != std::string::npos) return "takes only the placeholders {userId} and {appId}, got '" + v + "'";
         s.mongo_db_template = v;
         return "";
       }},
      {"RUNTIME_MONGO_PRECREATE", "true", false, boolean(&Settings::mongo_precreate)},
      {"RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS", "3", false, int_in(&Settings::mongo_precreate_timeout_seconds, 1, 60)},
      {"RUNTIME_MONGO_DROP_ON_DELETE", "false", false, boolean(&Settings::mongo_drop_on_delete)},
      {"RUNTIME_MONGO_CLEANUP_MAX_DROP", "20", false, int_in(&Settings::mongo_cleanup_max_drop, 0, 100000)},
      {"RUNTIME_MONGO_EXPLORER_ALLOW_FROM", "", false,
       [](Settings& s, const std::string& v) -> std::string {
         s.mongo_explorer_allow_from = split_list(v);
         for (const auto& cidr : s.mongo_explorer_allow_from) {
           auto range = parse_cidr(cidr);
           if (!range) return "must be a comma list of addresses or CIDRs (10.0.0.5, 10.0.0.0/24, fd00::/8), got '" + cidr + "'";
           if (range->bits < 8)
             return "'" + cidr + "' admits most of the Internet without a token: list the Studio API's addresses";
         }
         return "";
       }},
  };
  return table;
}


}  // namespace agent::settings_keys
