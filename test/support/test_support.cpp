#include "test_support.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <cerrno>
#include <cstring>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Net/ServerSocket.h>
#include <thread>

#include "podman/system.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>

#include "base/app_labels.h"
#include "api/http_api.h"
#include "base/metrics.h"
#include "podman/containers.h"

namespace testing {

std::string podman_fixture_dir() {
  const char* state = std::getenv("FUNAI_PODMAN_FIXTURE_FILE");
  BOOST_REQUIRE_MESSAGE(state != nullptr, "FUNAI_PODMAN_FIXTURE_FILE is not set: run this suite through ctest (podman fixture)");
  std::ifstream in(state);
  std::string dir;
  std::getline(in, dir);
  BOOST_REQUIRE_MESSAGE(!dir.empty(), std::string("the podman fixture did not start: no directory in ") + state);
  return dir;
}

std::string podman_fixture_version() {
  std::ifstream in(podman_fixture_dir() + "/version");
  std::string version;
  std::getline(in, version);
  BOOST_REQUIRE_MESSAGE(!version.empty(), "the podman fixture wrote no version file");
  return version;
}

std::string podman_socket() { return "unix://" + podman_fixture_dir() + "/podman.sock"; }

agent::Environment fixture_facts(const char* state_variable, const std::string& facts_file) {
  const char* state = std::getenv(state_variable);
  BOOST_REQUIRE_MESSAGE(state != nullptr, std::string(state_variable) + " is not set: run this suite through ctest (its fixture)");
  std::ifstream s(state);
  std::string dir;
  std::getline(s, dir);
  std::ifstream in(dir + "/" + facts_file);
  BOOST_REQUIRE_MESSAGE(in.good(), "the fixture did not start: no " + dir + "/" + facts_file);
  return agent::parse_env_file(in);
}

const agent::Environment& registry_fixture() {
  static agent::Environment env = fixture_facts("FUNAI_REGISTRY_FIXTURE_FILE", "registry.env");
  return env;
}

std::string unique_id(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(::getpid() % 100000) + "x" + std::to_string(++counter);
}

TempDir::TempDir() {
  char name[] = "/tmp/funai-test.XXXXXX";
  path_ = ::mkdtemp(name);
}

TempDir::~TempDir() {
  try {
    Poco::File(path_).remove(true);
  } catch (...) {
  }
}

// FUNAI_API_RECORD_DIR set: each answer of the agent's API (it carries X-Request-Id, or is the server
// loop's own JSON error) is appended to $FUNAI_API_RECORD_DIR/<pid>.jsonl for test/openapi_check.py.
static void record_answer(const std::string& method, const std::string& url, const HttpResult& r) {
  const char* dir = std::getenv("FUNAI_API_RECORD_DIR");
  if (!dir || !*dir || r.status == 0) return;
  Poco::URI uri(url);
  if (uri.getPath().rfind("/test/", 0) == 0) return;  // endpoints a suite adds for itself
  auto header = [&](const char* name) { auto it = r.headers.find(name); return it == r.headers.end() ? std::string() : it->second; };
  if (!r.headers.count("X-Request-Id") &&
      !(header("Server") == "fun-ai-runtime-agent" && header("Content-Type").rfind("application/json", 0) == 0))
    return;  // an app's, the waker's, a registry's answer
  nlohmann::json line = {{"method", method}, {"target", uri.getPathAndQuery()}, {"status", r.status},
                         {"contentType", header("Content-Type")}, {"body", r.body}};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  // The load suites answer the same route hundreds of thousands of times: a few hundred of each
  // route and status per process say as much.
  static std::map<std::string, int> recorded;
  if (++recorded[method + " " + uri.getPath() + " " + std::to_string(r.status)] > 300) return;
  std::ofstream out(std::string(dir) + "/" + std::to_string(::getpid()) + ".jsonl", std::ios::app);
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

HttpResult http(const std::string& method, const std::string& url, const std::string& body,
                const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult result;
  try {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(timeout.count() * 1000));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty() || method == "POST") request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    result.status = response.getStatus();
    for (const auto& [k, v] : response) result.headers[k] = v;
    Poco::StreamCopier::copyToString(in, result.body);
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  record_answer(method, url, result);
  return result;
}

agent::Settings test_settings(const std::string& routing_dir, const std::string& log_dir) {
  agent::Settings s;
  s.host = "127.0.0.1";
  s.port = 0;
  s.token = "test-token-0123456789";
  s.http_threads = 32;
  s.podman_socket = podman_socket();
  s.network = "funai-test-net";
  s.traefik_dynamic_dir = routing_dir;
  s.pull_policy = agent::PullPolicy::missing;
  s.stop_timeout_seconds = 2;
  s.ready_timeout_seconds = 8;
  s.retire_grace_seconds = 3;
  s.node_gateway_base_url = "http://gateway.test";
  s.log_dir = log_dir;
  return s;
}

AgentUnderTest::AgentUnderTest(agent::Settings s) : agent::Agent(std::move(s)) { start_server(); }

std::string AgentUnderTest::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(server->port()) + path;
}

HttpResult AgentUnderTest::call(const std::string& method, const std::string& path, const std::string& body,
                                std::chrono::milliseconds timeout) const {
  std::map<std::string, std::string> headers = {{"X-Runtime-Token", settings.token}};
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return http(method, url(path), body, headers, timeout);
}

PodmanService::PodmanService(std::string socket_path) : socket_path_(std::move(socket_path)) {}

PodmanService::~PodmanService() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

void PodmanService::start() {
  std::string dir = podman_fixture_dir();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no service left behind by a test that aborts
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::string conf = "CONTAINERS_CONF=" + dir + "/containers.conf";
    ::putenv(conf.data());
    // The fixture's podman: the host's, or Podman 5 through chroot (test/podman5.sh).
    std::string podman = dir + "/podman";
    std::string root = dir + "/root", run = dir + "/run", tmp = dir + "/tmp", uri = "unix://" + socket_path_;
    ::execl(podman.c_str(), podman.c_str(), "--root", root.c_str(), "--runroot", run.c_str(), "--tmpdir", tmp.c_str(), "system", "service",
             "--time=0", uri.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  podman::Client client(endpoint());
  auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 10) {
    try {
      if (podman::system::ping(client)) return;
    } catch (const podman::Error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("a second podman service did not start on " + socket_path_);
}

void PodmanService::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

AgentProcess::AgentProcess(const std::map<std::string, std::string>& env, int port) : port_(port) {
  std::string log = env.at("FUNAI_LOG_DIR") + "/console.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    // Ends with the test process, even one that aborts: no agent is left behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::clearenv();
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execl(FUNAI_AGENT_BINARY, FUNAI_AGENT_BINARY, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  auto t0 = std::chrono::steady_clock::now();
  bool up = false;
  bool exited = false;
  while (!up && !exited && seconds_since(t0) < 20) {
    up = http("GET", url("/internal/health"), "", {}, std::chrono::milliseconds(300)).status == 200;
    int status = 0;
    if (!up && ::waitpid(pid_, &status, WNOHANG) == pid_) exited = reaped_ = true;  // it gave up at start
    if (!up && !exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (up && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
    reaped_ = true;  // what answered on the port was not this agent
    up = false;
  }
  if (!up) {
    // A test must not go on against an agent that never started (its calls would fail for
    // another reason than the one they check).
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    std::ifstream in(log);
    std::string console((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (console.size() > 4000) console = "..." + console.substr(console.size() - 4000);
    BOOST_FAIL("the agent on port " << port << (exited ? " exited at start" : " did not answer /internal/health within 20 s")
                                     << "; its console:\n" << console);
  }
}

AgentProcess::~AgentProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGTERM);
    wait();
  }
}

std::string AgentProcess::url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

bool AgentProcess::running() const { return !reaped_ && ::kill(pid_, 0) == 0; }

int AgentProcess::wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  return status;
}

int AgentProcess::pid() const { return pid_; }

int AgentProcess::terminate() {
  ::kill(pid_, SIGTERM);
  int status = wait();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

RawConnection::RawConnection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  timeval tv{0, 200000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

void RawConnection::finish_sending() { ::shutdown(fd_, SHUT_WR); }

bool RawConnection::receive() {
  char buf[4096];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    received_.append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n == 0) closed_ = true;
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void RawConnection::nonblocking_receive() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) closed_ = true;
    return;
  }
}

void make_room_for_descriptors(unsigned long wanted) {
  rlimit limit{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  BOOST_REQUIRE_MESSAGE(limit.rlim_cur >= wanted, "this needs " << wanted << " open files; the hard limit is " << limit.rlim_max);
}

// Below the kernel's ephemeral range (as test/free_port.sh): a port the kernel hands out for
// outgoing connections could be taken between this call and the bind that uses it.
int free_port() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  if (low <= 21000) low = 32768;
  static std::mutex m;
  static std::mt19937 random(std::random_device{}());
  static std::set<int> given;  // never the same port twice in one test process
  std::lock_guard<std::mutex> lock(m);
  for (;;) {
    int port = std::uniform_int_distribution<int>(20000, low - 1)(random);
    if (given.count(port)) continue;
    try {
      // Without SO_REUSEADDR/SO_REUSEPORT: a listener that set them would not keep the probe out.
      Poco::Net::ServerSocket s;
      s.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)), false, false);
      s.listen();
      given.insert(port);
      return port;
    } catch (const Poco::Exception&) {
      // held by another socket: another port
    }
  }
}

MemoryKb memory_kb(int pid) {
  MemoryKb m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  long kb = 0;
  while (in >> key) {
    if (key.back() != ':' || !(in >> kb)) {
      in.clear();
      in.ignore(1 << 20, '\n');
      continue;
    }
    if (key == "Rss:") m.rss = kb;
    else if (key == "Pss:") m.pss = kb;
    else if (key == "Private_Clean:" || key == "Private_Dirty:") m.uss += kb;
  }
  return m;
}

GatewaySimulator::GatewaySimulator(traefik::RouteDir& routes, std::string app, bool steady) : routes_(routes), app_(std::move(app)) {
  applied_ = routed_target(routes_, app_);
  watcher_ = std::thread([this] { watch(); });
  if (steady) client_ = std::thread([this] { request(); });
}

RoutedTarget GatewaySimulator::applied() {
  std::lock_guard<std::mutex> lock(m_);
  return applied_;
}

HttpResult GatewaySimulator::send(const std::string& method, const std::string& path, const std::string& body,
                                  std::map<std::string, std::string> headers, std::chrono::milliseconds timeout) {
  auto target = applied();
  for (const auto& [k, v] : target.headers) headers[k] = v;  // the middleware replaces what a client sent
  return http(method, target.upstream + path, body, headers, timeout);
}

GatewaySimulator::~GatewaySimulator() { stop(); }

void GatewaySimulator::stop() {
  done_ = true;
  if (watcher_.joinable()) watcher_.join();
  if (client_.joinable()) client_.join();
}

std::string GatewaySimulator::last_body() {
  std::lock_guard<std::mutex> lock(m_);
  return last_body_;
}

std::vector<std::string> GatewaySimulator::failures() {
  std::lock_guard<std::mutex> lock(m_);
  return failures_;
}

void GatewaySimulator::watch() {
  RoutedTarget seen = applied_;
  std::vector<std::pair<std::chrono::steady_clock::time_point, RoutedTarget>> pending;
  while (!done_) {
    RoutedTarget now_in_file;
    try {
      now_in_file = routed_target(routes_, app_);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(m_);
      failures_.push_back(std::string("unparsable routing file: ") + e.what());
      ++failed_;
    }
    if (now_in_file != seen) {
      seen = now_in_file;
      pending.emplace_back(std::chrono::steady_clock::now() + std::chrono::seconds(2), now_in_file);
    }
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->first <= std::chrono::steady_clock::now()) {
        std::lock_guard<std::mutex> lock(m_);
        applied_ = it->second;
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void GatewaySimulator::request() {
  while (!done_) {
    std::string target = applied().upstream;
    auto t0 = std::chrono::steady_clock::now();
    auto r = send("GET", "/", "", {}, std::chrono::milliseconds(5000));
    double took = seconds_since(t0);
    {
      std::lock_guard<std::mutex> lock(m_);
      slowest_ = std::max(slowest_, took);
      if (r.status == 200) {
        ++ok_;
        last_body_ = r.body;
      } else {
        ++failed_;
        failures_.push_back(target + ": " + std::to_string(r.status) + " " + r.error + " at " +
                            std::to_string(seconds_since(started_)) + " s");
      }
    }
    // A steady stream, as users make it, not a flood that exhausts the client's ephemeral ports.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TmpfsMount::TmpfsMount(const std::string& d, const std::string& options) : dir(d) {
  mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
  if (!mounted) BOOST_TEST_MESSAGE("cannot mount a tmpfs on " << dir << ": " << std::strerror(errno));
}

TmpfsMount::~TmpfsMount() {
  if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
}

std::map<std::string, std::string> agent_env(int port, const std::string& token, const std::string& routing_dir,
                                             const std::string& log_dir) {
  return {{"RUNTIME_AGENT_TOKEN", token},
          {"RUNTIME_AGENT_HOST", "127.0.0.1"},
          {"RUNTIME_AGENT_PORT", std::to_string(port)},
          {"RUNTIME_PODMAN_SOCKET", podman_socket()},
          {"RUNTIME_DOCKER_NETWORK", "funai-test-net"},
          {"RUNTIME_TRAEFIK_DYNAMIC_DIR", routing_dir},
          {"RUNTIME_PULL_POLICY", "missing"},
          {"RUNTIME_APP_STOP_TIMEOUT_SECONDS", "2"},
          {"FUNAI_LOG_DIR", log_dir},
          {"PATH", std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin"}};
}

void remove_app_containers(podman::Client& podman, const std::string& app_id) noexcept {
  // Test cleanup, often from a destructor: it must not throw. The agent's retirer may be removing
  // one of them at the same moment, or a crashed one be between restarts (libpod then answers 500
  // for a while): try again, for 10 s. A container left behind would change what later suites
  // count on the same Podman: that fails the test that left it.
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    std::string problem;
    try {
      for (const auto& c : podman::containers::list(podman, {agent::labels::app_filter(app_id)}))
        podman::containers::remove(podman, c.id, true, 0);
      return;
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (seconds_since(t0) >= 10) {
      BOOST_ERROR("cleanup of app " << app_id << " failed: " << problem);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

RoutedTarget routed_target(traefik::RouteDir& routes, const std::string& app_id) {
  RoutedTarget t;
  auto route = routes.read(app_id);
  if (!route || route->upstreams.empty()) return t;
  t.upstream = route->upstreams.front();
  if (route->wake_secret) t.headers = {{traefik::kWakeAppHeader, app_id}, {traefik::kWakeSecretHeader, *route->wake_secret}};
  return t;
}

std::string routed_upstream(traefik::RouteDir& routes, const std::string& app_id) {
  auto route = routes.read(app_id);
  return route && !route->upstreams.empty() ? route->upstreams.front() : "";
}

}  // namespace testing
