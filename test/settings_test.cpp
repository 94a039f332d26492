#define BOOST_TEST_MODULE settings
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "settings.h"

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
