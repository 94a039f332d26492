// fun-ai-runtime-agent doctor, the binary, against the real Podman service, the real registry and a
// heartbeat receiver: every check passes on a healthy node and changes nothing, and each failure,
// provoked for real, is named with its fix and makes the exit code 1.
#define BOOST_TEST_MODULE doctor
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/env_file.h"
#include "heartbeat_receiver.h"
#include "podman/networks.h"
#include "mongo_fixture.h"
#include "test_support.h"

namespace {

std::string reg(const std::string& key) { return testing::registry_fixture().at(key); }

struct Outcome {
  int exit_code = -1;
  std::string output;
  std::map<std::string, std::string> lines;  // check -> its whole line
  std::string result(const std::string& check) const {
    auto it = lines.find(check);
    return it == lines.end() ? "MISSING" : it->second.substr(0, 4);
  }
  std::string line(const std::string& check) const {
    auto it = lines.find(check);
    return it == lines.end() ? "" : it->second;
  }
};

struct DoctorFixture {
  testing::TempDir dir;
  testing::HeartbeatReceiver receiver{"node-token-right"};
  std::string network = testing::unique_id("doc");
  podman::Client podman{testing::podman_socket()};
  std::map<std::string, std::string> config;

  DoctorFixture() {
    std::ofstream(dir.path() + "/traefik.yml") << "providers:\n  file:\n    directory: " << dir.path() << "/dynamic\n    watch: true\n";
    ::mkdir((dir.path() + "/dynamic").c_str(), 0755);
    config = {{"RUNTIME_AGENT_TOKEN", "doctor-test-token"},
              {"RUNTIME_PODMAN_SOCKET", testing::podman_socket()},
              {"RUNTIME_DOCKER_NETWORK", network},
              {"RUNTIME_TRAEFIK_DYNAMIC_DIR", dir.path() + "/dynamic"},
              {"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/traefik.yml"},
              {"REGISTRY_URL", "http://" + reg("REGISTRY_HTTP")},
              {"REGISTRY_USERNAME", reg("REGISTRY_USER")},
              {"REGISTRY_PASSWORD", reg("REGISTRY_PASSWORD")},
              {"DEPLOY_BASE_URL", receiver.url()},
              {"DEPLOY_NODE_TOKEN", "node-token-right"},
              {"RUNTIME_NODE_AGENT_BASE_URL", "http://10.0.0.9:7005"},
              {"RUNTIME_NODE_GATEWAY_BASE_URL", "http://10.0.0.9"},
              {"RUNTIME_DOCTOR_MIN_FREE_PCT", "1"},
              {"RUNTIME_APP_USERNS", "auto"},
              {"FUNAI_LOG_DIR", dir.path() + "/logs"},
              {"RUNTIME_MONGO_HOST", testing::mongo_fixture().at("MONGO_HOST")},
              {"RUNTIME_MONGO_PORT", testing::mongo_fixture().at("MONGO_PORT")},
              {"RUNTIME_MONGO_USERNAME", testing::mongo_fixture().at("MONGO_USERNAME")},
              {"RUNTIME_MONGO_PASSWORD", testing::mongo_fixture().at("MONGO_PASSWORD")}};
  }
  ~DoctorFixture() {
    try {
      podman.del("network remove", "/networks/" + network + "?force=true");
    } catch (...) {
    }
  }

  // Runs `fun-ai-runtime-agent doctor --config FILE` with an empty environment.
  Outcome doctor(const std::map<std::string, std::string>& changes = {}) {
    auto settings = config;
    for (const auto& [k, v] : changes) settings[k] = v;
    std::string file = dir.path() + "/runtime.env";
    {
      std::ofstream out(file);
      for (const auto& [k, v] : settings) out << k << "='" << v << "'\n";
    }
    std::string command = "env -i " + std::string(FUNAI_AGENT_BINARY) + " doctor --config " + file + " 2>&1";
    Outcome o;
    FILE* pipe = ::popen(command.c_str(), "r");
    BOOST_REQUIRE(pipe != nullptr);
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) o.output.append(buffer, n);
    int status = ::pclose(pipe);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::istringstream lines(o.output);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() < 7) continue;
      std::istringstream words(line.substr(6));
      std::string check;
      words >> check;
      o.lines[check] = line;
    }
    BOOST_TEST_MESSAGE("doctor printed:\n" << o.output);
    return o;
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(doctor, DoctorFixture)

BOOST_AUTO_TEST_CASE(a_healthy_node_passes_every_check_and_doctor_changes_nothing) {
  auto o = doctor();
  BOOST_TEST(o.exit_code == 0, o.output);
  for (const char* check : {"settings", "podman", "runtime", "network", "routing", "traefik", "registry", "mongo", "isolation", "heartbeat", "disk"})
    BOOST_TEST(o.result(check) == "PASS", check << ": " << o.line(check));
  BOOST_TEST(contains(o.line("podman"), testing::podman_socket()));
  BOOST_TEST(contains(o.line("podman"), "Podman " + testing::podman_fixture_version()));
  BOOST_TEST((contains(o.line("runtime"), "runc") || contains(o.line("runtime"), "crun")), o.line("runtime"));
  BOOST_TEST(contains(o.line("runtime"), "cgroup v"), o.line("runtime"));
  BOOST_TEST(contains(o.line("routing"), dir.path() + "/dynamic"));
  BOOST_TEST(contains(o.line("registry"), reg("REGISTRY_USER")));
  // Nothing changed: no network created, no file left in the routing directory. The heartbeat
  // receiver got exactly one heartbeat, with the node token.
  BOOST_TEST(!podman::networks::exists(podman, network));
  BOOST_TEST(std::filesystem::is_empty(dir.path() + "/dynamic"));
  auto got = receiver.received();
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].path == "/internal/runtime-nodes/heartbeat");
  BOOST_TEST(got[0].token == "node-token-right");
}

BOOST_AUTO_TEST_CASE(an_existing_bridge_passes_and_an_internal_network_fails) {
  auto created = podman.post("network create", "/networks/create", nlohmann::json{{"name", network}, {"driver", "bridge"}}.dump());
  FUNAI_REQUIRE_STATUS(created, 200);
  auto o = doctor();
  BOOST_TEST(o.result("network") == "PASS", o.line("network"));
  BOOST_TEST(contains(o.line("network"), network + " exists"));
  podman.del("network remove", "/networks/" + network + "?force=true");
  created = podman.post("network create", "/networks/create", nlohmann::json{{"name", network}, {"driver", "bridge"}, {"internal", true}}.dump());
  FUNAI_REQUIRE_STATUS(created, 200);
  o = doctor();
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("network") == "FAIL", o.line("network"));
  BOOST_TEST(contains(o.line("network"), "internal"));
  BOOST_TEST(contains(o.line("network"), "Fix: "));
}

BOOST_AUTO_TEST_CASE(podman_unreachable_is_named_with_its_socket) {
  std::string socket = "unix://" + dir.path() + "/no-podman.sock";
  auto o = doctor({{"RUNTIME_PODMAN_SOCKET", socket}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("podman") == "FAIL");
  BOOST_TEST(contains(o.line("podman"), socket));
  BOOST_TEST(contains(o.line("podman"), "Fix: start Podman's API service"));
  BOOST_TEST(o.result("runtime") == "SKIP");
  BOOST_TEST(o.result("network") == "SKIP");
}

BOOST_AUTO_TEST_CASE(a_routing_directory_that_cannot_be_written_fails) {
  std::ofstream(dir.path() + "/not-a-dir") << "x";
  auto o = doctor({{"RUNTIME_TRAEFIK_DYNAMIC_DIR", dir.path() + "/not-a-dir"}, {"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/none.yml"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("routing") == "FAIL", o.line("routing"));
  BOOST_TEST(contains(o.line("routing"), dir.path() + "/not-a-dir is not a directory"));
  BOOST_TEST(o.result("traefik") == "SKIP", o.line("traefik"));
  BOOST_TEST(contains(o.line("traefik"), "absent"));
  ::mkdir((dir.path() + "/ro").c_str(), 0755);
  testing::TmpfsMount readonly(dir.path() + "/ro", "ro,size=1m");
  BOOST_REQUIRE_MESSAGE(readonly.mounted, "mounting a read-only tmpfs needs CAP_SYS_ADMIN (the tests run as root)");
  o = doctor({{"RUNTIME_TRAEFIK_DYNAMIC_DIR", dir.path() + "/ro"}, {"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/none.yml"}});
  BOOST_TEST(o.result("routing") == "FAIL", o.line("routing"));
  BOOST_TEST(contains(o.line("routing"), "not writable"));
}

BOOST_AUTO_TEST_CASE(a_routing_directory_that_can_never_be_created_fails) {
  // root passes access(2) under /proc, but nothing can be made there: the check tries for real.
  auto o = doctor({{"RUNTIME_TRAEFIK_DYNAMIC_DIR", "/proc/funai-nope/dynamic"}, {"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/none.yml"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("routing") == "FAIL", o.line("routing"));
  BOOST_TEST(contains(o.line("routing"), "cannot be created under /proc"), o.line("routing"));
  // A directory that does not exist yet under a writable one passes, and is not made by doctor.
  o = doctor({{"RUNTIME_TRAEFIK_DYNAMIC_DIR", dir.path() + "/later/dynamic"}, {"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/none.yml"}});
  BOOST_TEST(o.result("routing") == "PASS", o.line("routing"));
  BOOST_TEST(!std::filesystem::exists(dir.path() + "/later"));
}

BOOST_AUTO_TEST_CASE(apps_without_a_user_namespace_or_a_limit_fail_the_isolation_check) {
  auto o = doctor({{"RUNTIME_APP_USERNS", "host"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("isolation") == "FAIL", o.line("isolation"));
  BOOST_TEST(contains(o.line("isolation"), "root is the node's root"), o.line("isolation"));
  o = doctor({{"RUNTIME_APP_MEMORY", "none"}, {"RUNTIME_APP_PIDS_LIMIT", "-1"}});
  BOOST_TEST(o.result("isolation") == "FAIL", o.line("isolation"));
  BOOST_TEST(contains(o.line("isolation"), "RUNTIME_APP_MEMORY, RUNTIME_APP_PIDS_LIMIT"), o.line("isolation"));
}

BOOST_AUTO_TEST_CASE(a_traefik_configuration_watching_another_directory_fails) {
  std::ofstream(dir.path() + "/other.yml") << "providers:\n  file:\n    directory: /srv/elsewhere\n    watch: true\n";
  auto o = doctor({{"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/other.yml"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("traefik") == "FAIL", o.line("traefik"));
  BOOST_TEST(contains(o.line("traefik"), "watches /srv/elsewhere, the agent writes to " + dir.path() + "/dynamic"));
  std::ofstream(dir.path() + "/nowatch.yml") << "providers:\n  file:\n    directory: " << dir.path() << "/dynamic/\n    watch: false\n";
  o = doctor({{"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/nowatch.yml"}});
  BOOST_TEST(o.result("traefik") == "FAIL", o.line("traefik"));
  BOOST_TEST(contains(o.line("traefik"), "watch: false"));
  std::ofstream(dir.path() + "/noprovider.yml") << "entryPoints:\n  web:\n    address: ':80'\n";
  o = doctor({{"RUNTIME_TRAEFIK_STATIC_CONFIG", dir.path() + "/noprovider.yml"}});
  BOOST_TEST(o.result("traefik") == "FAIL", o.line("traefik"));
  BOOST_TEST(contains(o.line("traefik"), "no providers.file.directory"));
}

BOOST_AUTO_TEST_CASE(the_registry_check_names_refused_credentials_and_a_registry_that_does_not_answer) {
  auto o = doctor({{"REGISTRY_URL", reg("REGISTRY_TLS")}, {"REGISTRY_USERNAME", reg("REGISTRY_TLS_USER")}, {"REGISTRY_PASSWORD", reg("REGISTRY_TLS_PASSWORD")}});
  BOOST_TEST(o.result("registry") == "PASS", "TLS registry, its CA in certs.d: " << o.line("registry"));
  o = doctor({{"REGISTRY_PASSWORD", "wrong-password"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("registry") == "FAIL", o.line("registry"));
  BOOST_TEST(contains(o.line("registry"), "refuses the credentials of " + reg("REGISTRY_USER")));
  BOOST_TEST(!contains(o.output, "wrong-password"), "the password is never printed");
  o = doctor({{"REGISTRY_URL", "http://127.0.0.1:" + std::to_string(testing::free_port())}});
  BOOST_TEST(o.result("registry") == "FAIL", o.line("registry"));
  BOOST_TEST(contains(o.line("registry"), "does not answer"));
  o = doctor({{"REGISTRY_URL", ""}});
  BOOST_TEST(o.result("registry") == "SKIP", o.line("registry"));
}

BOOST_AUTO_TEST_CASE(the_heartbeat_check_names_a_refused_token_and_a_deploy_plane_that_does_not_answer) {
  auto o = doctor({{"DEPLOY_NODE_TOKEN", "node-token-wrong"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("heartbeat") == "FAIL", o.line("heartbeat"));
  BOOST_TEST(contains(o.line("heartbeat"), "refuses the node token"));
  BOOST_TEST(!contains(o.output, "node-token-wrong"), "the token is never printed");
  o = doctor({{"DEPLOY_BASE_URL", "http://127.0.0.1:" + std::to_string(testing::free_port())}});
  BOOST_TEST(o.result("heartbeat") == "FAIL", o.line("heartbeat"));
  BOOST_TEST(contains(o.line("heartbeat"), "no answer"));
  o = doctor({{"DEPLOY_BASE_URL", ""}});
  BOOST_TEST(o.result("heartbeat") == "SKIP", o.line("heartbeat"));
  BOOST_TEST(contains(o.line("heartbeat"), "DEPLOY_BASE_URL is not set"));
}

BOOST_AUTO_TEST_CASE(the_mongo_check_names_a_refused_login_and_a_server_that_is_not_there) {
  auto ok = doctor();
  BOOST_TEST(contains(ok.line("mongo"), "accepts " + testing::mongo_fixture().at("MONGO_USERNAME")), ok.line("mongo"));
  BOOST_TEST(!contains(ok.output, testing::mongo_fixture().at("MONGO_PASSWORD")), "doctor printed the MongoDB password");
  auto wrong = doctor({{"RUNTIME_MONGO_PASSWORD", "not-the-password"}});
  BOOST_TEST(wrong.exit_code == 1);
  BOOST_TEST(wrong.result("mongo") == "FAIL");
  BOOST_TEST(contains(wrong.line("mongo"), "refuses the login"), wrong.line("mongo"));
  BOOST_TEST(contains(wrong.line("mongo"), "RUNTIME_MONGO_PASSWORD"), wrong.line("mongo"));
  BOOST_TEST(!contains(wrong.output, "not-the-password"));
  auto gone = doctor({{"RUNTIME_MONGO_PORT", std::to_string(testing::free_port())}, {"RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS", "1"}});
  BOOST_TEST(gone.result("mongo") == "FAIL");
  BOOST_TEST(contains(gone.line("mongo"), "RUNTIME_MONGO_HOST"), gone.line("mongo"));
  auto off = doctor({{"RUNTIME_MONGO_HOST", ""}});
  BOOST_TEST(off.result("mongo") == "SKIP", off.line("mongo"));
}

BOOST_AUTO_TEST_CASE(low_disk_space_and_bad_settings_fail) {
  auto o = doctor({{"RUNTIME_DOCTOR_MIN_FREE_PCT", "100"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("disk") == "FAIL", o.line("disk"));
  BOOST_TEST(contains(o.line("disk"), "below RUNTIME_DOCTOR_MIN_FREE_PCT=100%"));
  o = doctor({{"RUNTIME_AGENT_PORT", "abc"}});
  BOOST_TEST(o.exit_code == 1);
  BOOST_TEST(o.result("settings") == "FAIL", o.line("settings"));
  BOOST_TEST(contains(o.line("settings"), "RUNTIME_AGENT_PORT"));
}

BOOST_AUTO_TEST_SUITE_END()
