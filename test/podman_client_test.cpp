#define BOOST_TEST_MODULE podman_client
#include <boost/test/unit_test.hpp>
#include <future>
#include <thread>

#include "podman/client.h"
#include "podman/containers.h"
#include "podman/events.h"
#include "podman/images.h"
#include "podman/networks.h"
#include "podman/system.h"
#include "test_support.h"

namespace pc = podman::containers;
using testing::seconds_since;

namespace {

const std::string kNet = "funai-client-net";

struct PodmanFixture {
  PodmanFixture() : client(testing::podman_socket()) {
    if (!podman::networks::exists(client, kNet)) podman::networks::create(client, kNet);
  }
  ~PodmanFixture() {
    for (const auto& name : created) pc::remove(client, name, true, 0);
  }

  // Creates (and remembers for cleanup) a container of `image` on kNet.
  std::string make(const std::string& image, bool init = true, bool start = true,
                   std::map<std::string, std::string> labels = {}) {
    pc::Spec spec;
    spec.name = testing::unique_id("pc-");
    spec.image = image;
    spec.network = kNet;
    spec.init = init;
    spec.labels = std::move(labels);
    pc::create(client, spec);
    created.push_back(spec.name);
    if (start) pc::start(client, spec.name);
    return spec.name;
  }

  // Inspects the container until it has exited (20 s at most).
  pc::Container wait_until_exited(const std::string& name) {
    auto t0 = std::chrono::steady_clock::now();
    auto c = pc::inspect(client, name);
    while (c.state.status != "exited" && testing::seconds_since(t0) < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      c = pc::inspect(client, name);
    }
    BOOST_REQUIRE_MESSAGE(c.state.status == "exited", name << " is " << c.state.status << " after 20 s");
    return c;
  }

  podman::Client client;
  std::vector<std::string> created;
};

}  // namespace

namespace {
// Every missing or mistyped field at `pointer`, as "call pointer (want type, got JSON)".
void expect_field(std::vector<std::string>& missing, const std::string& call, const nlohmann::json& j,
                  const std::string& pointer, nlohmann::json::value_t type) {
  nlohmann::json::json_pointer p(pointer);
  if (!j.contains(p)) {
    missing.push_back(call + " " + pointer + " (absent)");
    return;
  }
  const auto& v = j.at(p);
  bool ok = v.type() == type || (type == nlohmann::json::value_t::number_integer && v.is_number_integer()) ||
            (type == nlohmann::json::value_t::number_unsigned && v.is_number_unsigned());
  if (!ok) missing.push_back(call + " " + pointer + " (type " + std::string(v.type_name()) + ": " + v.dump() + ")");
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(client, PodmanFixture)

BOOST_AUTO_TEST_CASE(ping_and_info_describe_the_service) {
  BOOST_TEST(podman::system::ping(client));
  auto info = podman::system::info(client);
  // The suites run on Podman 4 (make test on Debian 12) and 5 (make test-podman5).
  BOOST_TEST(info.version == testing::podman_fixture_version());
  BOOST_TEST((info.version.rfind("4.", 0) == 0u || info.version.rfind("5.", 0) == 0u), info.version);
  BOOST_TEST(info.graph_root.find(testing::podman_fixture_dir()) == 0u, info.graph_root);
  BOOST_TEST((info.cgroup_version == "v1" || info.cgroup_version == "v2"));
  BOOST_TEST(info.oci_runtime == "runc");
}

BOOST_AUTO_TEST_CASE(networks_exist_are_created_and_inspected) {
  std::string name = testing::unique_id("net-");
  BOOST_TEST(!podman::networks::exists(client, name));
  auto created_net = podman::networks::create(client, name);
  BOOST_TEST(created_net.name == name);
  BOOST_TEST(created_net.dns_enabled);
  BOOST_TEST(podman::networks::exists(client, name));
  BOOST_TEST(podman::networks::inspect(client, name).subnets.size() >= 1u);
  BOOST_CHECK_THROW(podman::networks::create(client, name), podman::Conflict);
  BOOST_CHECK_THROW(podman::networks::inspect(client, "no-such-net-x"), podman::NotFound);
  client.send({"network remove", "DELETE", "/networks/" + name});
}

BOOST_AUTO_TEST_CASE(images_exist_list_pull_and_remove) {
  BOOST_TEST(podman::images::id_of(client, testing::kHttpdImage).has_value());
  BOOST_TEST(!podman::images::id_of(client, "localhost/no-such-image:1").has_value());
  auto listed = podman::images::list(client, testing::kHttpdImage);
  BOOST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].names.front() == testing::kHttpdImage);
  // A local image with policy "missing" needs no registry.
  podman::images::PullOptions missing;
  missing.policy = "missing";
  BOOST_TEST(!podman::images::pull(client, testing::kHttpdImage, missing).empty());
  BOOST_TEST(podman::images::id_of(client, testing::kHttpdImage).value_or("") == listed[0].id);
  BOOST_TEST(!podman::images::id_of(client, "localhost/no-such-image:1").has_value());
  // No registry is reachable: the failure comes from libpod's pull stream, with its message.
  BOOST_CHECK_EXCEPTION(podman::images::pull(client, "localhost:1/none/app:1", {}), podman::ServerError,
                        [](const podman::ServerError& e) { return e.call() == "image pull" && !e.message().empty(); });
  BOOST_CHECK_THROW(podman::images::remove(client, "localhost/no-such-image:1"), podman::NotFound);
}

BOOST_AUTO_TEST_CASE(an_image_in_use_is_a_conflict_and_a_free_one_is_removed) {
  // An image of its own (committed from a container), then used by another container.
  std::string source = make(testing::kHttpdImage, true, false);
  std::string repo = "localhost/" + testing::unique_id("commit");
  auto commit = client.send({"commit", "POST", "/commit?container=" + source + "&repo=" + repo + "&tag=1"});
  FUNAI_REQUIRE_STATUS(commit, 200);
  pc::Spec spec;
  spec.name = testing::unique_id("pc-");
  spec.image = repo + ":1";
  pc::create(client, spec);
  BOOST_CHECK_THROW(podman::images::remove(client, repo + ":1"), podman::Conflict);
  pc::remove(client, spec.name, true, 0);
  podman::images::remove(client, repo + ":1");
  BOOST_TEST(!podman::images::id_of(client, repo + ":1").has_value());
  BOOST_TEST(podman::images::id_of(client, testing::kHttpdImage).has_value());
}

BOOST_AUTO_TEST_CASE(create_from_a_typed_spec_applies_labels_env_limits_and_init) {
  pc::Spec spec;
  spec.name = testing::unique_id("pc-");
  spec.image = testing::kHttpdImage;
  spec.network = kNet;
  spec.init = true;
  spec.labels = {{"io.funai.test", "yes"}};
  spec.env = {{"GREETING", "hi"}};
  spec.restart_policy = "always";
  spec.stop_timeout = 4;
  spec.cpus = 0.5;
  spec.cpu_shares = 512;
  spec.memory = 256 * 1024 * 1024;
  spec.memory_swap = 512 * 1024 * 1024;
  spec.pids_limit = 128;
  spec.rlimits = {{"nofile", 1024, 2048}, {"nproc", 1024, 1024}};
  BOOST_TEST(!pc::create(client, spec).empty());
  created.push_back(spec.name);
  pc::start(client, spec.name);
  auto raw = podman::Client::decode("inspect", client.send({"inspect", "GET", "/containers/" + spec.name + "/json"}));
  BOOST_TEST(raw["HostConfig"]["Memory"] == 256 * 1024 * 1024);
  BOOST_TEST(raw["HostConfig"]["MemorySwap"] == 512 * 1024 * 1024);
  BOOST_TEST(raw["HostConfig"]["PidsLimit"] == 128);
  BOOST_TEST(raw["HostConfig"]["CpuQuota"] == 50000);
  BOOST_TEST(raw["HostConfig"]["CpuShares"] == 512);
  BOOST_TEST(raw["HostConfig"]["Init"] == true);
  BOOST_TEST(raw["HostConfig"]["RestartPolicy"]["Name"] == "always");
  BOOST_TEST(raw["Config"]["StopTimeout"] == 4);
  bool has_env = false;
  for (const auto& e : raw["Config"]["Env"]) has_env |= e == "GREETING=hi";
  BOOST_TEST(has_env);
  bool has_nofile = false;
  for (const auto& u : raw["HostConfig"]["Ulimits"])
    has_nofile |= u["Name"] == "RLIMIT_NOFILE" && u["Soft"] == 1024 && u["Hard"] == 2048;
  BOOST_TEST(has_nofile, raw["HostConfig"]["Ulimits"].dump());
  auto c = pc::inspect(client, spec.name);
  BOOST_TEST(c.labels["io.funai.test"] == "yes");
  BOOST_TEST(c.state.running);
  BOOST_TEST(c.image == testing::kHttpdImage);
  BOOST_TEST(!c.ip_on(kNet).empty());
  BOOST_TEST(c.restart_count == 0);
  BOOST_TEST(!c.state.started_at.empty());
}

BOOST_AUTO_TEST_CASE(create_with_a_name_in_use_is_a_conflict) {
  std::string name = make(testing::kHttpdImage, true, false);
  pc::Spec spec;
  spec.name = name;
  spec.image = testing::kHttpdImage;
  BOOST_CHECK_EXCEPTION(pc::create(client, spec), podman::Conflict, [](const podman::Conflict& e) {
    return e.call() == "container create" && e.message().find("in use") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(create_of_a_missing_image_is_not_found) {
  pc::Spec spec;
  spec.name = testing::unique_id("pc-");
  spec.image = "localhost/no-such-image:1";
  BOOST_CHECK_THROW(pc::create(client, spec), podman::NotFound);
}

BOOST_AUTO_TEST_CASE(inspect_of_a_missing_container_is_not_found_with_libpods_message) {
  BOOST_CHECK_EXCEPTION(pc::inspect(client, "no-such-container-x"), podman::NotFound, [](const podman::NotFound& e) {
    return e.call() == "container inspect" && e.cause() == "no such container" &&
           e.message().find("no-such-container-x") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(start_stop_and_remove_are_idempotent_where_documented) {
  std::string name = make(testing::kHttpdImage);
  pc::start(client, name);  // already running: 304, not an error
  pc::stop(client, name, 2);
  BOOST_TEST(!pc::inspect(client, name).state.running);
  pc::stop(client, name, 2);  // already stopped
  BOOST_TEST(pc::remove(client, name, false, 0));
  BOOST_TEST(!pc::remove(client, name, true, 0));  // missing, ignored
  BOOST_CHECK_THROW(pc::remove(client, name, true, 0, false), podman::NotFound);
  BOOST_CHECK_THROW(pc::start(client, name), podman::NotFound);
}

BOOST_AUTO_TEST_CASE(a_pid_1_that_ignores_sigterm_takes_the_whole_timeout_without_init_and_not_with_it) {
  std::string bare = make(testing::kHttpdImage, false);
  std::string with_init = make(testing::kHttpdImage, true);
  auto t0 = std::chrono::steady_clock::now();
  pc::stop(client, bare, 4);
  double without = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  pc::stop(client, with_init, 4);
  double with = seconds_since(t0);
  BOOST_TEST(without >= 3.9, "stop without init took " << without << " s");
  BOOST_TEST(with < 2.5, "stop with init took " << with << " s, near the whole 4 s timeout");
}

BOOST_AUTO_TEST_CASE(list_filters_by_label_and_state) {
  std::string label = testing::unique_id("l");
  std::string running = make(testing::kHttpdImage, true, true, {{"io.funai.case", label}});
  std::string stopped = make(testing::kHttpdImage, true, false, {{"io.funai.case", label}});
  auto all = pc::list(client, {"io.funai.case=" + label}, true);
  auto only_running = pc::list(client, {"io.funai.case=" + label}, false);
  BOOST_TEST(all.size() == 2u);
  BOOST_REQUIRE(only_running.size() == 1u);
  BOOST_TEST(only_running[0].names.front() == running);
  BOOST_TEST(only_running[0].labels["io.funai.case"] == label);
  BOOST_TEST(only_running[0].state == "running");
}

BOOST_AUTO_TEST_CASE(rename_works_on_a_running_container) {
  std::string name = make(testing::kHttpdImage);
  std::string renamed = name + "-r";
  pc::rename(client, name, renamed);
  created.push_back(renamed);
  BOOST_TEST(pc::inspect(client, renamed).state.running);
  BOOST_CHECK_THROW(pc::inspect(client, name), podman::NotFound);
  BOOST_CHECK_THROW(pc::rename(client, "no-such-container-x", "y"), podman::NotFound);
}

BOOST_AUTO_TEST_CASE(a_crashed_container_reports_its_exit_code_and_its_logs_hold_the_message) {
  std::string name = make(testing::kCrashImage);
  auto c = wait_until_exited(name);
  BOOST_TEST(c.state.status == "exited");
  BOOST_TEST(c.state.exit_code == 3);
  auto logs = pc::logs(client, name, 50);
  BOOST_TEST(logs.err.find("fatal: app crashed on purpose") != std::string::npos, logs.combined);
  BOOST_TEST(logs.combined.find("fatal: app crashed on purpose") != std::string::npos);
  BOOST_TEST(logs.out.find("fatal") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(events_arrive_for_start_and_die_of_a_labelled_container_and_the_stream_stops_on_request) {
  std::string label = testing::unique_id("ev");
  std::atomic<bool> stop{false};
  std::mutex m;
  std::vector<std::string> actions;
  auto streaming = std::async(std::launch::async, [&] {
    podman::events::stream(
        // since: also what libpod logs while it sets the stream up (no sleep before the first event)
        client, {{"container"}, {"io.funai.case=" + label}, {}, std::chrono::system_clock::now() - std::chrono::seconds(1)},
        [&](const podman::events::Event& e) {
          std::lock_guard<std::mutex> lock(m);
          actions.push_back(e.action + ":" + e.attributes.at("io.funai.case"));
          return true;
        },
        stop);
  });
  // A failed step below must still end the stream, or the future's destructor waits forever.
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop = true; }
  } stop_on_exit{stop};
  make(testing::kHttpdImage, false, true, {{"io.funai.other", "x"}});  // not ours: filtered out
  std::string name = make(testing::kCrashImage, true, true, {{"io.funai.case", label}});
  wait_until_exited(name);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto seen = [&](const std::string& a) {
    std::lock_guard<std::mutex> lock(m);
    return std::find(actions.begin(), actions.end(), a + ":" + label) != actions.end();
  };
  while ((!seen("start") || !seen("died")) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(seen("start"));
  BOOST_TEST(seen("died"));
  auto t0 = std::chrono::steady_clock::now();
  stop = true;
  BOOST_TEST((streaming.wait_for(std::chrono::seconds(5)) == std::future_status::ready));
  BOOST_TEST(seconds_since(t0) < 5.0);
  std::lock_guard<std::mutex> lock(m);
  for (const auto& a : actions) BOOST_TEST(a.find(label) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_wrong_socket_path_is_unreachable_within_the_connect_timeout) {
  podman::Client missing("unix:///nonexistent/podman.sock");
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(podman::system::info(missing), podman::Unreachable, [](const podman::Unreachable& e) {
    return e.call() == "info" && e.message().find("/nonexistent/podman.sock") != std::string::npos;
  });
  BOOST_TEST(seconds_since(t0) < 2.5);
  BOOST_CHECK_THROW(podman::system::ping(missing), podman::Unreachable);
}

BOOST_AUTO_TEST_CASE(a_tcp_endpoint_that_refuses_is_unreachable) {
  podman::Client refused("tcp://127.0.0.1:1");
  BOOST_CHECK_THROW(pc::list(refused, {}), podman::Unreachable);
}

BOOST_AUTO_TEST_CASE(the_client_is_safe_from_many_threads_and_reuses_connections) {
  std::vector<std::future<int>> workers;
  for (int t = 0; t < 8; ++t)
    workers.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < 50; ++i) ok += podman::system::ping(client) ? 1 : 0;
      return ok;
    }));
  int total = 0;
  for (auto& w : workers) total += w.get();
  BOOST_TEST(total == 400);
}



// podman/ reads libpod's answers with defaults (value("X", "")), so a field that a Podman
// version renamed or dropped would read as empty rather than fail. This case names each field
// that podman/ reads, in each answer, on the fixture's Podman (4.3 in make test, 5.4 in
// make test-podman5).
BOOST_AUTO_TEST_CASE(libpods_answers_carry_every_field_that_podman_reads) {
  using T = nlohmann::json::value_t;
  constexpr T S = T::string, B = T::boolean, I = T::number_integer, O = T::object, A = T::array;
  std::vector<std::string> missing;
  std::string label = testing::unique_id("fields");
  std::atomic<bool> stop{false};
  std::mutex m;
  std::vector<podman::events::Event> events;
  auto streaming = std::async(std::launch::async, [&] {
    podman::events::stream(
        // since: also what libpod logs while it sets the stream up (no sleep before the first event)
        client, {{"container"}, {"io.funai.case=" + label}, {}, std::chrono::system_clock::now() - std::chrono::seconds(1)},
        [&](const podman::events::Event& e) {
          std::lock_guard<std::mutex> lock(m);
          events.push_back(e);
          return true;
        },
        stop);
  });
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop = true; }
  } stop_on_exit{stop};
  std::string name = make(testing::kHttpdImage, true, true, {{"io.funai.case", label}});
  auto inspect = podman::Client::decode("inspect", client.get("inspect", "/containers/" + name + "/json"));
  for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{
           {"/Id", S}, {"/Name", S}, {"/ImageName", S}, {"/Image", S}, {"/RestartCount", I}, {"/State/Status", S},
           {"/State/Running", B}, {"/State/ExitCode", I}, {"/State/OOMKilled", B}, {"/State/StartedAt", S},
           {"/State/FinishedAt", S}, {"/State/Error", S}, {"/Config/Labels", O}, {"/NetworkSettings/Networks/" + kNet, O},
           {"/NetworkSettings/Networks/" + kNet + "/IPAddress", S}})
    expect_field(missing, "container inspect", inspect, ptr, type);

  auto list = podman::Client::decode("list", client.get("list", "/containers/json?all=true"));
  BOOST_REQUIRE(list.is_array());
  nlohmann::json listed;
  for (const auto& c : list)
    if (c.value("Id", "") == inspect.value("Id", "")) listed = c;
  BOOST_REQUIRE_MESSAGE(listed.is_object(), "the container is not in the list");
  for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{
           {"/Id", S}, {"/Names", A}, {"/Names/0", S}, {"/Image", S}, {"/State", S}, {"/ExitCode", I}, {"/Labels", O}})
    expect_field(missing, "container list", listed, ptr, type);

  auto images = podman::Client::decode("images", client.get("images", "/images/json"));
  BOOST_REQUIRE(images.is_array());
  nlohmann::json image;
  for (const auto& i : images)
    for (const auto& tag : i.value("RepoTags", nlohmann::json::array()))
      if (tag == testing::kHttpdImage) image = i;
  BOOST_REQUIRE_MESSAGE(image.is_object(), "the httpd image is not in the list");
  for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{
           {"/Id", S}, {"/RepoTags", A}, {"/History", A}, {"/Containers", I}})
    expect_field(missing, "image list", image, ptr, type);

  auto network = podman::Client::decode("network", client.get("network", "/networks/" + kNet + "/json"));
  for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{
           {"/name", S}, {"/id", S}, {"/driver", S}, {"/network_interface", S}, {"/dns_enabled", B}, {"/internal", B},
           {"/subnets", A}, {"/subnets/0/subnet", S}, {"/subnets/0/gateway", S}})
    expect_field(missing, "network inspect", network, ptr, type);

  // A request to the container, so that its network input is not zero.
  std::string ip = pc::inspect(client, name).ip_on(kNet);
  for (int i = 0; i < 50 && testing::http("GET", "http://" + ip + ":8080/").status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto stats = podman::Client::decode("stats", client.get("stats", "/containers/stats?stream=false"));
  nlohmann::json mine;
  for (const auto& st : stats.value("Stats", nlohmann::json::array()))
    if (st.value("ContainerID", "") == inspect.value("Id", "")) mine = st;
  BOOST_TEST(mine.is_object(), "the running container is not in the stats: " << stats.dump().substr(0, 300));
  if (mine.is_object()) {
    for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{{"/ContainerID", S}, {"/Name", S}})
      expect_field(missing, "container stats", mine, ptr, type);
    // Network input: Podman 4 sends NetInput, Podman 5 Network/<interface>/RxBytes (podman/ reads either).
    if (mine.contains("NetInput")) expect_field(missing, "container stats", mine, "/NetInput", T::number_unsigned);
    else expect_field(missing, "container stats", mine, "/Network/eth0/RxBytes", T::number_unsigned);
    // What podman/ makes of it: the bytes this container received (the fixture's own requests, ARP).
    auto parsed = podman::containers::stats(client);
    auto it = std::find_if(parsed.begin(), parsed.end(), [&](const auto& st) { return st.id == inspect.value("Id", ""); });
    BOOST_TEST((it != parsed.end() && it->net_input > 0), "parsed network input of the running container is 0");
  }

  auto info = podman::Client::decode("info", client.get("info", "/info"));
  for (const auto& [ptr, type] : std::vector<std::pair<std::string, T>>{
           {"/version/Version", S}, {"/version/APIVersion", S}, {"/store/graphRoot", S}, {"/host/cgroupVersion", S}, {"/host/cgroupManager", S},
           {"/host/ociRuntime/name", S}})
    expect_field(missing, "info", info, ptr, type);

  // Events are parsed with defaults too: an absent field reads as empty or 0.
  auto t0 = std::chrono::steady_clock::now();
  auto started = [&] {
    std::lock_guard<std::mutex> lock(m);
    return std::any_of(events.begin(), events.end(), [](const auto& e) { return e.action == "start"; });
  };
  while (!started() && seconds_since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  streaming.wait_for(std::chrono::seconds(3));
  {
    std::lock_guard<std::mutex> lock(m);
    BOOST_TEST(!events.empty(), "no event arrived for the container");
    for (const auto& e : events) {
      std::string shown = e.action + " of " + e.id;
      if (e.type != "container") missing.push_back("event Type (" + shown + ": '" + e.type + "')");
      if (e.action.empty()) missing.push_back("event Action");
      if (e.time_nano <= 0) missing.push_back("event timeNano (" + shown + ")");
      if (e.id != inspect.value("Id", "")) missing.push_back("event Actor/ID (" + shown + ")");
      auto name_attr = e.attributes.find("name");
      if (name_attr == e.attributes.end() || name_attr->second != name) missing.push_back("event Actor/Attributes/name (" + shown + ")");
      auto case_attr = e.attributes.find("io.funai.case");
      if (case_attr == e.attributes.end() || case_attr->second != label) missing.push_back("event Actor/Attributes label (" + shown + ")");
    }
  }

  BOOST_TEST(missing.empty(), "fields podman/ reads that this Podman does not send: " << nlohmann::json(missing).dump());
}

BOOST_AUTO_TEST_SUITE_END()
