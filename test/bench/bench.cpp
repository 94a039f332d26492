// make bench: the agent's speed and memory, each figure next to a baseline measured in the same
// run (raw Podman: the CLI or the libpod API directly), agent and baseline alternating.
// It prints figures; it asserts nothing.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "apps/app_parts.h"
#include "podman/containers.h"
#include "apps/reconciler.h"
#include "test_support.h"

namespace pc = podman::containers;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string agent;  // http://127.0.0.1:PORT
  std::string token;
  std::string socket;  // unix://...
  std::string fixture_dir;
  std::string network;
  std::string routing_dir;
  int agent_pid = 0;
  int podman_pid = 0;  // the podman system service the agent drives: the memory baseline
  int n = 10;
  int load_seconds = 3;
  int many_apps = 100;
  std::string registry_phase;  // "pull" or "plain": only the image-path figures (registry_rows)
  std::string registry_image;  // a ~50 MB app image in a local plain-HTTP registry
  std::string samples;         // where the pull phase leaves its samples for the plain phase
  bool connections = false;    // only the connection figures (connection_rows)
  bool sleep = false;          // only the scale-to-zero figures (sleep_rows)
  int wakes = 30;
  int density_apps = 200;
  int wake_port = 0;
};

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Stats {
  std::vector<double> values;
  double median() const { return pct(50); }
  double p95() const { return pct(95); }
  double pct(double p) const {
    if (values.empty()) return 0;
    auto v = values;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  }
};

struct Row {
  std::string what, agent_median, agent_p95, base_what, base_median, base_p95, ratio, target;
};
std::vector<Row> rows;

std::string fmt(double v, int precision = 1) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(precision) << v;
  return o.str();
}

Options opt;

std::string cli() {
  return "CONTAINERS_CONF=" + opt.fixture_dir + "/containers.conf podman --root " + opt.fixture_dir + "/root --runroot " +
         opt.fixture_dir + "/run --tmpdir " + opt.fixture_dir + "/tmp ";
}

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

bool accepts(const std::string& ip, int port) {
  try {
    Poco::Net::StreamSocket s;
    s.connect(Poco::Net::SocketAddress(ip, static_cast<Poco::UInt16>(port)), Poco::Timespan(0, 200000));
    return true;
  } catch (...) {
    return false;
  }
}

// n samples of a process's memory in MB, 100 ms apart: USS (private), PSS and RSS.
struct Memory {
  Stats uss, pss, rss;
};
Memory memory_mb(int pid, int n) {
  Memory m;
  for (int i = 0; i < n; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto kb = testing::memory_kb(pid);
    m.uss.values.push_back(static_cast<double>(kb.uss) / 1024.0);
    m.pss.values.push_back(static_cast<double>(kb.pss) / 1024.0);
    m.rss.values.push_back(static_cast<double>(kb.rss) / 1024.0);
  }
  return m;
}

testing::HttpResult agent_call(const std::string& method, const std::string& path, const std::string& body = "") {
  std::map<std::string, std::string> h = {{"X-Runtime-Token", opt.token}};
  if (!body.empty()) h["Content-Type"] = "application/json";
  return testing::http(method, opt.agent + path, body, h, std::chrono::milliseconds(120000));
}

std::string deploy_body(const std::string& app, const std::string& image) {
  return R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})";
}

// podman run -d (CLI) + first TCP accept on the container's IP.
double baseline_run(const std::string& name, podman::Client& podman, const std::string& image = testing::kHttpdImage) {
  auto t0 = Clock::now();
  sh(cli() + "run -d --init --network " + opt.network + " --name " + name + " " + image);
  std::string ip;
  while (ms_since(t0) < 20000) {
    try {
      ip = pc::inspect(podman, name).ip_on(opt.network);
    } catch (...) {
    }
    if (!ip.empty() && accepts(ip, 8080)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return ms_since(t0);
}

// Keep-alive HTTP GETs from `threads` threads for `seconds`: latencies (ms) and request count.
struct Load {
  Stats latency;
  long requests = 0;
  long errors = 0;
  double seconds = 0;
  double rate() const { return static_cast<double>(requests) / seconds; }
};

// Lets the workers run for `seconds`, stops them and gathers their figures.
Load finish_load(int seconds, std::atomic<bool>& stop, std::vector<std::thread>& pool, std::vector<Stats>& per,
                 const std::atomic<long>& errors, Clock::time_point t0) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  Load load;
  load.seconds = ms_since(t0) / 1000.0;
  for (auto& s : per) load.latency.values.insert(load.latency.values.end(), s.values.begin(), s.values.end());
  load.requests = static_cast<long>(load.latency.values.size());
  load.errors = errors;
  return load;
}

Load http_load(const std::string& path, int threads, int seconds, bool with_token) {
  Poco::URI uri(opt.agent);
  std::vector<Stats> per(static_cast<size_t>(threads));
  std::atomic<long> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
      session.setKeepAlive(true);
      std::string body;
      while (!stop) {
        auto r0 = Clock::now();
        try {
          Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
          req.setKeepAlive(true);
          if (with_token) req.set("X-Runtime-Token", opt.token);
          session.sendRequest(req);
          Poco::Net::HTTPResponse resp;
          auto& in = session.receiveResponse(resp);
          body.clear();
          Poco::StreamCopier::copyToString(in, body);
          if (resp.getStatus() != 200) ++errors;
        } catch (...) {
          ++errors;
          session.reset();
        }
        per[static_cast<size_t>(t)].values.push_back(ms_since(r0));
      }
    });
  return finish_load(seconds, stop, pool, per, errors, t0);
}

size_t discard(char*, size_t s, size_t n, void*) { return s * n; }

// The same load straight at libpod: GET /containers/{name}/json over the unix socket.
Load libpod_inspect_load(const std::string& name, int threads, int seconds) {
  std::vector<Stats> per(static_cast<size_t>(threads));
  std::atomic<long> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  std::string socket = opt.socket.substr(7);
  std::string url = "http://d/v4.0.0/libpod/containers/" + name + "/json";
  auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      CURL* c = curl_easy_init();
      curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      while (!stop) {
        auto r0 = Clock::now();
        long status = 0;
        if (curl_easy_perform(c) != CURLE_OK) ++errors;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) ++errors;
        per[static_cast<size_t>(t)].values.push_back(ms_since(r0));
      }
      curl_easy_cleanup(c);
    });
  return finish_load(seconds, stop, pool, per, errors, t0);
}

// The image path, with an agent of its own that pulls (policy always, REGISTRY_URL): run apart
// from the other figures, since two agents on one Podman each reconcile the other's apps.
// The image path. Two phases, one agent each (two agents on one Podman would each reconcile the
// other's apps): "pull", an agent with RUNTIME_PULL_POLICY=always and REGISTRY_URL: a new app whose
// ~50 MB image comes from the registry, against podman pull + run -d + first accept (the image
// removed from the node before each), then redeploys of the unchanged :latest (a digest check, no
// layers); "plain", the same agent with policy missing: redeploys of that app without a pull. The
// first phase leaves its samples in a file; the second prints the rows.
void registry_rows(podman::Client& podman, int n) {
  const std::string& image = opt.registry_image;
  if (opt.registry_phase == "pull") {
    std::cerr << "bench: pulls from the registry\n";
    Stats pulled, pull_run, checked;
    for (int i = 0; i < n; ++i) {
      sh(cli() + "rmi -f " + image);
      auto t0 = Clock::now();
      auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("pull" + std::to_string(i), image));
      pulled.values.push_back(ms_since(t0));
      if (r.status != 200 || r.body.find("\"pulled\":true") == std::string::npos) std::cerr << "pulling deploy: " << r.body << "\n";
      agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"pull)" + std::to_string(i) + R"("})");
      sh(cli() + "rmi -f " + image);
      t0 = Clock::now();
      sh(cli() + "pull -q --tls-verify=false " + image);
      baseline_run("bench-pull-" + std::to_string(i), podman, image);
      pull_run.values.push_back(ms_since(t0));
      sh(cli() + "rm -f bench-pull-" + std::to_string(i));
    }
    agent_call("POST", "/agent/apps/deploy", deploy_body("same", image));
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("same", image));
      checked.values.push_back(ms_since(t0));
      if (r.status != 200 || r.body.find("\"pulled\":false") == std::string::npos) std::cerr << "unchanged redeploy: " << r.body << "\n";
    }
    std::ofstream out(opt.samples);
    for (const auto* stats : {&pulled, &pull_run, &checked}) {
      for (double v : stats->values) out << v << ' ';
      out << '\n';
    }
    return;
  }
  std::vector<Stats> earlier(3);
  {
    std::ifstream in(opt.samples);
    std::string line;
    for (auto& stats : earlier) {
      std::getline(in, line);
      std::istringstream values(line);
      for (double v; values >> v;) stats.values.push_back(v);
    }
  }
  Stats unpulled;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("same", image));  // RUNTIME_PULL_POLICY=missing
    unpulled.values.push_back(ms_since(t0));
    if (r.status != 200) std::cerr << "redeploy without pull: " << r.body << "\n";
  }
  agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"same"})");
  const Stats &pulled = earlier[0], &pull_run = earlier[1], &checked = earlier[2];
  if (pulled.values.empty() || checked.values.empty()) {
    std::cerr << "bench: no samples from the pull phase in " << opt.samples << "\n";
    return;
  }
  rows.push_back({"deploy of a new app, ~50 MB image from the local registry (ms)", fmt(pulled.median()), fmt(pulled.p95()),
                  "`podman pull` + `podman run -d` + first TCP accept", fmt(pull_run.median()), fmt(pull_run.p95()),
                  fmt(pulled.median() / pull_run.median(), 2), "≤ 1.1×"});
  rows.push_back({"redeploy of an unchanged :latest, policy always (ms)", fmt(checked.median()), fmt(checked.p95()),
                  "redeploy without pull (policy missing)", fmt(unpulled.median()), fmt(unpulled.p95()),
                  fmt(checked.median() / unpulled.median(), 2), "a digest check only"});
}

// wrk against the agent: requests per second and failed requests (socket errors and non-2xx).
struct WrkResult {
  double rate = 0;
  long failed = 0;
};
WrkResult wrk(const std::string& path, int connections, int seconds) {
  std::string cmd = "wrk -t2 -c" + std::to_string(connections) + " -d" + std::to_string(seconds) + "s --timeout 10s -H 'X-Runtime-Token: " +
                    opt.token + "' '" + opt.agent + path + "' 2>&1";
  WrkResult result;
  FILE* out = ::popen(cmd.c_str(), "r");
  if (!out) return result;
  char line[512];
  while (std::fgets(line, sizeof line, out)) {
    std::string l = line;
    if (l.rfind("Requests/sec:", 0) == 0) result.rate = std::atof(l.c_str() + 13);
    auto non2xx = l.find("Non-2xx or 3xx responses:");
    if (non2xx != std::string::npos) result.failed += std::atol(l.c_str() + non2xx + 26);
    if (l.find("Socket errors:") != std::string::npos) {
      for (const char* key : {"connect ", "read ", "write ", "timeout "}) {
        auto at = l.find(key);
        if (at != std::string::npos) result.failed += std::atol(l.c_str() + at + std::strlen(key));
      }
    }
  }
  ::pclose(out);
  return result;
}

// GET /internal/health on a fresh connection each time, as the Runner's calls come: latencies (ms).
Stats fresh_health(int count) {
  Stats s;
  for (int i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    auto r = testing::http("GET", opt.agent + "/internal/health", "", {}, std::chrono::milliseconds(5000));
    s.values.push_back(r.status == 200 ? ms_since(t0) : 5000.0);
  }
  return s;
}

// Connections: the memory 1000 idle keep-alive connections cost (first, on a fresh agent: memory
// freed by later loads stays with the process and would hide it), status throughput at 16 and at
// 1000 keep-alive clients (wrk), health latency while 1000 slow-header (slowloris) connections are
// open against none. The baseline of each figure is the same agent without the load.
void connection_rows(int n) {
  int port = Poco::URI(opt.agent).getPort();
  auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("cx", testing::kHttpdImage));
  if (r.status != 200) std::cerr << "deploy cx failed: " << r.body << "\n";
  std::cerr << "bench: memory of 1000 idle keep-alive connections\n";
  Memory without = memory_mb(opt.agent_pid, n);
  Memory with;
  {
    std::vector<std::unique_ptr<testing::RawConnection>> idle;
    for (int i = 0; i < 1000; ++i) {
      idle.push_back(std::make_unique<testing::RawConnection>(port));
      idle.back()->send("GET /internal/health HTTP/1.1\r\nHost: agent\r\n\r\n");
    }
    for (auto& c : idle)
      for (int i = 0; i < 10 && c->received().find("\r\n\r\n") == std::string::npos && c->receive(); ++i) {
      }
    with = memory_mb(opt.agent_pid, n);
  }
  double per_connection_kb = (with.uss.median() - without.uss.median()) * 1024.0 / 1000.0;
  rows.push_back({"agent USS, 1000 idle keep-alive connections (MB)", fmt(with.uss.median()), fmt(with.uss.p95()), "same agent, none open",
                  fmt(without.uss.median()), fmt(without.uss.p95()), fmt(with.uss.median() / without.uss.median(), 2), ""});
  rows.push_back({"USS per idle connection (KB)", fmt(per_connection_kb), "", "", "", "", "", "< 16 KB"});
  std::string status_path = "/agent/apps/status?appId=cx&userId=7";
  std::cerr << "bench: status with wrk, 16 then 1000 connections\n";
  wrk(status_path, 16, 1);  // warm-up
  auto at16 = wrk(status_path, 16, opt.load_seconds);
  auto at1000 = wrk(status_path, 1000, opt.load_seconds);
  rows.push_back({"status throughput, 1000 keep-alive connections (req/s; failed)", fmt(at1000.rate, 0) + "; " + std::to_string(at1000.failed), "",
                  "same, 16 connections (wrk -t2)", fmt(at16.rate, 0) + "; " + std::to_string(at16.failed), "",
                  fmt(at1000.rate / at16.rate, 2), "≥ 0.8 of 16"});

  std::cerr << "bench: health with 1000 slow-header connections open\n";
  std::this_thread::sleep_for(std::chrono::seconds(6));  // wrk's connections are gone (keep-alive timeout)
  auto quiet = fresh_health(300);
  {
    std::vector<std::unique_ptr<testing::RawConnection>> slow;
    for (int i = 0; i < 1000; ++i) {
      slow.push_back(std::make_unique<testing::RawConnection>(port));
      slow.back()->send("GET /internal/health HTTP/1.1\r\nHost: agent\r\nX-Slow: ");
    }
    auto loaded = fresh_health(300);
    rows.push_back({"health on a fresh connection, 1000 slow-header connections open (ms; p50, p99)", fmt(loaded.median(), 2),
                    fmt(loaded.pct(99), 2), "same, none open", fmt(quiet.median(), 2), fmt(quiet.pct(99), 2),
                    fmt(loaded.pct(99) / quiet.pct(99), 2), "p99 < 50 ms"});
  }

  agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"cx"})");  // stop: a delete would remove the shared image
}

// The request Traefik forwards to an app, read from its routing file: to the container, or to the
// waker with the headers middleware's headers. Latency to the whole answer (ms), or -1 on failure.
double routed_get(traefik::RouteDir& routes, const std::string& app) {
  auto route = routes.read(app);
  if (!route) return -1;
  std::map<std::string, std::string> headers;
  if (route->wake_secret) headers = {{traefik::kWakeAppHeader, app}, {traefik::kWakeSecretHeader, *route->wake_secret}};
  auto t0 = Clock::now();
  auto r = testing::http("GET", route->upstreams.front() + "/", "", headers, std::chrono::milliseconds(20000));
  return r.status == 200 ? ms_since(t0) : -1;
}

// Scale to zero: wake latency (a sleeping app's first request, through its routing file) against a
// request to the running app in the same run; density: memory of the apps' containers with 200
// deployed and all running against all but 10 asleep, and the two libpod calls of an idle scan.
void sleep_rows() {
  traefik::RouteDir routes(opt.routing_dir);
  auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("wk", testing::kHttpdImage));
  if (r.status != 200) std::cerr << "deploy wk failed: " << r.body << "\n";
  std::cerr << "bench: " << opt.wakes << " wakes\n";
  Stats wake, awake;
  int failed = 0;
  for (int i = 0; i < opt.wakes; ++i) {
    for (int k = 0; k < 5; ++k) {
      double ms = routed_get(routes, "wk");
      if (ms < 0) ++failed;
      else awake.values.push_back(ms);
    }
    auto s = agent_call("POST", "/agent/apps/sleep", R"({"userId":"7","appId":"wk"})");
    if (s.status != 200) std::cerr << "sleep failed: " << s.body << "\n";
    double ms = routed_get(routes, "wk");
    if (ms < 0) ++failed;
    else wake.values.push_back(ms);
  }
  rows.push_back({"first request to a sleeping app, through its route (ms)", fmt(wake.median()), fmt(wake.p95()),
                  "request to the running app (same run)", fmt(awake.median(), 2), fmt(awake.p95(), 2), fmt(wake.median() / awake.median(), 0),
                  "p50 < 400, p95 < 1000"});
  rows.push_back({"failed requests over " + std::to_string(opt.wakes) + " wakes", std::to_string(failed), "", "", "", "", "", "0"});
  agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"wk"})");

  std::cerr << "bench: density, " << opt.density_apps << " apps\n";
  podman::Client podman(opt.socket);
  auto app_memory_mb = [&] {
    uint64_t bytes = 0;
    auto stats = podman::Client::decode("stats", podman.get("stats", "/containers/stats?stream=false"));
    for (const auto& st : stats.value("Stats", nlohmann::json::array())) bytes += st.value("MemUsage", uint64_t{0});
    return static_cast<double>(bytes) / 1048576.0;
  };
  auto in_parallel = [](int count, const std::function<void(int)>& job) {
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t)
      pool.emplace_back([&] {
        for (int i; (i = next++) < count;) job(i);
      });
    for (auto& t : pool) t.join();
  };
  in_parallel(opt.density_apps, [&](int i) {
    auto d = agent_call("POST", "/agent/apps/deploy", deploy_body("d" + std::to_string(i), testing::kHttpdImage));
    if (d.status != 200) std::cerr << "deploy d" << i << " failed: " << d.body << "\n";
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double all_running = app_memory_mb();
  Stats scan_all, scan_listing;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    pc::stats(podman);
    scan_all.values.push_back(ms_since(t0));
    pc::list(podman, {"io.funai.managed=true"}, false);
    scan_listing.values.push_back(ms_since(t0));
  }
  in_parallel(opt.density_apps - 10, [&](int i) {
    auto s = agent_call("POST", "/agent/apps/sleep", R"({"userId":"7","appId":"d)" + std::to_string(i + 10) + R"("})");
    if (s.status != 200) std::cerr << "sleep d" << i + 10 << " failed: " << s.body << "\n";
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double mostly_asleep = app_memory_mb();
  rows.push_back({"memory of the apps' containers, " + std::to_string(opt.density_apps) + " deployed, 10 running (MB)", fmt(mostly_asleep), "",
                  "same, all " + std::to_string(opt.density_apps) + " running", fmt(all_running), "", fmt(mostly_asleep / all_running, 2), ""});
  rows.push_back({"idle scan of " + std::to_string(opt.density_apps) + " running apps: one stats call (ms)", fmt(scan_all.median()), fmt(scan_all.p95()),
                  "", "", "", "", "< 200 ms"});
  rows.push_back({"same, after containers changed: stats + list (ms)", fmt(scan_listing.median()), fmt(scan_listing.p95()), "", "", "", "", ""});
  in_parallel(opt.density_apps, [&](int i) { agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"d)" + std::to_string(i) + R"("})"); });
}

void print_table(std::ostream& out) {
  out << "| measure | agent median | agent p95 | baseline (same run) | baseline median | baseline p95 | agent/baseline | target |\n";
  out << "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |\n";
  for (const auto& r : rows)
    out << "| " << r.what << " | " << r.agent_median << " | " << r.agent_p95 << " | " << r.base_what << " | " << r.base_median
        << " | " << r.base_p95 << " | " << r.ratio << " | " << r.target << " |\n";
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--agent") opt.agent = v;
    else if (k == "--token") opt.token = v;
    else if (k == "--socket") opt.socket = v;
    else if (k == "--fixture-dir") opt.fixture_dir = v;
    else if (k == "--network") opt.network = v;
    else if (k == "--routing-dir") opt.routing_dir = v;
    else if (k == "--agent-pid") opt.agent_pid = std::stoi(v);
    else if (k == "--podman-pid") opt.podman_pid = std::stoi(v);
    else if (k == "--n") opt.n = std::stoi(v);
    else if (k == "--load-seconds") opt.load_seconds = std::stoi(v);
    else if (k == "--apps") opt.many_apps = std::stoi(v);
    else if (k == "--registry-phase") opt.registry_phase = v;
    else if (k == "--samples") opt.samples = v;
    else if (k == "--registry-image") opt.registry_image = v;
    else if (k == "--connections-phase") opt.connections = v == "yes";
    else if (k == "--sleep-phase") opt.sleep = v == "yes";
    else if (k == "--wakes") opt.wakes = std::stoi(v);
    else if (k == "--density-apps") opt.density_apps = std::stoi(v);
  }
  podman::Client podman(opt.socket);
  const int n = opt.n;
  if (opt.sleep) {
    sleep_rows();
    print_table(std::cout);
    return 0;
  }
  if (opt.connections) {
    connection_rows(n);
    print_table(std::cout);
    return 0;
  }
  if (!opt.registry_phase.empty()) {
    registry_rows(podman, n);
    if (opt.registry_phase == "plain") print_table(std::cout);
    return 0;
  }
  std::cerr << "bench: N=" << n << ", load " << opt.load_seconds << " s at 16 connections, " << opt.many_apps << " apps\n";

  Memory idle = memory_mb(opt.agent_pid, n);
  Memory podman_idle = memory_mb(opt.podman_pid, n);

  // Warm-up: the network exists, the image is in the page cache, for both sides.
  agent_call("POST", "/agent/apps/deploy", deploy_body("warm", testing::kHttpdImage));
  agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"warm"})");
  baseline_run("bench-warm", podman);
  sh(cli() + "rm -f bench-warm");

  // 1. deploy vs podman run -d + first accept, alternating.
  std::cerr << "bench: deploy\n";
  Stats deploy, run;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("d" + std::to_string(i), testing::kHttpdImage));
    deploy.values.push_back(ms_since(t0));
    if (r.status != 200) std::cerr << "deploy failed: " << r.body << "\n";
    run.values.push_back(baseline_run("bench-run-" + std::to_string(i), podman));
  }
  rows.push_back({"deploy of a new app (ms)", fmt(deploy.median()), fmt(deploy.p95()), "`podman run -d` + first TCP accept",
                  fmt(run.median()), fmt(run.p95()), fmt(deploy.median() / run.median(), 2), "≤ 1.3×"});

  // 2. stop (init on) vs podman rm -f, alternating.
  std::cerr << "bench: stop\n";
  Stats stop, rm;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"d)" + std::to_string(i) + R"("})");
    stop.values.push_back(ms_since(t0));
    t0 = Clock::now();
    sh(cli() + "rm -f bench-run-" + std::to_string(i));
    rm.values.push_back(ms_since(t0));
  }
  rows.push_back({"stop (ms)", fmt(stop.median()), fmt(stop.p95()), "`podman rm -f` (init on)", fmt(rm.median()), fmt(rm.p95()),
                  fmt(stop.median() / rm.median(), 2), "≤ 500 ms"});

  // 3. redeploy under traffic vs the naive path (rm -f, run -d, accept), alternating.
  std::cerr << "bench: redeploy under traffic\n";
  Stats redeploy, naive;
  int agent_failed = 0, agent_ok = 0, naive_failed = 0, naive_ok = 0;
  agent_call("POST", "/agent/apps/deploy", deploy_body("rd", testing::kHttpdImage));
  baseline_run("bench-naive", podman);
  traefik::RouteDir naive_routes(opt.routing_dir);
  for (int i = 0; i < n; ++i) {
    {
      traefik::RouteDir routes(opt.routing_dir);
      testing::GatewaySimulator traffic(routes, "rd");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      auto t0 = Clock::now();
      auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("rd", i % 2 ? testing::kHttpdImage : testing::kHttpd2Image));
      redeploy.values.push_back(ms_since(t0));
      if (r.status != 200) std::cerr << "redeploy failed: " << r.body << "\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // switch applied, old one retired
      traffic.stop();
      agent_failed += traffic.failed();
      agent_ok += traffic.ok();
    }
    {
      // The naive path, with a route file of its own that the same gateway follows.
      auto ip = pc::inspect(podman, "bench-naive").ip_on(opt.network);
      naive_routes.write({"naive", "/apps/naive", {"http://" + ip + ":8080"}, {}, std::nullopt, std::nullopt, std::nullopt});
      testing::GatewaySimulator traffic(naive_routes, "naive");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      auto t0 = Clock::now();
      sh(cli() + "rm -f bench-naive");
      baseline_run("bench-naive", podman);
      naive.values.push_back(ms_since(t0));
      ip = pc::inspect(podman, "bench-naive").ip_on(opt.network);
      naive_routes.write({"naive", "/apps/naive", {"http://" + ip + ":8080"}, {}, std::nullopt, std::nullopt, std::nullopt});
      std::this_thread::sleep_for(std::chrono::milliseconds(3500));
      traffic.stop();
      naive_failed += traffic.failed();
      naive_ok += traffic.ok();
    }
  }
  naive_routes.remove("naive");
  sh(cli() + "rm -f bench-naive");
  rows.push_back({"redeploy under traffic (ms)", fmt(redeploy.median()), fmt(redeploy.p95()), "`podman rm -f` + `run -d` + accept",
                  fmt(naive.median()), fmt(naive.p95()), fmt(redeploy.median() / naive.median(), 2), "zero failed requests"});
  rows.push_back({"failed requests during " + std::to_string(n) + " redeploys", std::to_string(agent_failed) + " of " + std::to_string(agent_failed + agent_ok), "",
                  "same, naive path", std::to_string(naive_failed) + " of " + std::to_string(naive_failed + naive_ok), "", "", "0"});

  // 4. status and health under 16 connections vs raw libpod inspect.
  std::cerr << "bench: status / health load\n";
  auto status = http_load("/agent/apps/status?appId=rd&userId=7", 16, opt.load_seconds, true);
  auto inspect = libpod_inspect_load("rt-u-7-rd", 16, opt.load_seconds);
  auto status_single = http_load("/agent/apps/status?appId=rd&userId=7", 1, opt.load_seconds, true);
  auto health = http_load("/internal/health", 16, opt.load_seconds, false);
  rows.push_back({"status latency, 16 connections (ms)", fmt(status.latency.median(), 2), fmt(status.latency.p95(), 2),
                  "libpod inspect over the socket, 16 connections", fmt(inspect.latency.median(), 2), fmt(inspect.latency.p95(), 2),
                  fmt(status.latency.median() / inspect.latency.median(), 2), "p50 ≤ 5 ms"});
  rows.push_back({"status latency, 1 connection (ms)", fmt(status_single.latency.median(), 2), fmt(status_single.latency.p95(), 2), "", "", "",
                  "", ""});
  rows.push_back({"status throughput (req/s; errors)", fmt(status.rate(), 0) + "; " + std::to_string(status.errors), "",
                  "libpod inspect throughput", fmt(inspect.rate(), 0) + "; " + std::to_string(inspect.errors), "",
                  fmt(status.rate() / inspect.rate(), 2), "≥ 1000 req/s"});
  rows.push_back({"health throughput (req/s; errors)", fmt(health.rate(), 0) + "; " + std::to_string(health.errors), "", "", "", "", "",
                  "≥ 10,000 req/s"});
  agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"rd"})");

  // 5. memory with many apps, and reconcile time.
  std::cerr << "bench: " << opt.many_apps << " apps\n";
  Memory with_30;
  Stats deploy_many;
  for (int i = 0; i < opt.many_apps; ++i) {
    auto t0 = Clock::now();
    auto r = agent_call("POST", "/agent/apps/deploy", deploy_body("m" + std::to_string(i), testing::kHttpdImage));
    deploy_many.values.push_back(ms_since(t0));
    if (r.status != 200) std::cerr << "deploy m" << i << " failed: " << r.body << "\n";
    if (i + 1 == 30) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      with_30 = memory_mb(opt.agent_pid, n);
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Memory with_many = memory_mb(opt.agent_pid, n);
  Memory podman_many = memory_mb(opt.podman_pid, n);

  agent::Settings settings;
  settings.podman_socket = opt.socket;
  settings.network = opt.network;
  settings.traefik_dynamic_dir = opt.routing_dir;
  podman::Client reconcile_client(opt.socket);
  traefik::RouteDir routes(opt.routing_dir);
  agent::AppParts parts(settings, reconcile_client, &routes);
  agent::Reconciler reconciler(settings, reconcile_client, &routes, parts);
  Stats reconcile;
  Stats list;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto summary = reconciler.run_once();
    reconcile.values.push_back(ms_since(t0));
    if (summary.changed()) std::cerr << "reconcile changed something: " << summary.describe() << "\n";
    t0 = Clock::now();
    auto listed = agent_call("GET", "/agent/apps");
    list.values.push_back(ms_since(t0));
    if (listed.status != 200) std::cerr << "GET /agent/apps failed: " << listed.status << "\n";
  }
  Memory after_list = memory_mb(opt.agent_pid, n);

  auto memory_row = [&](const std::string& what, const Memory& agent, const std::string& base_what, const Memory* base,
                        const std::string& target) {
    rows.push_back({what + ": USS (MB)", fmt(agent.uss.median()), fmt(agent.uss.p95()), base_what,
                    base ? fmt(base->uss.median()) : "", base ? fmt(base->uss.p95()) : "",
                    base ? fmt(agent.uss.median() / base->uss.median(), 2) : "", target});
    rows.push_back({what + ": PSS / RSS (MB)", fmt(agent.pss.median()) + " / " + fmt(agent.rss.median()), "", base ? base_what : "",
                    base ? fmt(base->pss.median()) + " / " + fmt(base->rss.median()) : "", "", "", ""});
  };
  const std::string podman_base = "`podman system service` (same run)";
  memory_row("agent idle", idle, podman_base, opt.podman_pid ? &podman_idle : nullptr, "USS ≤ 8 MB");
  memory_row("agent, 30 apps", with_30, "", nullptr, "");
  memory_row("agent, " + std::to_string(opt.many_apps) + " apps", with_many, podman_base, opt.podman_pid ? &podman_many : nullptr,
             "USS ≤ 16 MB");
  memory_row("agent, " + std::to_string(opt.many_apps) + " apps, after reconciles and GET /agent/apps", after_list, "", nullptr, "");
  rows.push_back({"deploy with 0.." + std::to_string(opt.many_apps) + " apps running (ms)", fmt(deploy_many.median()), fmt(deploy_many.p95()), "", "", "", "", ""});
  rows.push_back({"reconcile, " + std::to_string(opt.many_apps) + " apps (ms)", fmt(reconcile.median()), fmt(reconcile.p95()), "", "", "", "", "≤ 1000 ms"});
  rows.push_back({"GET /agent/apps, " + std::to_string(opt.many_apps) + " apps (ms)", fmt(list.median()), fmt(list.p95()), "", "", "", "", ""});

  std::cerr << "bench: cleaning up\n";
  for (int i = 0; i < opt.many_apps; ++i) agent_call("POST", "/agent/apps/stop", R"({"userId":"7","appId":"m)" + std::to_string(i) + R"("})");

  std::ostringstream table;
  print_table(table);
  std::cout << table.str();
  return 0;
}
