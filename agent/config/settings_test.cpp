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
  // Limits and isolation by default.
  BOOST_TEST(*s.app_memory == 512LL << 20);
  BOOST_TEST(*s.app_pids_limit == 512);
  BOOST_TEST(*s.app_cpus == 1.0);
  BOOST_TEST(*s.app_log_size == 10LL << 20);
  BOOST_TEST(!s.app_userns);  // opt-in for now (README, Threat model)
}

BOOST_AUTO_TEST_CASE(default_limits_can_be_turned_off_and_userns_set_to_auto) {
  auto r = load_settings(env_with_token({{"RUNTIME_APP_MEMORY", "none"}, {"RUNTIME_APP_CPUS", "none"}, {"RUNTIME_APP_LOG_MAX_SIZE", "none"},
                                         {"RUNTIME_APP_PIDS_LIMIT", "-1"}, {"RUNTIME_APP_USERNS", "auto"}}));
  BOOST_TEST(r.errors.empty());
  BOOST_TEST(!r.settings.app_memory.has_value());
  BOOST_TEST(!r.settings.app_cpus.has_value());
  BOOST_TEST(!r.settings.app_log_size.has_value());
  BOOST_TEST(*r.settings.app_pids_limit == -1);
  BOOST_TEST(r.settings.app_userns);
  auto bad = load_settings(env_with_token({{"RUNTIME_APP_USERNS", "keep-id"}}));
  BOOST_TEST_REQUIRE(bad.errors.size() == 1u);
  BOOST_TEST(bad.errors[0].find("RUNTIME_APP_USERNS") == 0u);
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

// ------------------------------------------------------------------ the earlier agent's settings

BOOST_AUTO_TEST_CASE(deploy_heartbeat_seconds_of_zero_or_less_is_sixty_with_a_warning) {
  for (const char* value : {"0", "-5"}) {
    auto r = load_settings(env_with_token({{"DEPLOY_HEARTBEAT_SECONDS", value}}));
    BOOST_TEST(r.ok(), value);
    BOOST_TEST(r.settings.heartbeat_seconds == 60);
    BOOST_REQUIRE_EQUAL(r.warnings.size(), 1u);
    BOOST_TEST(r.warnings[0].find("DEPLOY_HEARTBEAT_SECONDS=" + std::string(value) + " is taken as 60") == 0u, r.warnings[0]);
  }
  auto r = load_settings(env_with_token({{"DEPLOY_HEARTBEAT_SECONDS", "15"}}));
  BOOST_TEST(r.settings.heartbeat_seconds == 15);
  BOOST_TEST(r.warnings.empty());
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"DEPLOY_HEARTBEAT_SECONDS", "often"}})), "DEPLOY_HEARTBEAT_SECONDS"));
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_named_in_one_warning_with_what_replaced_them) {
  Environment env = env_with_token({{"RUNTIME_DOCKER_BIN", "/usr/bin/podman"},
                                    {"RUNTIME_MONGO_HSOT", "10.0.0.9"},
                                    {"DEPLOY_SOMETHING_NEW", "1"},
                                    {"PATH", "/usr/bin"},
                                    {"FUNAI_FAULT_KILL_AT", ""}});
  Environment file = {{"MY_OWN_KEY", "x"}, {"RUNTIME_AGENT_PORT", "7005"}};
  auto r = load_settings(env, file);
  BOOST_TEST(r.ok());
  BOOST_REQUIRE_EQUAL(r.warnings.size(), 1u);
  const std::string& w = r.warnings[0];
  BOOST_TEST(w.find("RUNTIME_DOCKER_BIN (the agent drives Podman through its REST API at RUNTIME_PODMAN_SOCKET") != std::string::npos, w);
  BOOST_TEST(w.find("RUNTIME_MONGO_HSOT (did you mean RUNTIME_MONGO_HOST?)") != std::string::npos, w);
  BOOST_TEST(w.find("DEPLOY_SOMETHING_NEW") != std::string::npos, w);
  BOOST_TEST(w.find("MY_OWN_KEY") != std::string::npos, w);  // every unknown key of the file
  BOOST_TEST(w.find("PATH") == std::string::npos, w);        // the environment's own keys are not ours
  BOOST_TEST(w.find("FUNAI_FAULT_KILL_AT") == std::string::npos, w);
  BOOST_TEST(w.find("RUNTIME_AGENT_PORT") == std::string::npos, w);
  BOOST_TEST(load_settings(env_with_token()).warnings.empty());
}

BOOST_AUTO_TEST_CASE(the_python_agents_runtime_env_loads_with_only_its_retired_key_warned_about) {
  // Its keys as its config/runtime.env has them (secrets made up for the test).
  std::ifstream file(std::string(FUNAI_SOURCE_DIR) + "/test/data/python-agent-runtime.env");
  BOOST_REQUIRE(file.good());
  auto env = parse_env_file(file);
  auto r = load_settings(env, env);
  for (const auto& e : r.errors) BOOST_TEST_MESSAGE("error: " << e);
  BOOST_TEST(r.ok());
  BOOST_REQUIRE_EQUAL(r.warnings.size(), 1u);
  BOOST_TEST(r.warnings[0].find("RUNTIME_DOCKER_BIN") != std::string::npos);
  const auto& s = r.settings;
  BOOST_TEST(s.mongo_host == "172.21.0.89");
  BOOST_TEST(s.mongo_username == "funai");
  BOOST_TEST(s.mongo_drop_on_delete);
  BOOST_TEST(s.log_total_size_cap_bytes == 5368709120LL);
  BOOST_TEST(s.log_max_history_days == 7);
  for (const auto& [key, value] : describe_settings(env))
    BOOST_TEST(value.find("Made-up-123!") == std::string::npos, key << " shows the MongoDB password");
}

BOOST_AUTO_TEST_CASE(mongo_settings_take_the_earlier_agents_defaults_and_refuse_what_would_break_a_uri) {
  auto defaults = load_settings(env_with_token()).settings;
  BOOST_TEST(defaults.mongo_host.empty());
  BOOST_TEST(defaults.mongo_port == 27017);
  BOOST_TEST(defaults.mongo_auth_source == "admin");
  BOOST_TEST(defaults.mongo_db_template == "db_u{userId}_a{appId}");
  BOOST_TEST(defaults.mongo_precreate);
  BOOST_TEST(defaults.mongo_precreate_timeout_seconds == 3);
  BOOST_TEST(!defaults.mongo_drop_on_delete);
  BOOST_TEST(defaults.mongo_cleanup_max_drop == 20);
  BOOST_TEST(defaults.mongo_explorer_allow_from.empty());
  for (const char* host : {"10.0.0.9/admin", "user@10.0.0.9", "a,b", "h?x=1"})
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_HOST", host}})), "RUNTIME_MONGO_HOST"), host);
  for (const char* tmpl : {"db_u{userId}", "shared", "db_{appId}_{tenant}"})
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_DB_TEMPLATE", tmpl}})), "RUNTIME_MONGO_DB_TEMPLATE"), tmpl);
  BOOST_TEST(load_settings(env_with_token({{"RUNTIME_MONGO_DB_TEMPLATE", "app-{appId}"}})).ok());
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_AUTH_SOURCE", "admin?x=1"}})), "RUNTIME_MONGO_AUTH_SOURCE"));
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS", "0"}})), "RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS"));
  auto allow = load_settings(env_with_token({{"RUNTIME_MONGO_EXPLORER_ALLOW_FROM", "10.0.0.5, 172.16.0.0/12,fd00::/8"}}));
  BOOST_TEST(allow.ok());
  BOOST_TEST(allow.settings.mongo_explorer_allow_from.size() == 3u);
  for (const char* bad : {"10.0.0.0/33", "10.0.0", "example.com", "10.0.0.0/x"})
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_EXPLORER_ALLOW_FROM", bad}})), "RUNTIME_MONGO_EXPLORER_ALLOW_FROM"), bad);
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"FUNAI_LOG_TOTAL_SIZE_CAP_BYTES", "12"}})), "FUNAI_LOG_TOTAL_SIZE_CAP_BYTES"));
  BOOST_TEST(has_error_naming(load_settings(env_with_token({{"FUNAI_LOG_TOTAL_SIZE_CAP_BYTES", "1m"}, {"FUNAI_LOG_MAX_FILE_SIZE_BYTES", "2m"}})),
                              "FUNAI_LOG_TOTAL_SIZE_CAP_BYTES"));
  // A URI in the host setting: refused without echoing it (it holds the password).
  auto uri = load_settings(env_with_token({{"RUNTIME_MONGO_HOST", "mongodb://funai:S3cret@10.0.0.9:27017"}}));
  BOOST_TEST(has_error_naming(uri, "RUNTIME_MONGO_HOST"));
  for (const auto& e : uri.errors) BOOST_TEST(e.find("S3cret") == std::string::npos, e);
  // Ranges that admit most of the Internet are refused; any range is said at start.
  for (const char* wide : {"0.0.0.0/0", "::/0", "10.0.0.0/4"})
    BOOST_TEST(has_error_naming(load_settings(env_with_token({{"RUNTIME_MONGO_EXPLORER_ALLOW_FROM", wide}})), "RUNTIME_MONGO_EXPLORER_ALLOW_FROM"), wide);
  auto range = load_settings(env_with_token({{"RUNTIME_MONGO_EXPLORER_ALLOW_FROM", "10.0.0.5,172.21.0.0/24"}}));
  BOOST_TEST(range.ok());
  BOOST_REQUIRE_EQUAL(range.warnings.size(), 1u);
  BOOST_TEST(range.warnings[0].find("172.21.0.0/24 lets every host of that range") != std::string::npos, range.warnings[0]);
  BOOST_TEST(load_settings(env_with_token({{"FUNAI_LOG_TOTAL_SIZE_CAP_BYTES", "2g"}})).settings.log_total_size_cap_bytes == 2LL << 30);
}

BOOST_AUTO_TEST_CASE(cidr_ranges_match_their_addresses_only) {
  auto v4 = parse_cidr("10.89.0.0/24");
  BOOST_REQUIRE(v4);
  BOOST_TEST(v4->contains("10.89.0.1"));
  BOOST_TEST(v4->contains("10.89.0.255"));
  BOOST_TEST(v4->contains("::ffff:10.89.0.3"));
  BOOST_TEST(!v4->contains("10.89.1.0"));
  BOOST_TEST(!v4->contains("fd00::1"));
  BOOST_TEST(!v4->contains("garbage"));
  auto one = parse_cidr("192.168.1.7");
  BOOST_TEST(one->contains("192.168.1.7"));
  BOOST_TEST(!one->contains("192.168.1.8"));
  auto v6 = parse_cidr("fd00:89::/64");
  BOOST_TEST(v6->contains("fd00:89::abcd"));
  BOOST_TEST(!v6->contains("fd00:90::1"));
  BOOST_TEST(parse_cidr("0.0.0.0/0")->contains("8.8.8.8"));
}
