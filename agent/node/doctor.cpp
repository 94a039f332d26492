#include "node/doctor.h"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <Poco/URI.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "node/disk_space.h"
#include "node/heartbeat.h"
#include "base/http_call.h"
#include "podman/networks.h"
#include "podman/system.h"
#include "images/registry.h"
#include "mongo/app_databases.h"
#include "mongo/mongo_server.h"

namespace agent {
namespace {

using Result = Finding::Result;

Finding passed(const std::string& check, const std::string& detail) { return {Result::passed, check, detail, ""}; }
Finding failed(const std::string& check, const std::string& detail, const std::string& fix) { return {Result::failed, check, detail, fix}; }
Finding skipped(const std::string& check, const std::string& detail) { return {Result::skipped, check, detail, ""}; }

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The same directory: the same path, or (when both exist) the same inode.
bool same_directory(const std::string& a, const std::string& b) {
  if (without_trailing_slashes(a) == without_trailing_slashes(b)) return true;
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string gib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return text;
}

Finding check_podman(const Settings& s, podman::Client& client, std::optional<podman::system::Info>& info) {
  try {
    info = podman::system::info(client);
    return passed("podman", s.podman_socket + " answers: Podman " + info->version);
  } catch (const podman::Error& e) {
    // The transport's last words ("Couldn't connect to server"), or libpod's message.
    std::string why = e.message();
    auto cut = why.rfind(": ");
    if (dynamic_cast<const podman::Unreachable*>(&e) && cut != std::string::npos) why = why.substr(cut + 2);
    return failed("podman", "nothing usable answers at " + s.podman_socket + ": " + why,
                  "start Podman's API service (systemctl enable --now podman.socket) or set RUNTIME_PODMAN_SOCKET to where it listens.");
  }
}

Finding check_runtime(const std::optional<podman::system::Info>& info) {
  if (!info) return skipped("runtime", "Podman does not answer");
  std::string cgroups = "cgroup " + (info->cgroup_version.empty() ? std::string("version unknown") : info->cgroup_version) +
                        (info->cgroup_manager.empty() ? "" : " (" + info->cgroup_manager + ")");
  if (info->oci_runtime.empty())
    return failed("runtime", "Podman reports no OCI runtime; " + cgroups,
                  "install runc or crun and name it in containers.conf ([engine] runtime).");
  return passed("runtime", "OCI runtime " + info->oci_runtime + ", " + cgroups);
}

Finding check_network(const Settings& s, podman::Client& client, bool podman_up) {
  if (!podman_up) return skipped("network", "Podman does not answer");
  try {
    auto n = podman::networks::inspect(client, s.network);
    std::string where = n.interface_name + (n.subnets.empty() ? "" : ", " + n.subnets.front()) +
                        (n.gateways.empty() ? "" : ", gateway " + n.gateways.front());
    if (n.driver != "bridge" || n.internal || n.gateways.empty())
      return failed("network", s.network + " is " + (n.internal ? "internal" : "a " + n.driver + " network") + " (" + where +
                                   "): the host cannot reach the apps on it",
                    "remove it (podman network rm " + s.network + ", after its containers) so the agent creates a plain bridge, or set RUNTIME_DOCKER_NETWORK.");
    return passed("network", s.network + " exists (" + where + ")");
  } catch (const podman::NotFound&) {
    return passed("network", s.network + " does not exist yet; the agent creates it (bridge, DNS on) at the first deploy");
  } catch (const podman::Error& e) {
    return failed("network", "cannot inspect " + s.network + ": " + e.message(), "see Podman's log for why it cannot read its networks.");
  }
}

// Whether a directory can hold new entries, tried for real (a directory made and removed): root
// passes access(2) on /proc or a read-only bind, where nothing can be made.
bool can_create_in(const std::string& dir, std::string* why) {
  std::string probe = dir + (dir.back() == '/' ? "" : "/") + ".funai-doctor-XXXXXX";
  std::vector<char> name(probe.begin(), probe.end());
  name.push_back('\0');
  if (!::mkdtemp(name.data())) {
    if (why) *why = std::strerror(errno);
    return false;
  }
  ::rmdir(name.data());
  return true;
}

Finding check_routing_dir(const Settings& s) {
  const std::string& dir = s.traefik_dynamic_dir;
  if (!s.traefik_enable) return skipped("routing", "RUNTIME_TRAEFIK_ENABLE=false: no routing files are written");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    std::string parent = dir;
    while (parent.size() > 1 && ::stat(parent.c_str(), &st) != 0) parent = parent.substr(0, std::max<size_t>(1, parent.rfind('/')));
    std::string why = "not a directory";
    if (S_ISDIR(st.st_mode) && can_create_in(parent, &why))
      return passed("routing", dir + " does not exist yet; the agent creates it at start");
    return failed("routing", dir + " does not exist and cannot be created under " + parent + " (" + why + ")",
                  "create it (mkdir -p " + dir + ") or set RUNTIME_TRAEFIK_DYNAMIC_DIR to a writable directory.");
  }
  if (!S_ISDIR(st.st_mode))
    return failed("routing", dir + " is not a directory", "set RUNTIME_TRAEFIK_DYNAMIC_DIR to the directory Traefik watches.");
  std::string why;
  if (!can_create_in(dir, &why))
    return failed("routing", dir + " is not writable (" + why + ")",
                  "make it writable for the agent's user, on a read-write filesystem.");
  return passed("routing", dir + " is writable");
}

Finding check_traefik_config(const Settings& s) {
  const std::string& file = s.traefik_static_config;
  if (!s.traefik_enable) return skipped("traefik", "RUNTIME_TRAEFIK_ENABLE=false");
  if (::access(file.c_str(), F_OK) != 0) return skipped("traefik", file + " is absent (RUNTIME_TRAEFIK_STATIC_CONFIG)");
  YAML::Node provider;
  try {
    provider = YAML::LoadFile(file)["providers"]["file"];
  } catch (const std::exception& e) {
    return failed("traefik", file + " cannot be read as YAML: " + e.what(), "fix the file; Traefik would not start with it either.");
  }
  if (!provider || !provider["directory"])
    return failed("traefik", file + " has no providers.file.directory: Traefik does not read the agent's routing files",
                  "add providers.file.directory: " + s.traefik_dynamic_dir + " and watch: true.");
  auto watched = provider["directory"].as<std::string>("");
  if (!same_directory(watched, s.traefik_dynamic_dir))
    return failed("traefik", file + " watches " + watched + ", the agent writes to " + s.traefik_dynamic_dir,
                  "set RUNTIME_TRAEFIK_DYNAMIC_DIR=" + watched + " or providers.file.directory: " + s.traefik_dynamic_dir +
                      " (a Traefik container must mount it at that same path).");
  if (provider["watch"] && !provider["watch"].as<bool>(true))
    return failed("traefik", file + " has providers.file.watch: false: Traefik would not see new routes",
                  "set providers.file.watch: true.");
  return passed("traefik", file + " watches " + watched);
}

// The value of `name="..."` in a WWW-Authenticate challenge.
std::string challenge_field(const std::string& challenge, const std::string& name) {
  auto at = challenge.find(name + "=\"");
  if (at == std::string::npos) return "";
  at += name.size() + 2;
  return challenge.substr(at, challenge.find('"', at) - at);
}

// GET /v2/ as a pull would: anonymous first, then as the registry asks: Basic with the configured
// credentials, or Bearer with a token from the realm it names (as Harbor and ACR do; anonymous when
// no user is configured, as for public projects).
Finding check_registry(const Settings& s) {
  if (s.registry_url.empty()) return skipped("registry", "REGISTRY_URL is not set");
  auto url = parse_registry_url(s.registry_url, nullptr);
  if (!url) return skipped("registry", "REGISTRY_URL is invalid");
  HttpCall call;
  call.timeout = std::chrono::seconds(10);
  // http:// is plain HTTP; REGISTRY_INSECURE tries HTTPS without verification first, as Podman does.
  std::string base = (url->plain_http ? "http://" : "https://") + url->host;
  call.url = base + "/v2/";
  call.verify_tls = !s.registry_insecure;
  std::string ca = "/etc/containers/certs.d/" + url->host + "/ca.crt";
  if (!url->plain_http && ::access(ca.c_str(), R_OK) == 0) call.ca_file = ca;
  auto answer = http_call(call);
  if (answer.status == 0 && s.registry_insecure && !url->plain_http) {
    base = "http://" + url->host;
    call.url = base + "/v2/";
    answer = http_call(call);
  }
  if (answer.status == 0) {
    bool tls = answer.error.find("SSL") != std::string::npos || answer.error.find("certificate") != std::string::npos;
    return failed("registry", call.url + " does not answer: " + answer.error,
                  tls ? "trust the registry's CA (/etc/containers/certs.d/" + url->host + "/ca.crt) or write REGISTRY_URL as http://" + url->host + " if it has no TLS."
                      : "check REGISTRY_URL and that this node reaches the registry (address, port, firewall).");
  }
  bool has_user = !s.registry_username.empty();
  std::string challenge = answer.headers["www-authenticate"];
  bool bearer = challenge.size() >= 6 && (challenge.compare(0, 6, "Bearer") == 0 || challenge.compare(0, 6, "bearer") == 0);
  if (answer.status == 401 && (has_user || bearer)) {
    if (bearer) {
      std::string realm = challenge_field(challenge, "realm");
      std::string service = challenge_field(challenge, "service");
      if (realm.rfind("http://", 0) != 0 && realm.rfind("https://", 0) != 0)
        return failed("registry", base + " names no usable token service (" + challenge + ")", "check that REGISTRY_URL names the registry itself.");
      if (realm.rfind(base + "/", 0) != 0) call.ca_file.clear();  // another host: the system's CAs
      std::string encoded;
      Poco::URI::encode(service, "&=?#+ ", encoded);
      call.url = realm + (service.empty() ? "" : std::string(realm.find('?') == std::string::npos ? "?" : "&") + "service=" + encoded);
    }
    if (has_user) {
      call.basic_user = s.registry_username;
      call.basic_password = s.registry_password;
    }
    answer = http_call(call);
  }
  if (answer.ok())
    return passed("registry", base + " answers" + (has_user ? " and accepts " + s.registry_username : " (anonymous pulls)"));
  if (answer.status == 401 || answer.status == 403)
    return failed("registry", base + (has_user ? " refuses the credentials of " + s.registry_username : " asks for credentials") +
                                  " (HTTP " + std::to_string(answer.status) + ")",
                  has_user ? "set REGISTRY_USERNAME and REGISTRY_PASSWORD to an account (robot) that may pull." : "set REGISTRY_USERNAME and REGISTRY_PASSWORD.");
  return failed("registry", call.url + (answer.status == 0 ? " does not answer: " + answer.error : " answers HTTP " + std::to_string(answer.status)),
                "check that REGISTRY_URL names a registry (Docker Registry HTTP API V2).");
}

Finding check_heartbeat(const Settings& s, podman::Client& client) {
  Heartbeat heartbeat(s, client);
  if (!heartbeat.enabled()) return skipped("heartbeat", heartbeat.missing_settings() + " not set");
  std::string url = heartbeat.url();
  if (heartbeat.send_once()) return passed("heartbeat", "the Deploy plane accepts this node's heartbeat (" + s.deploy_base_url + ")");
  std::string error = heartbeat.last_result().value("error", "");
  if (error == "HTTP 401" || error == "HTTP 403")
    return failed("heartbeat", "the Deploy plane refuses the node token (" + error + ")",
                  "set DEPLOY_NODE_TOKEN to the token the Deploy plane holds for this node.");
  if (error.rfind("HTTP ", 0) == 0)
    return failed("heartbeat", "the Deploy plane answers " + error + " at " + url, "check DEPLOY_BASE_URL (the Deploy plane's base URL) and its log.");
  return failed("heartbeat", "no answer from " + url + ": " + error, "check DEPLOY_BASE_URL and that this node reaches the Deploy plane.");
}

Finding check_disk(const Settings& s, podman::Client& client) {
  NodeStorage storage(s.disk_path, client);
  std::string path = storage.path();
  auto space = storage.measure();
  if (!space) return failed("disk", "cannot read the free space of " + path, "set RUNTIME_DISK_PATH to Podman's storage directory.");
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.1f%%", space->free_pct());
  std::string detail = path + ": " + pct + " free (" + gib(space->free_bytes) + " of " + gib(space->size_bytes) + ")";
  if (space->free_pct() < s.doctor_min_free_pct)
    return failed("disk", detail + ", below RUNTIME_DOCTOR_MIN_FREE_PCT=" + std::to_string(s.doctor_min_free_pct) + "%",
                  "free space: remove unused images (podman image prune) or grow the filesystem.");
  return passed("disk", detail);
}

Finding check_mongo(const Settings& s) {
  if (s.mongo_host.empty()) return skipped("mongo", "RUNTIME_MONGO_HOST is not set: apps get no database");
  MongoServer server(s);
  AppDatabases databases(s, server);
  std::string address = s.mongo_host + ":" + std::to_string(s.mongo_port);
  bool with_login = !s.mongo_username.empty() && !s.mongo_password.empty();
  std::string no_login = s.mongo_username.empty() && s.mongo_password.empty() ? " (no credentials set)"
                                                                               : " (no login: RUNTIME_MONGO_USERNAME and _PASSWORD are both needed)";
  std::string error = databases.check_server();
  if (error.empty())
    return passed("mongo", address + " answers" + (with_login ? " and accepts " + s.mongo_username + " (authSource " + s.mongo_auth_source + ")" : no_login));
  bool refused_login = error.find("uthentication") != std::string::npos || error.find("auth") != std::string::npos;
  if (refused_login)
    return failed("mongo", address + " refuses the login of " + s.mongo_username + ": " + error,
                  "set RUNTIME_MONGO_USERNAME, RUNTIME_MONGO_PASSWORD and RUNTIME_MONGO_AUTH_SOURCE to an account of that server.");
  return failed("mongo", address + ": " + error, "start MongoDB there, or correct RUNTIME_MONGO_HOST and RUNTIME_MONGO_PORT (apps' databases live on it).");
}

// The range of subordinate ids of the user "containers" in one of /etc/subuid, /etc/subgid: its
// size, or 0 when it has none.
uint64_t containers_range(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("containers:", 0) != 0) continue;
    auto last = line.rfind(':');
    try {
      return std::stoull(line.substr(last + 1));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Finding check_isolation(const Settings& s) {
  if (!s.app_userns)
    return failed("isolation", "RUNTIME_APP_USERNS=host: an app's root is the node's root",
                  "set RUNTIME_APP_USERNS=auto (each app in a user namespace of its own).");
  for (const char* file : {"/etc/subuid", "/etc/subgid"})
    if (containers_range(file) < 65536)
      return failed("isolation", std::string("no range of ids for the user containers in ") + file + " (userns=auto needs one)",
                    "add the line containers:2147483647:2147483648 to /etc/subuid and /etc/subgid (the RPM does on install).");
  std::vector<std::string> unlimited;
  if (!s.app_memory) unlimited.push_back("RUNTIME_APP_MEMORY");
  if (!s.app_cpus) unlimited.push_back("RUNTIME_APP_CPUS");
  if (!s.app_pids_limit || *s.app_pids_limit < 0) unlimited.push_back("RUNTIME_APP_PIDS_LIMIT");
  if (!s.app_log_size) unlimited.push_back("RUNTIME_APP_LOG_MAX_SIZE");
  if (!unlimited.empty()) {
    std::string keys;
    for (const auto& k : unlimited) keys += (keys.empty() ? "" : ", ") + k;
    return failed("isolation", "no limit set by " + keys + ": one app can take the node's share of it",
                  "give each a limit (etc/runtime.env has defaults for a few hundred apps on a 24 GiB node).");
  }
  return passed("isolation", "apps in user namespaces (ids from /etc/subuid, /etc/subgid), without NET_RAW, MKNOD, AUDIT_WRITE, "
                             "no new privileges; limits: memory " + gib(static_cast<uint64_t>(*s.app_memory)) + ", " +
                             std::to_string(*s.app_pids_limit) + " processes, " + std::to_string(*s.app_cpus).substr(0, 4) + " CPUs, log " +
                             std::to_string(*s.app_log_size >> 20) + " MiB");
}

}  // namespace

std::vector<Finding> run_doctor(const Settings& settings) {
  // A short budget per call: a Podman that accepts and never answers fails its check in seconds.
  podman::ClientOptions options;
  options.call_budget = std::chrono::seconds(5);
  podman::Client client(settings.podman_socket, options);
  std::optional<podman::system::Info> info;
  std::vector<Finding> findings;
  findings.push_back(check_podman(settings, client, info));
  // Podman's storage, once: the heartbeat's payload and the disk check then ask it no more.
  Settings known = settings;
  if (known.disk_path.empty() && info) known.disk_path = info->graph_root;
  findings.push_back(check_runtime(info));
  findings.push_back(check_network(settings, client, info.has_value()));
  findings.push_back(check_routing_dir(settings));
  findings.push_back(check_traefik_config(settings));
  findings.push_back(check_registry(settings));
  findings.push_back(check_mongo(settings));
  findings.push_back(check_isolation(settings));
  findings.push_back(check_heartbeat(known, client));
  findings.push_back(check_disk(known, client));
  return findings;
}

std::string format_finding(const Finding& f) {
  const char* word = f.result == Finding::Result::passed ? "PASS" : f.result == Finding::Result::failed ? "FAIL" : "SKIP";
  std::string check = f.check;
  check.resize(10, ' ');
  return std::string(word) + "  " + check + f.detail + (f.fix.empty() ? "" : ". Fix: " + f.fix);
}

}  // namespace agent
