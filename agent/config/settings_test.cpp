#define BOOST_TEST_MODULE settings
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "images/image_collector.h"
#include "images/image_puller.h"
#include "images/registry.h"
#include "config/settings.h"

using namespace agent;

namespace {

Environment env_with_token(Environment extra = {}) {
  extra.emplace("RUNTIME_AGENT_TOKEN", "secret-token");
  return extra;
}

bool has_error_naming(const SettingsResult& r, const std::string& key) {
  for (const auto& e : r.errors)
    if (e.rfind(key + " ", 0) == 0) return true;
  return false;
}

Environment parse(const std::string& text) {
  std::istringstream in(text);
  return parse_env_file(in);
}

}  // namespace

BOOST_AUTO_TEST_CASE(env_file_reads_pairs_comments_quotes_and_export) {
  auto env = parse(
      "# comment\n\nA=1\n  B = two words  \nexport C=3\nD=\"quoted # not a comment\"\nE='single'\nF=value # inline\nG=\n");
  BOOST_TEST(env["A"] == "1");
  BOOST_TEST(env["B"] == "two words");
  BOOST_TEST(env["C"] == "3");
  BOOST_TEST(env["D"] == "quoted # not a comment");
  BOOST_TEST(env["E"] == "single");
  BOOST_TEST(env["F"] == "value");
  BOOST_TEST(env.count("G") == 1u);
  BOOST_TEST(env["G"] == "");
}

BOOST_AUTO_TEST_CASE(env_file_syntax_errors_name_the_line) {
  BOOST_CHECK_EXCEPTION(parse("A=1\nnot a pair\n"), EnvFileError,
                        [](const EnvFileError& e) { return std::string(e.what()).find("line 2") != std::string::npos; });
  BOOST_CHECK_THROW(parse("A=\"unterminated\n"), EnvFileError);
  BOOST_CHECK_THROW(parse("1A=x\n"), EnvFileError);
  BOOST_CHECK_THROW(parse("A=\"x\" trailing\n"), EnvFileError);
}

BOOST_AUTO_TEST_CASE(process_environment_wins_over_the_file) {
  Environment file = {{"RUNTIME_AGENT_PORT", "8000"}, {"RUNTIME_NODE_NAME", "from-file"}};
  Environment process = {{"RUNTIME_AGENT_PORT", "9000"}};
  auto merged = merge_environments(file, process);
  BOOST_TEST(merged["RUNTIME_AGENT_PORT"] == "9000");
  BOOST_TEST(merged["RUNTIME_NODE_NAME"] == "from-file");
}

BOOST_AUTO_TEST_CASE(defaults_match_the_settings_table) {
  auto r = load_settings(env_with_token());
  BOOST_REQUIRE(r.ok());
  const auto& s = r.settings;
  BOOST_TEST(s.host == "0.0.0.0");
  BOOST_TEST(s.port == 7005);
  BOOST_TEST(s.node_name == "rt-node-01");
  BOOST_TEST(s.heartbeat_seconds == 60);
  BOOST_TEST(s.inflight_reject);
  BOOST_TEST(s.podman_socket == "unix:///run/podman/podman.sock");
  BOOST_TEST(s.network == "funai-runtime-net");
  BOOST_TEST(s.traefik_enable);
  BOOST_TEST(s.traefik_dynamic_dir == "/etc/fun-ai-studio/traefik/dynamic");
  BOOST_TEST(s.traefik_entrypoints.empty());
  BOOST_TEST(s.container_port == 3000);
  BOOST_TEST(s.app_init);
  BOOST_TEST(s.stop_timeout_seconds == 10);
  BOOST_TEST(s.ready_timeout_seconds == 20);
  BOOST_TEST(s.retire_grace_seconds == 3);
  BOOST_TEST(s.reconcile_seconds == 30);
  BOOST_TEST((s.pull_policy == PullPolicy::always));
  BOOST_TEST(!s.cleanup_images_on_stop);
  BOOST_TEST(s.log_dir == "/data/funai/logs/fun-ai-studio/fun-ai-studio-runtime");
  BOOST_TEST(!s.app_memory.has_value());
}

BOOST_AUTO_TEST_CASE(bad_ports_are_refused_naming_the_key) {
  for (const char* bad : {"0", "70000", "abc", "-1", "80x", "1.5"}) {
    auto r = load_settings(env_with_token({{"RUNTIME_AGENT_PORT", bad}}));
    BOOST_TEST(!r.ok(), bad);
    BOOST_TEST(has_error_naming(r, "RUNTIME_AGENT_PORT"), bad);
  }
  BOOST_TEST(load_settings(env_with_token({{"RUNTIME_AGENT_PORT", "65535"}})).settings.port == 65535);
}

BOOST_AUTO_TEST_CASE(booleans_take_true_false_and_refuse_maybe) {
  BOOST_TEST(!load_settings(env_with_token({{"DEPLOY_INFLIGHT_REJECT", "false"}})).settings.inflight_reject);
  BOOST_TEST(load_settings(env_with_token({{"RUNTIME_APP_INIT", "TRUE"}})).settings.app_init);
  auto r = load_settings(env_with_token({{"RUNTIME_TRAEFIK_ENABLE", "maybe"}}));
  BOOST_TEST(has_error_naming(r, "RUNTIME_TRAEFIK_ENABLE"));
}

BOOST_AUTO_TEST_CASE(an_empty_or_placeholder_token_stops_the_start) {
  for (const char* bad : {"", "CHANGE_ME"}) {
    auto r = load_settings({{"RUNTIME_AGENT_TOKEN", bad}});
    BOOST_TEST(has_error_naming(r, "RUNTIME_AGENT_TOKEN"));
  }
  BOOST_TEST(has_error_naming(load_settings({}), "RUNTIME_AGENT_TOKEN"));
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_at_once) {
  auto r = load_settings({{"RUNTIME_AGENT_PORT", "0"}, {"RUNTIME_PULL_POLICY", "sometimes"}, {"RUNTIME_APP_MEMORY", "lots"}});
  BOOST_TEST(r.errors.size() == 4u);  // port, pull policy, memory, token
  BOOST_TEST(has_error_naming(r, "RUNTIME_PULL_POLICY"));
  BOOST_TEST(has_error_naming(r, "RUNTIME_APP_MEMORY"));
}

BOOST_AUTO_TEST_CASE(limits_sizes_ulimits_and_lists_are_parsed) {
  auto r = load_settings(env_with_token({{"RUNTIME_APP_MEMORY", "512m"},
                                         {"RUNTIME_APP_MEMORY_SWAP", "-1"},
                                         {"RUNTIME_APP_CPUS", "1.5"},
                                         {"RUNTIME_APP_PIDS_LIMIT", "256"},
                                         {"RUNTIME_APP_ULIMITS", "nofile=1024:2048, nproc=512"},
                                         {"RUNTIME_TRAEFIK_ENTRYPOINTS", "web, websecure"},
                                         {"RUNTIME_PULL_POLICY", "never"}}));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(*r.settings.app_memory == 512 * 1024 * 1024);
  BOOST_TEST(*r.settings.app_memory_swap == -1);
  BOOST_TEST(*r.settings.app_cpus == 1.5);
  BOOST_TEST(*r.settings.app_pids_limit == 256);
  BOOST_REQUIRE(r.settings.app_ulimits.size() == 2u);
  BOOST_TEST(r.settings.app_ulimits[0].name == "nofile");
  BOOST_TEST(r.settings.app_ulimits[0].soft == 1024);
  BOOST_TEST(r.settings.app_ulimits[0].hard == 2048);
  BOOST_TEST(r.settings.app_ulimits[1].hard == 512);
  BOOST_TEST((r.settings.traefik_entrypoints == std::vector<std::string>{"web", "websecure"}));
  BOOST_TEST((r.settings.pull_policy == PullPolicy::never));

  for (auto [key, bad] : std::vector<std::pair<std::string, std::string>>{{"RUNTIME_APP_ULIMITS", "nofile"},
                                                                          {"RUNTIME_APP_ULIMITS", "nofile=9:3"},
                                                                          {"RUNTIME_APP_CPUS", "-2"},
                                                                          {"RUNTIME_APP_MEMORY_SWAP", "-5"},
                                                                          {"RUNTIME_APP_CPUSET_CPUS", "0;1"},
                                                                          {"RUNTIME_TRAEFIK_ENTRYPOINTS", "web`"},
                                                                          {"RUNTIME_TRAEFIK_DYNAMIC_DIR", "relative/dir"},
                                                                          {"RUNTIME_DOCKER_NETWORK", "bad net"},
                                                                          {"DEPLOY_BASE_URL", "ftp://x"}}) {
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{key, bad}})), key), key << "=" << bad);
  }
}

BOOST_AUTO_TEST_CASE(sizes_follow_podman_units) {
  BOOST_TEST(*parse_size("1024") == 1024);
  BOOST_TEST(*parse_size("4k") == 4096);
  BOOST_TEST(*parse_size("1g") == 1024LL * 1024 * 1024);
  BOOST_TEST(!parse_size("1t").has_value());
  BOOST_TEST(!parse_size("m").has_value());
  BOOST_TEST(!parse_size("").has_value());
}

BOOST_AUTO_TEST_CASE(container_host_is_the_fallback_socket) {
  auto r = load_settings(env_with_token({{"CONTAINER_HOST", "unix:///tmp/other.sock"}}));
  BOOST_TEST(r.settings.podman_socket == "unix:///tmp/other.sock");
  r = load_settings(env_with_token({{"CONTAINER_HOST", "unix:///tmp/other.sock"}, {"RUNTIME_PODMAN_SOCKET", "unix:///tmp/mine.sock"}}));
  BOOST_TEST(r.settings.podman_socket == "unix:///tmp/mine.sock");
}

BOOST_AUTO_TEST_CASE(check_config_masks_secrets) {
  auto described = describe_settings(env_with_token({{"DEPLOY_NODE_TOKEN", "node-secret"}, {"REGISTRY_PASSWORD", "pw"}}));
  for (const auto& [key, value] : described) {
    BOOST_TEST(value.find("secret-token") == std::string::npos, key);
    BOOST_TEST(value.find("node-secret") == std::string::npos, key);
    if (key == "REGISTRY_PASSWORD") BOOST_TEST(value != "pw");
  }
}

BOOST_AUTO_TEST_CASE(etc_runtime_env_documents_every_key_with_its_default) {
  std::ifstream in(std::string(FUNAI_SOURCE_DIR) + "/etc/runtime.env");
  BOOST_REQUIRE(in.good());
  Environment documented = parse_env_file(in);
  auto defaults = describe_settings({});
  for (const auto& [key, value] : defaults) {
    BOOST_TEST(documented.count(key) == 1u, key << " is not in etc/runtime.env");
    if (key != "RUNTIME_AGENT_TOKEN" && documented.count(key)) BOOST_TEST(documented[key] == value, key);
  }
  BOOST_TEST(documented.size() == defaults.size());
}

// ------------------------------------------------------------------ registries and image pulls

BOOST_AUTO_TEST_CASE(registry_url_takes_http_https_or_a_bare_host_and_refuses_anything_else) {
  std::string error;
  auto http = parse_registry_url("http://10.0.0.5:5000", &error);
  BOOST_REQUIRE(http.has_value());
  BOOST_TEST(http->host == "10.0.0.5:5000");
  BOOST_TEST(http->plain_http);
  auto https = parse_registry_url("https://harbor.example.com/", &error);
  BOOST_REQUIRE(https.has_value());
  BOOST_TEST(https->host == "harbor.example.com");
  BOOST_TEST(!https->plain_http);
  auto bare = parse_registry_url("registry.cn-hangzhou.aliyuncs.com/team", &error);
  BOOST_REQUIRE(bare.has_value());
  BOOST_TEST(bare->host == "registry.cn-hangzhou.aliyuncs.com");
  BOOST_TEST(!bare->plain_http);
  for (const std::string bad : {"ftp://host", "http://", "ho st", "host;rm"}) {
    BOOST_TEST(!parse_registry_url(bad, &error).has_value(), bad);
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{"REGISTRY_URL", bad}})), "REGISTRY_URL"), bad);
  }
  auto r = load_settings(env_with_token({{"RUNTIME_PULL_POLICY", "newer"}, {"REGISTRY_INSECURE", "true"}}));
  BOOST_TEST(r.ok());
  BOOST_TEST((r.settings.pull_policy == PullPolicy::newer));
  BOOST_TEST(r.settings.registry_insecure);
  BOOST_TEST(r.settings.pull_timeout_seconds == 300);
  BOOST_TEST(r.settings.image_gc_seconds == 3600);
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_PULL_TIMEOUT_SECONDS", "0"}})), "RUNTIME_PULL_TIMEOUT_SECONDS"));
}

BOOST_AUTO_TEST_CASE(registry_auth_file_must_be_a_readable_auth_json) {
  std::string path = "/tmp/funai-authfile-" + std::to_string(::getpid()) + ".json";
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"REGISTRY_AUTH_FILE", path}})), "REGISTRY_AUTH_FILE"));
  std::ofstream(path) << "not json";
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"REGISTRY_AUTH_FILE", path}})), "REGISTRY_AUTH_FILE"));
  // robot$second:pw, as podman login writes it
  std::ofstream(path) << R"({"auths":{"reg.example:5000":{"auth":"cm9ib3Qkc2Vjb25kOnB3"}}})";
  auto r = load_settings(env_with_token({{"REGISTRY_AUTH_FILE", path}}));
  BOOST_TEST(r.ok());
  auto access = registry_access_for(r.settings, "reg.example:5000/team/u7-app1:latest");
  BOOST_TEST(access.credentials_source == "REGISTRY_AUTH_FILE");
  BOOST_TEST(!access.auth_header.empty());
  BOOST_TEST(!access.tls_verify.has_value());
  BOOST_TEST(registry_access_for(r.settings, "other.example/team/app:1").auth_header.empty());
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(registry_url_credentials_and_plain_http_apply_to_its_own_host_only) {
  Settings s;
  s.registry_url = "http://10.0.0.5:5000";
  s.registry_username = "robot$runner";
  s.registry_password = "pw";
  auto ours = registry_access_for(s, "10.0.0.5:5000/team/u7-app1:latest");
  BOOST_TEST(ours.credentials_source == "REGISTRY_URL");
  BOOST_TEST((ours.tls_verify == std::optional<bool>(false)));
  auto theirs = registry_access_for(s, "10.0.0.6:5000/team/u7-app1:latest");
  BOOST_TEST(theirs.auth_header.empty());
  BOOST_TEST(!theirs.tls_verify.has_value());
  BOOST_TEST(registry_host_of("nginx:1") == "docker.io");
  BOOST_TEST(registry_host_of("library/nginx") == "docker.io");
  BOOST_TEST(registry_host_of("localhost/funai-demo:1") == "localhost");
  BOOST_TEST(registry_host_of("10.0.0.5:5000/a/b:latest") == "10.0.0.5:5000");
}

BOOST_AUTO_TEST_CASE(pull_failures_are_sorted_by_what_an_operator_does_about_them) {
  // libpod 4.3's messages, as seen against docker-registry 2.8
  BOOST_TEST(pull_failure_reason("initializing source docker://r:5000/a:latest: reading manifest latest in r:5000/a: "
                                 "unauthorized: authentication required") == "auth");
  BOOST_TEST(pull_failure_reason("reading manifest nope in r:5000/a: manifest unknown: manifest unknown") == "not_found");
  BOOST_TEST(pull_failure_reason("pinging container registry r:5000: Get \"http://r:5000/v2/\": dial tcp r:5000: connect: "
                                 "connection refused") == "unreachable");
  BOOST_TEST(pull_failure_reason("pinging container registry r:5000: Get \"https://r:5000/v2/\": http: server gave HTTP "
                                 "response to HTTPS client") == "tls");
  BOOST_TEST(pull_failure_reason("Get \"https://r:5443/v2/\": x509: certificate signed by unknown authority") == "tls");
  BOOST_TEST(pull_failure_reason("something else entirely") == "other");
  BOOST_TEST(repository_of("r:5000/team/app:latest") == "r:5000/team/app");
  BOOST_TEST(repository_of("r:5000/team/app@sha256:abc") == "r:5000/team/app");
  BOOST_TEST(repository_of("r:5000/team/app") == "r:5000/team/app");
}
