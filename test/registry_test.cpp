// The image path as a runtime node meets it: the Runner pushes each build as :latest to a private
// registry (here Debian's docker-registry, started by test/registry_fixture.sh: plain HTTP and TLS,
// htpasswd auth), then calls deploy. Builds are made and pushed from a storage of their own (the
// Runner's machine), so the node's Podman gets them only by pulling.
#define BOOST_TEST_MODULE registry
#include <Poco/Base64Encoder.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "base/app_labels.h"
#include "podman/containers.h"
#include "podman/images.h"
#include "images/registry.h"
#include "test_support.h"

using nlohmann::json;
namespace pc = podman::containers;
namespace pi = podman::images;
using testing::seconds_since;

namespace {

std::string reg(const std::string& key) { return testing::registry_fixture().at(key); }

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The Runner's side: a Podman storage of its own (vfs, no mounts) where builds are made and
// pushed from.
class Builder {
 public:
  Builder() {
    podman_ = "CONTAINERS_CONF=" + shell_quoted(testing::podman_fixture_dir() + "/containers.conf") + " podman --storage-driver vfs --root " +
              shell_quoted(dir_.path() + "/root") + " --runroot " + shell_quoted(dir_.path() + "/run") + " --tmpdir " + shell_quoted(dir_.path());
  }
  ~Builder() { run(podman_ + " system reset -f >/dev/null 2>&1"); }

  // Builds an httpd image whose page is `page` and pushes it as `target` (registry/path:tag).
  void push(const std::string& page, const std::string& target, const std::string& user, const std::string& password, bool tls) {
    std::string local = "localhost/funai-build:" + std::to_string(++builds_);
    std::string build = shell_quoted(std::string(FUNAI_SOURCE_DIR) + "/etc/dev/busybox-image.sh") + " " + local + " " +
                        shell_quoted(R"(["/bin/httpd","-f","-p","8080","-h","/www"])") + " " + shell_quoted(page) + " -- env " + podman_;
    BOOST_REQUIRE_MESSAGE(run(build) == 0, "build failed: " << build);
    std::string push = podman_ + " push -q " + (tls ? "" : "--tls-verify=false ") + "--creds " + shell_quoted(user + ":" + password) + " " +
                       local + " docker://" + target + " >/dev/null";
    BOOST_REQUIRE_MESSAGE(run(push) == 0, "push failed: " << push);
  }
  void push_http(const std::string& page, const std::string& target) {
    push(page, target, reg("REGISTRY_USER"), reg("REGISTRY_PASSWORD"), false);
  }

 private:
  testing::TempDir dir_;
  std::string podman_;
  int builds_ = 0;
};

// A registry of the test's own, without auth, that the test can stop: Debian's docker-registry.
class OwnRegistry {
 public:
  OwnRegistry() : port_(testing::free_port()) {
    std::ofstream(dir_.path() + "/config.yml") << "version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: "
                                               << dir_.path() << "/data}}\nhttp: {addr: " << address() << "}\n";
    start();
  }
  ~OwnRegistry() { stop(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void start() {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      std::string log = dir_.path() + "/registry.log";
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::string config = dir_.path() + "/config.yml";
      ::execlp("docker-registry", "docker-registry", "serve", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto t0 = std::chrono::steady_clock::now();
    while (testing::http("GET", "http://" + address() + "/v2/").status != 200 && seconds_since(t0) < 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  testing::TempDir dir_;
  int port_;
  pid_t pid_ = 0;
};

struct RegistryFixture {
  RegistryFixture() : agent(settings()) {}
  ~RegistryFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }
  agent::Settings settings() {
    auto s = testing::test_settings(routing.path(), logs.path());
    s.pull_policy = agent::PullPolicy::always;
    s.registry_url = "http://" + reg("REGISTRY_HTTP");
    s.registry_username = reg("REGISTRY_USER");
    s.registry_password = reg("REGISTRY_PASSWORD");
    s.retire_grace_seconds = 1;
    s.ready_timeout_seconds = 20;  // not what these tests measure: room for a loaded machine
    return s;
  }
  std::string new_app() {
    apps.push_back(testing::unique_id("r"));
    return apps.back();
  }
  // The Runner's tag for an app.
  std::string latest(const std::string& host, const std::string& app) { return host + "/funai/u7-app" + app + ":latest"; }
  testing::HttpResult deploy(const std::string& app, const std::string& image) {
    return agent.call("POST", "/agent/apps/deploy",
                      R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})",
                      std::chrono::milliseconds(60000));
  }
  json deployed(const std::string& app, const std::string& image) {
    auto r = deploy(app, image);
    FUNAI_REQUIRE_STATUS(r, 200);
    return json::parse(r.body);
  }
  // What the app's route serves now.
  std::string served(const std::string& app) {
    auto r = testing::http("GET", testing::routed_upstream(*agent.routes, app) + "/", "", {}, std::chrono::milliseconds(3000));
    return r.status == 200 ? r.body : "HTTP " + std::to_string(r.status) + " " + r.error;
  }
  void expect_pull_failed(const testing::HttpResult& r, const std::string& words) {
    BOOST_TEST(r.status == 502, r.body);
    auto body = json::parse(r.body, nullptr, false);
    BOOST_REQUIRE(body.is_object());
    BOOST_TEST(body["code"] == "image_pull_failed", r.body);
    BOOST_TEST(body["detail"].get<std::string>().find(words) != std::string::npos, "'" << words << "' not in " << r.body);
  }
  size_t containers_of(const std::string& app) { return pc::list(agent.podman, {agent::labels::app_filter(app)}).size(); }
  // Images in the node's storage that belong to a repository (by tag or by digest), and the untagged ones.
  size_t images_of(const std::string& repository) {
    size_t n = 0;
    for (const auto& image : pi::list(agent.podman)) {
      bool ours = false;
      for (const auto& name : image.names) ours = ours || name.rfind(repository + ":", 0) == 0;
      for (const auto& digest : image.repo_digests) ours = ours || digest.rfind(repository + "@", 0) == 0;
      for (const auto& name : image.history) ours = ours || name.rfind(repository + ":", 0) == 0;
      n += ours;
    }
    return n;
  }
  size_t untagged_of(const std::string& repository) {
    size_t n = 0;
    for (const auto& image : pi::list(agent.podman)) {
      if (!image.names.empty()) continue;
      for (const auto& name : image.history)  // untagged: only its history names it
        if (name.rfind(repository + ":", 0) == 0) {
          ++n;
          break;
        }
    }
    return n;
  }

  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
  Builder builder;
};

std::string repository(const std::string& reference) { return reference.substr(0, reference.rfind(':')); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(registry, RegistryFixture)

BOOST_AUTO_TEST_CASE(a_plain_http_registry_with_credentials_serves_each_build_and_an_unchanged_tag_is_only_checked) {
  std::string app = new_app(), image = latest(reg("REGISTRY_HTTP"), app);
  builder.push_http("build 1", image);
  auto first = deployed(app, image);
  BOOST_TEST(first["pulled"] == true);
  BOOST_TEST(first["imageId"] == pi::id_of(agent.podman, image).value_or("?"));
  BOOST_TEST(served(app) == "build 1\n");
  auto again = deployed(app, image);  // the registry has the same digest: nothing fetched
  BOOST_TEST(again["pulled"] == false);
  BOOST_TEST(again["imageId"] == first["imageId"]);
  BOOST_TEST(served(app) == "build 1\n");
}

BOOST_AUTO_TEST_CASE(a_tls_registry_with_a_private_ca_and_a_bare_registry_url) {
  agent.settings.registry_url = reg("REGISTRY_TLS");  // bare host: TLS verified, against certs.d's CA
  agent.settings.registry_username = reg("REGISTRY_TLS_USER");
  agent.settings.registry_password = reg("REGISTRY_TLS_PASSWORD");
  std::string app = new_app(), image = latest(reg("REGISTRY_TLS"), app);
  builder.push("over tls", image, reg("REGISTRY_TLS_USER"), reg("REGISTRY_TLS_PASSWORD"), true);
  auto r = deployed(app, image);
  BOOST_TEST(r["pulled"] == true);
  BOOST_TEST(served(app) == "over tls\n");
}

BOOST_AUTO_TEST_CASE(without_http_in_registry_url_a_plain_http_registry_is_a_tls_error) {
  agent.settings.registry_url = reg("REGISTRY_HTTP");  // bare: TLS, which this registry does not speak
  std::string app = new_app(), image = latest(reg("REGISTRY_HTTP"), app);
  builder.push_http("plain", image);
  expect_pull_failed(deploy(app, image), "REGISTRY_INSECURE=true");
  agent.settings.registry_insecure = true;
  BOOST_TEST(deployed(app, image)["pulled"] == true);
}

BOOST_AUTO_TEST_CASE(a_wrong_password_fails_the_deploy_naming_authentication_and_the_old_version_keeps_serving) {
  std::string app = new_app(), image = latest(reg("REGISTRY_HTTP"), app);
  builder.push_http("old build", image);
  deployed(app, image);
  auto route_before = agent.routes->read(app);
  builder.push_http("new build", image);
  agent.settings.registry_password = "wrong-password";
  auto t0 = std::chrono::steady_clock::now();
  auto r = deploy(app, image);
  expect_pull_failed(r, "authentication required");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("REGISTRY_URL were refused") != std::string::npos, r.body);
  BOOST_TEST(r.body.find("wrong-password") == std::string::npos);  // never echoed
  BOOST_TEST(seconds_since(t0) < 10.0);
  BOOST_TEST(served(app) == "old build\n");
  BOOST_TEST((agent.routes->read(app) == route_before));
  BOOST_TEST(containers_of(app) == 1u);
}

BOOST_AUTO_TEST_CASE(a_stopped_registry_fails_the_deploy_naming_the_registry_and_newer_then_deploys_the_local_copy) {
  OwnRegistry own;
  std::string app = new_app(), image = latest(own.address(), app);
  builder.push("first", image, "x", "y", false);
  agent.settings.registry_url = "http://" + own.address();
  agent.settings.registry_username.clear();
  deployed(app, image);
  own.stop();

  auto r = deploy(app, image);
  expect_pull_failed(r, "registry " + own.address() + " could not be reached");
  BOOST_TEST(served(app) == "first\n");
  BOOST_TEST(containers_of(app) == 1u);

  agent.settings.pull_policy = agent::PullPolicy::newer;
  auto local = deployed(app, image);
  BOOST_TEST(local["pulled"] == false);
  BOOST_TEST(local["warning"].get<std::string>().find("local copy") != std::string::npos, local.dump());
  BOOST_TEST(served(app) == "first\n");

  // newer with the registry back: a moved tag is fetched.
  own.start();
  builder.push("second", image, "x", "y", false);
  auto fresh = deployed(app, image);
  BOOST_TEST(fresh["pulled"] == true);
  BOOST_TEST(!fresh.contains("warning"));
  BOOST_TEST(served(app) == "second\n");
}

BOOST_AUTO_TEST_CASE(an_unknown_tag_or_repository_fails_the_deploy_and_creates_nothing) {
  std::string app = new_app();
  expect_pull_failed(deploy(app, reg("REGISTRY_HTTP") + "/funai/u7-nothing:latest"), "no such tag or repository");
  std::string image = latest(reg("REGISTRY_HTTP"), app);
  builder.push_http("tagged", image);
  expect_pull_failed(deploy(app, repository(image) + ":v999"), "no such tag or repository");
  BOOST_TEST(containers_of(app) == 0u);
  BOOST_TEST(!agent.routes->read(app).has_value());
}

BOOST_AUTO_TEST_CASE(twenty_redeploys_of_a_moved_latest_each_serve_their_build_and_leave_no_image_behind) {
  std::string app = new_app(), image = latest(reg("REGISTRY_HTTP"), app);
  for (int build = 1; build <= 20; ++build) {
    builder.push_http("build " + std::to_string(build), image);
    auto r = deployed(app, image);
    BOOST_TEST(r["pulled"] == true, "build " << build);
    BOOST_TEST(served(app) == "build " + std::to_string(build) + "\n");
  }
  // The last old container retires after its grace period (1 s), and its image goes with it.
  auto t0 = std::chrono::steady_clock::now();
  while ((untagged_of(repository(image)) > 0 || containers_of(app) > 1) && seconds_since(t0) < 15)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  BOOST_TEST(untagged_of(repository(image)) == 0u);
  BOOST_TEST(images_of(repository(image)) <= 2u);
  BOOST_TEST(containers_of(app) == 1u);
  BOOST_TEST(served(app) == "build 20\n");

  // delete removes the image the app runs, and reports it.
  auto r = agent.call("POST", "/agent/apps/delete", R"({"userId":"7","appId":")" + app + R"("})");
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(json::parse(r.body)["images"]["removed"] == json::array({image}), r.body);
  BOOST_TEST(images_of(repository(image)) == 0u);
}

BOOST_AUTO_TEST_CASE(the_auth_file_gives_credentials_for_a_second_registry) {
  testing::TempDir dir;
  std::ostringstream encoded;  // auth.json's "auth": base64 of user:password, as podman login writes it
  {
    Poco::Base64Encoder encoder(encoded);
    encoder.rdbuf()->setLineLength(0);
    encoder << reg("REGISTRY_TLS_USER") + ":" + reg("REGISTRY_TLS_PASSWORD");
  }
  std::ofstream(dir.path() + "/auth.json") << json{{"auths", {{reg("REGISTRY_TLS"), {{"auth", encoded.str()}}}}}}.dump();
  agent.settings.registry_auth_file = dir.path() + "/auth.json";
  std::string app = new_app(), image = latest(reg("REGISTRY_TLS"), app);
  builder.push("second registry", image, reg("REGISTRY_TLS_USER"), reg("REGISTRY_TLS_PASSWORD"), true);
  BOOST_TEST(deployed(app, image)["pulled"] == true);
  BOOST_TEST(served(app) == "second registry\n");

  // Without the file: no credentials for that registry.
  agent.settings.registry_auth_file.clear();
  builder.push("second registry, v2", image, reg("REGISTRY_TLS_USER"), reg("REGISTRY_TLS_PASSWORD"), true);
  expect_pull_failed(deploy(app, image), "no credentials were sent");
  BOOST_TEST(served(app) == "second registry\n");
}

// A fake registry (a fault no real registry produces on demand): it accepts connections and never
// answers. The pull must give up at RUNTIME_PULL_TIMEOUT_SECONDS, not hang the deploy.
BOOST_AUTO_TEST_CASE(a_registry_that_never_answers_fails_the_deploy_at_the_pull_timeout) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::atomic<bool> done{false};
  std::vector<Poco::Net::StreamSocket> held;
  std::thread acceptor([&] {
    while (!done) {
      if (silent.poll(Poco::Timespan(0, 100000), Poco::Net::Socket::SELECT_READ)) held.push_back(silent.acceptConnection());
    }
  });
  std::string host = "127.0.0.1:" + std::to_string(silent.address().port());
  agent.settings.registry_url = "http://" + host;
  agent.settings.pull_timeout_seconds = 2;
  std::string app = new_app();
  auto t0 = std::chrono::steady_clock::now();
  auto r = deploy(app, latest(host, app));
  double took = seconds_since(t0);
  done = true;
  acceptor.join();
  expect_pull_failed(r, "did not finish within RUNTIME_PULL_TIMEOUT_SECONDS (2 s)");
  BOOST_TEST(took < 6.0, took);
  BOOST_TEST(containers_of(app) == 0u);
}

BOOST_AUTO_TEST_CASE(the_sweep_removes_only_unused_untagged_images_of_the_apps) {
  std::string app = new_app(), image = latest(reg("REGISTRY_HTTP"), app);
  builder.push_http("kept", image);
  deployed(app, image);
  // An untagged image of the app's repository that nothing uses (a tag moved under it, as when
  // a retirement was cut short), and one of a repository no app of the agent runs from.
  std::string stray_repo = reg("REGISTRY_HTTP") + "/other/" + testing::unique_id("not-an-app");
  auto pull = [&](const std::string& ref) {
    pi::PullOptions options;
    options.registry_auth = agent::registry_access_for(agent.settings, ref).auth_header;
    options.tls_verify = false;
    pi::pull(agent.podman, ref, options);
  };
  for (const auto& ref : {repository(image) + ":older", stray_repo + ":1"}) {
    builder.push_http("one " + ref, ref);
    pull(ref);
    builder.push_http("two " + ref, ref);
    pull(ref);  // the tag moved: the first image is left untagged
  }
  BOOST_TEST(untagged_of(repository(image)) == 1u);
  BOOST_TEST(untagged_of(stray_repo) == 1u);
  BOOST_TEST(agent.parts.images.sweep() >= 1);
  BOOST_TEST(untagged_of(repository(image)) == 0u);
  BOOST_TEST(untagged_of(stray_repo) == 1u);  // never an image the agent's apps did not use
  BOOST_TEST(served(app) == "kept\n");  // nor one in use
}

BOOST_AUTO_TEST_SUITE_END()
