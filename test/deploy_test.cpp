#define BOOST_TEST_MODULE deploy
#include <boost/test/unit_test.hpp>
#include <future>
#include <set>
#include <thread>

#include "base/app_labels.h"
#include "podman/containers.h"
#include "podman/networks.h"
#include "podman/images.h"
#include "test_support.h"

namespace pc = podman::containers;
using nlohmann::json;
using testing::seconds_since;

namespace {

struct DeployFixture {
  DeployFixture() : agent(testing::test_settings(routing.path(), logs.path())) {}
  ~DeployFixture() {
    for (const auto& app : apps) testing::remove_app_containers(agent.podman, app);
  }

  std::string new_app() {
    apps.push_back(testing::unique_id("a"));
    return apps.back();
  }

  // As the Runner calls it: POST with the token, a JSON object, a 30 s timeout.
  testing::HttpResult deploy(const std::string& user, const std::string& app, const std::string& image,
                             const std::string& extra = "") {
    std::string body = R"({"userId":")" + user + R"(","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080)" +
                       extra + "}";
    return agent.call("POST", "/agent/apps/deploy", body);
  }
  testing::HttpResult post(const std::string& action, const std::string& user, const std::string& app) {
    return agent.call("POST", "/agent/apps/" + action, R"({"userId":")" + user + R"(","appId":")" + app + R"("})");
  }
  json status(const std::string& app, const std::string& user = "") {
    auto r = agent.call("GET", "/agent/apps/status?appId=" + app + (user.empty() ? "" : "&userId=" + user));
    FUNAI_REQUIRE_STATUS(r, 200);
    return json::parse(r.body);
  }
  std::string upstream(const std::string& app) { return testing::routed_upstream(*agent.routes, app); }
  std::string fetch(const std::string& base) {
    auto r = testing::http("GET", base + "/", "", {}, std::chrono::milliseconds(2000));
    return r.status == 200 ? r.body : "";
  }
  size_t container_count(const std::string& app) {
    return pc::list(agent.podman, {agent::labels::app_filter(app)}).size();
  }

  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  std::vector<std::string> apps;
};

void expect_code(const testing::HttpResult& r, int status, const std::string& code) {
  BOOST_TEST(r.status == status, r.body);
  auto body = json::parse(r.body, nullptr, false);
  BOOST_REQUIRE(body.is_object());
  BOOST_TEST(body["code"] == code, r.body);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(deploy, DeployFixture)

BOOST_AUTO_TEST_CASE(a_runner_style_deploy_answers_through_the_url_in_its_routing_file) {
  std::string app = new_app();
  auto r = deploy("7", app, testing::kHttpdImage);
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  BOOST_TEST(body.is_object());
  BOOST_TEST(body["appId"] == app);
  BOOST_TEST(body["containerName"] == "rt-u-7-" + app);
  BOOST_TEST(body["status"] == "DEPLOYED");
  BOOST_TEST(body["previewUrl"] == "http://gateway.test/apps/" + app + "/");
  BOOST_TEST(body["imageId"] == podman::images::id_of(agent.podman, testing::kHttpdImage).value_or("?"));
  BOOST_TEST(body["pulled"] == false);  // policy missing, a local copy
  BOOST_TEST(!body.contains("warning"));
  std::string url = upstream(app);
  BOOST_TEST(url.rfind("http://10.", 0) == 0u, url);
  BOOST_TEST(fetch(url) == "hello from httpd\n");

  auto s = status(app);
  BOOST_TEST(s["exists"] == true);
  BOOST_TEST(s["running"] == true);
  BOOST_TEST(s["containerName"] == "rt-u-7-" + app);
  BOOST_TEST(s["image"] == testing::kHttpdImage);
  BOOST_TEST(s["port"] == 8080);
  BOOST_TEST(s["state"] == "running");
  BOOST_TEST(s["routed"] == true);
  BOOST_TEST(s["basePath"] == "/apps/" + app);
  BOOST_TEST(s["restartCount"] == 0);
  BOOST_TEST(!s["startedAt"].get<std::string>().empty());
  BOOST_TEST(url == "http://" + s["ip"].get<std::string>() + ":8080");
  BOOST_TEST(!s.contains("exitCode"));
  BOOST_TEST(status(app, "7") == s);

  auto c = pc::inspect(agent.podman, "rt-u-7-" + app);
  BOOST_TEST(c.labels["io.funai.managed"] == "true");
  BOOST_TEST(c.labels["io.funai.userId"] == "7");
  BOOST_TEST(c.labels["io.funai.appId"] == app);
  BOOST_TEST(c.labels["io.funai.port"] == "8080");
  BOOST_TEST(c.labels["io.funai.basePath"] == "/apps/" + app);
}

BOOST_AUTO_TEST_CASE(redeploys_under_continuous_traffic_fail_no_request_and_end_on_the_new_version) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  testing::GatewaySimulator gateway(*agent.routes, app);
  std::vector<std::string> images = {testing::kHttpd2Image, testing::kHttpdImage, testing::kHttpd2Image};
  for (const auto& image : images) {
    auto r = deploy("7", app, image);
    FUNAI_REQUIRE_STATUS(r, 200);
    BOOST_TEST_MESSAGE("redeployed to " << upstream(app));
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  gateway.stop();
  BOOST_TEST(gateway.failed() == 0, "failed requests: " << gateway.failed());
  for (const auto& f : gateway.failures()) BOOST_TEST_MESSAGE("failure: " << f);
  BOOST_TEST(gateway.ok() > 500);
  BOOST_TEST_MESSAGE("requests: " << gateway.ok() << " ok, slowest " << gateway.slowest() << " s");
  BOOST_TEST(gateway.last_body() == "v2\n");
  BOOST_TEST(fetch(upstream(app)) == "v2\n");
  // Old containers are retired after their grace period: one container remains, under its name.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto left = pc::list(agent.podman, {agent::labels::app_filter(app)});
  BOOST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left[0].names.front() == "rt-u-7-" + app);
}

BOOST_AUTO_TEST_CASE(failed_deploys_keep_the_old_version_serving) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  std::string before = upstream(app);
  auto file_before = agent.routes->read(app);

  auto crashed = deploy("7", app, testing::kCrashImage);
  expect_code(crashed, 502, "app_exited");
  std::string detail = json::parse(crashed.body)["detail"];
  BOOST_TEST(detail.find("exited with code 3") != std::string::npos, detail);
  BOOST_TEST(detail.find("fatal: app crashed on purpose") != std::string::npos, detail);

  auto missing = deploy("7", app, "localhost/no-such-image:1");  // not local, and no registry answers
  expect_code(missing, 502, "image_pull_failed");

  BOOST_TEST(upstream(app) == before);
  BOOST_TEST((agent.routes->read(app) == file_before));
  BOOST_TEST(fetch(before) == "hello from httpd\n");
  BOOST_TEST(container_count(app) == 1u);
  BOOST_TEST(status(app)["image"] == testing::kHttpdImage);
}

BOOST_AUTO_TEST_CASE(an_app_that_never_listens_fails_after_the_ready_timeout_and_the_old_one_stays) {
  agent.settings.ready_timeout_seconds = 2;
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  std::string before = upstream(app);
  auto t0 = std::chrono::steady_clock::now();
  auto r = deploy("7", app, testing::kNoListenImage);
  expect_code(r, 502, "app_not_ready");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("within 2 s") != std::string::npos);
  BOOST_TEST(seconds_since(t0) < 7.5, "after the 2 s ready timeout set here, not the suite's 8 s");
  BOOST_TEST(upstream(app) == before);
  BOOST_TEST(fetch(before) == "hello from httpd\n");
  BOOST_TEST(container_count(app) == 1u);
}

BOOST_AUTO_TEST_CASE(an_app_that_listens_late_is_routed_only_once_it_accepts) {
  std::string app = new_app();
  auto t0 = std::chrono::steady_clock::now();
  auto r = deploy("7", app, testing::kSlowImage);
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(seconds_since(t0) >= 2.5);
  BOOST_TEST(fetch(upstream(app)) == "hello from slow\n");
}

BOOST_AUTO_TEST_CASE(a_podman_error_keeps_the_old_version_serving) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  std::string before = upstream(app);
  auto limit = agent.settings.app_memory;
  agent.settings.app_memory = 1024 * 1024;  // below Podman's 6 MB minimum: create fails
  auto r = deploy("7", app, testing::kHttpd2Image);
  agent.settings.app_memory = limit;
  BOOST_TEST(r.status == 502, r.body);
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("memory") != std::string::npos, r.body);
  BOOST_TEST(upstream(app) == before);
  BOOST_TEST(fetch(before) == "hello from httpd\n");
  BOOST_TEST(container_count(app) == 1u);
}

// Policy always never deploys a local copy when the pull fails: the Runner would report a success
// while the user's new build is not live. The registry tests (registry_test) cover each cause.
BOOST_AUTO_TEST_CASE(pull_policy_always_never_deploys_the_local_copy_when_the_pull_fails) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);  // policy missing: the local copy
  std::string before = upstream(app);
  agent.settings.pull_policy = agent::PullPolicy::always;
  auto failed = deploy("7", app, testing::kHttpd2Image);  // on this node, but no registry "localhost" answers
  expect_code(failed, 502, "image_pull_failed");
  std::string detail = json::parse(failed.body)["detail"];
  BOOST_TEST(detail.find("registry localhost could not be reached") != std::string::npos, detail);
  BOOST_TEST(upstream(app) == before);
  BOOST_TEST(fetch(before) == "hello from httpd\n");
  BOOST_TEST(container_count(app) == 1u);
  agent.settings.pull_policy = agent::PullPolicy::never;
  expect_code(deploy("7", app, "localhost/not-here:1"), 502, "image_unavailable");
  agent.settings.pull_policy = agent::PullPolicy::missing;
}

BOOST_AUTO_TEST_CASE(five_concurrent_deploys_of_different_apps_all_succeed) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(new_app());
  std::vector<std::future<testing::HttpResult>> calls;
  for (const auto& id : ids) calls.push_back(std::async(std::launch::async, [&, id] { return deploy("7", id, testing::kHttpdImage); }));
  for (auto& c : calls) {
    auto r = c.get();
    BOOST_TEST(r.status == 200, r.body);
  }
  for (const auto& id : ids) BOOST_TEST(fetch(upstream(id)) == "hello from httpd\n", id);
}

BOOST_AUTO_TEST_CASE(five_concurrent_deploys_of_one_app_give_one_200_and_409s) {
  std::string app = new_app();
  std::vector<std::future<testing::HttpResult>> calls;
  for (int i = 0; i < 5; ++i) calls.push_back(std::async(std::launch::async, [&] { return deploy("7", app, testing::kSlowImage); }));
  int ok = 0, conflict = 0;
  for (auto& c : calls) {
    auto r = c.get();
    if (r.status == 200) ++ok;
    if (r.status == 409) {
      ++conflict;
      BOOST_TEST(json::parse(r.body)["code"] == "deploy_in_progress");
    }
  }
  BOOST_TEST(ok == 1);
  BOOST_TEST(conflict == 4);
  BOOST_TEST(container_count(app) == 1u);
}

BOOST_AUTO_TEST_CASE(a_deploy_in_flight_blocks_neither_status_nor_health_nor_other_apps) {
  std::string slow_app = new_app();
  std::string other = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", other, testing::kHttpdImage), 200);
  auto slow = std::async(std::launch::async, [&] { return deploy("7", slow_app, testing::kSlowImage); });
  // Until its container exists: the deploy holds the app for 3 s more at least (the image listens
  // only after 3 s), and everything below must answer within that time, not after it.
  auto t0 = std::chrono::steady_clock::now();
  while (!status(slow_app).value("exists", false) && seconds_since(t0) < 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(status(slow_app)["exists"] == true);  // its container is starting
  BOOST_TEST(testing::http("GET", agent.url("/internal/health")).status == 200);
  BOOST_TEST(status(other)["running"] == true);
  BOOST_TEST(post("stop", "7", other).status == 200);
  BOOST_TEST((slow.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready), "the calls waited for the deploy in flight");
  BOOST_TEST(slow.get().status == 200);
}

BOOST_AUTO_TEST_CASE(the_same_app_under_another_user_is_a_conflict) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  auto r = deploy("8", app, testing::kHttpdImage);
  expect_code(r, 409, "app_owned_by_another_user");
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("user 7") != std::string::npos);
  expect_code(post("stop", "8", app), 409, "app_owned_by_another_user");
  BOOST_TEST(fetch(upstream(app)) == "hello from httpd\n");
  BOOST_TEST(status(app, "8")["exists"] == false);
}

BOOST_AUTO_TEST_CASE(stop_removes_the_route_first_then_the_container_and_is_idempotent) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  auto t0 = std::chrono::steady_clock::now();
  auto r = post("stop", "7", app);
  double took = seconds_since(t0);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json::parse(r.body) == json({{"appId", app}, {"status", "STOPPED"}}));
  // A hang guard, not a speed check (make bench measures stops): the container gets its stop signal at
  // once, its init ends it.
  BOOST_TEST(took < 5.0, "stop took " << took << " s");
  BOOST_TEST(!agent.routes->read(app).has_value());
  BOOST_TEST(container_count(app) == 0u);
  BOOST_TEST(post("stop", "7", app).status == 200);
  auto s = status(app);
  BOOST_TEST(s["exists"] == false);
  BOOST_TEST(s["running"] == false);
  BOOST_TEST(s["image"].is_null());
  BOOST_TEST(podman::images::id_of(agent.podman, testing::kHttpdImage).has_value());  // cleanup off by default
}

BOOST_AUTO_TEST_CASE(user_and_app_ids_with_dashes_never_share_a_container_name) {
  // Before: user "1-2" with app "3" and user "1" with app "2-3" were both rt-u-1-2-3; the second
  // deploy failed with a misleading name_in_use.
  std::string tail = new_app();
  apps.push_back("p-" + tail);
  auto first = deploy("7-p", tail, testing::kHttpdImage);
  FUNAI_REQUIRE_STATUS(first, 200);
  auto second = deploy("7", "p-" + tail, testing::kHttpdImage);
  FUNAI_REQUIRE_STATUS(second, 200);
  std::string a = json::parse(first.body)["containerName"], b = json::parse(second.body)["containerName"];
  BOOST_TEST(a != b);
  BOOST_TEST(a == "rt-u-7--p-" + tail);
  BOOST_TEST(b == "rt-u-7-p--" + tail);
  BOOST_TEST(status(tail, "7-p")["running"] == true);
  BOOST_TEST(status("p-" + tail, "7")["running"] == true);
}

BOOST_AUTO_TEST_CASE(delete_removes_the_apps_images_and_lists_removed_and_kept) {
  // Images of their own (committed, so each has its own id), so removing them touches no other test.
  auto copy = [&](const std::string& tag) {
    std::string repo = testing::unique_id("localhost/del");
    pc::Spec spec;
    spec.name = testing::unique_id("src-");
    spec.image = testing::kHttpdImage;
    pc::create(agent.podman, spec);
    auto r = agent.podman.send({"commit", "POST", "/commit?container=" + spec.name + "&repo=" + podman::escape(repo) + "&tag=" + tag});
    pc::remove(agent.podman, spec.name, true, 0);
    FUNAI_REQUIRE_STATUS(r, 200);
    return repo + ":" + tag;
  };
  std::string own = copy("1");
  std::string shared = copy("2");
  std::string app = new_app(), neighbour = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, own), 200);
  FUNAI_REQUIRE_STATUS(deploy("7", neighbour, shared), 200);
  std::string app2 = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app2, shared), 200);

  auto r = post("delete", "7", app);
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  BOOST_TEST(body["status"] == "DELETED");
  BOOST_TEST(body["images"]["removed"] == json::array({own}));
  BOOST_TEST(body["images"]["kept"] == json::array());
  BOOST_TEST(!podman::images::id_of(agent.podman, own).has_value());
  BOOST_TEST(!agent.routes->read(app).has_value());

  auto again = post("delete", "7", app);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(json::parse(again.body)["images"]["removed"] == json::array());

  // The image of app2 is also used by neighbour: kept, and reported so.
  auto kept = json::parse(post("delete", "7", app2).body);
  BOOST_TEST(kept["images"]["kept"] == json::array({shared}));
  BOOST_TEST(podman::images::id_of(agent.podman, shared).has_value());
  BOOST_TEST(fetch(upstream(neighbour)) == "hello from httpd\n");
  post("delete", "7", neighbour);
  BOOST_TEST(podman::images::id_of(agent.podman, testing::kHttpdImage).has_value());
}

BOOST_AUTO_TEST_CASE(status_is_cached_briefly_and_follows_changes_made_outside_the_agent) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  BOOST_TEST(status(app, "7")["running"] == true);
  pc::stop(agent.podman, "rt-u-7-" + app, 1);  // behind the agent's back, no events consumer here
  std::this_thread::sleep_for(agent::AppStatusReader::kCacheTtl + std::chrono::milliseconds(100));
  BOOST_TEST(status(app, "7")["running"] == false);
  BOOST_TEST(post("stop", "7", app).status == 200);  // the agent's own changes show at once
  BOOST_TEST(status(app, "7")["exists"] == false);
}

BOOST_AUTO_TEST_CASE(status_of_an_exited_app_has_its_exit_code) {
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, testing::kHttpdImage), 200);
  pc::stop(agent.podman, "rt-u-7-" + app, 1);
  auto s = status(app, "7");
  BOOST_TEST(s["exists"] == true);
  BOOST_TEST(s["running"] == false);
  BOOST_TEST(s.contains("exitCode"));
  BOOST_TEST(s["routed"] == false);
}

BOOST_AUTO_TEST_CASE(a_custom_base_path_is_normalised_routed_and_in_the_preview_url) {
  std::string app = new_app();
  auto r = deploy("7", app, testing::kHttpdImage, R"(,"basePath":"custom/)" + app + R"(/")");
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(json::parse(r.body)["previewUrl"] == "http://gateway.test/custom/" + app + "/");
  auto route = agent.routes->read(app);
  BOOST_REQUIRE(route.has_value());
  BOOST_TEST(route->base_path == "/custom/" + app);
  BOOST_TEST(status(app)["basePath"] == "/custom/" + app);
}

BOOST_AUTO_TEST_CASE(hostile_ids_create_nothing) {
  auto before = pc::list(agent.podman, {}).size();
  for (const char* id : {"../x", "a;b", "$(id)", "`id`", "a b", "x`) || Host(`y"}) {
    json body = {{"userId", "7"}, {"appId", id}, {"image", testing::kHttpdImage}};
    BOOST_TEST(agent.call("POST", "/agent/apps/deploy", body.dump()).status == 422);
  }
  BOOST_TEST(pc::list(agent.podman, {}).size() == before);
  BOOST_TEST(agent.routes->list().empty());
}

BOOST_AUTO_TEST_CASE(cleanup_images_on_stop_removes_the_image) {
  agent.settings.cleanup_images_on_stop = true;
  std::string name = testing::unique_id("localhost/stopclean") + ":1";
  auto r = agent.podman.send({"image tag", "POST", "/images/" + podman::escape(testing::kHttpdImage) + "/tag?repo=" +
                                                       podman::escape(name.substr(0, name.find(':'))) + "&tag=1"});
  FUNAI_REQUIRE_STATUS(r, 201);
  std::string app = new_app();
  FUNAI_REQUIRE_STATUS(deploy("7", app, name), 200);
  BOOST_TEST(post("stop", "7", app).status == 200);
  BOOST_TEST(!podman::images::id_of(agent.podman, name).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// The apps' network removed behind the agent's back (by an operator, or `podman network prune`
// once the last app went): the agent knew it existed, and its next deploy failed as
// image_unavailable, forever. Now the network is made again.
BOOST_AUTO_TEST_CASE(a_deploy_after_the_apps_network_was_removed_makes_it_again) {
  testing::TempDir routing, logs;
  auto settings = testing::test_settings(routing.path(), logs.path());
  settings.network = testing::unique_id("funai-gone-net-");
  testing::AgentUnderTest agent(settings);
  std::string first = testing::unique_id("g"), second = testing::unique_id("g");
  auto body = [](const std::string& app) {
    return R"({"userId":"7","appId":")" + app + R"(","image":")" + testing::kHttpdImage + R"(","containerPort":8080})";
  };
  FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/deploy", body(first)), 200);
  FUNAI_REQUIRE_STATUS(agent.call("POST", "/agent/apps/stop", R"({"userId":"7","appId":")" + first + R"("})"), 200);
  agent.podman.send({"networks", "DELETE", "/networks/" + settings.network});
  BOOST_REQUIRE(!podman::networks::exists(agent.podman, settings.network));
  auto r = agent.call("POST", "/agent/apps/deploy", body(second));
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(podman::networks::exists(agent.podman, settings.network));
  testing::remove_app_containers(agent.podman, first);
  testing::remove_app_containers(agent.podman, second);
  try {
    agent.podman.send({"networks", "DELETE", "/networks/" + settings.network});
  } catch (const std::exception&) {
  }
}
