// Shared pieces of the test suites: the private Podman service started by the CTest fixture,
// unique ids, temporary folders, a small HTTP client, and the agent run in-process on an
// ephemeral port against the real Podman.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "agent.h"
#include "apps/deploy_service.h"
#include "http/http_server.h"
#include "podman/client.h"
#include "config/settings.h"
#include "traefik/route_dir.h"

namespace testing {

// The socket of the Podman service the CTest fixture started (fails the test when missing).
std::string podman_socket();
std::string podman_fixture_dir();
// The KEY=VALUE facts a fixture script wrote: the folder named in the file $state_variable names,
// then facts_file in it (fails the test when either is missing).
agent::Environment fixture_facts(const char* state_variable, const std::string& facts_file);
// What test/registry_fixture.sh wrote (REGISTRY_HTTP, REGISTRY_TLS, users and passwords).
const agent::Environment& registry_fixture();
// The version of the fixture's Podman as its command line reports it ("4.3.1", "5.4.2").
std::string podman_fixture_version();

// A name no other test uses: prefix + pid + counter (valid as an app id and container name).
std::string unique_id(const std::string& prefix);

// Images built by the fixture.
inline const std::string kHttpdImage = "localhost/funai-test-httpd:1";
inline const std::string kHttpd2Image = "localhost/funai-test-httpd2:1";
inline const std::string kSlowImage = "localhost/funai-test-slow:1";
inline const std::string kCrashImage = "localhost/funai-test-crash:1";
inline const std::string kChattyImage = "localhost/funai-test-chatty:1";
inline const std::string kNoListenImage = "localhost/funai-test-nolisten:1";
inline const std::string kEchoImage = "localhost/funai-test-echo:1";
inline const std::string kCrashOnWakeImage = "localhost/funai-test-crashonwake:1";

// Seconds elapsed since `start` (printable in test messages, unlike durations).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HttpResult {
  int status = 0;  // 0 = no answer
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
};

// Requires the status of an HTTP answer (or of a libpod Response), printing the status and the body
// (and, for HttpResult, why no answer came) when it is another.
#define FUNAI_REQUIRE_STATUS(result, expected)                                                                     \
  do {                                                                                                            \
    const auto& funai_result_ = (result);                                                                         \
    BOOST_REQUIRE_MESSAGE(funai_result_.status == (expected), "HTTP " << funai_result_.status << ", expected "    \
                                                                      << (expected) << ": " << funai_result_.body \
                                                                      << testing::no_answer_reason(funai_result_)); \
  } while (0)

inline std::string no_answer_reason(const HttpResult& r) { return r.error.empty() ? "" : " (" + r.error + ")"; }
template <typename Response>
std::string no_answer_reason(const Response&) {
  return "";
}

// One request on a new connection. Headers are sent as given.
HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {},
                std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

// Settings for a test agent: a private network, routing dir and log dir, pull policy "missing",
// short grace and stop timeouts.
agent::Settings test_settings(const std::string& routing_dir, const std::string& log_dir);

// The agent, in this process: the same graph as the executable's (agent::Agent), its HTTP server
// on an ephemeral port; heartbeat, reconciler and image sweep not started (tests run their own).
struct AgentUnderTest : agent::Agent {
  explicit AgentUnderTest(agent::Settings s);

  std::string url(const std::string& path) const;
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(30000)) const;
};

// A second `podman system service` over the fixture's storage, on a socket of its own, that a test
// may kill (SIGKILL) and start again to play "Podman went away".
class PodmanService {
 public:
  explicit PodmanService(std::string socket_path);
  ~PodmanService();
  void start();  // returns once it answers
  void kill();   // SIGKILL, as a crash
  std::string endpoint() const { return "unix://" + socket_path_; }

 private:
  std::string socket_path_;
  int pid_ = 0;
};

// The agent binary as a separate process (for SIGKILL, restarts and its own RSS). Its console
// output goes to FUNAI_LOG_DIR/console.log.
class AgentProcess {
 public:
  AgentProcess(const std::map<std::string, std::string>& env, int port);
  ~AgentProcess();
  std::string url(const std::string& path) const;
  bool running() const;
  int wait();
  // SIGTERM, then waits: the exit code (-1 when it did not exit normally).
  int terminate();
  int pid() const;

 private:
  int port_;
  int pid_ = 0;
  bool reaped_ = false;
};

// A raw TCP client of 127.0.0.1:port, blocking, reads waiting at most 200 ms: for connections
// that misbehave on purpose (slow heads, idle keep-alive) by the thousand.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes);
  // Half-closes: the server reads the end of the stream, and can still answer.
  void finish_sending();
  // Reads what arrives within 200 ms; false once the server closed (or on an error).
  bool receive();
  // Reads what has arrived, without waiting.
  void nonblocking_receive();
  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// Raises this process's open-files limit to `wanted` (fails the test when the hard limit is lower).
void make_room_for_descriptors(unsigned long wanted);

// A TCP port nothing listens on right now.
int free_port();

// A process's memory in KiB (/proc/PID/smaps_rollup): resident (RSS), proportional (PSS: shared
// pages divided among the processes that map them) and unique (USS: private pages, what ending
// the process would give back).
struct MemoryKb {
  long rss = 0;
  long pss = 0;
  long uss = 0;
};
MemoryKb memory_kb(int pid);
inline long rss_kb(int pid) { return memory_kb(pid).rss; }

// Follows an app's routing file as Traefik does (re-reads it on change, applies a change only 2 s
// later: the file provider's throttle) while a client requests the app through it continuously,
// about 150 times a second on fresh connections, and counts what fails.
// Where Traefik sends an app's requests, read from its routing file: the upstream, and the
// headers its headers middleware adds (a sleeping app's: its id and the wake secret).
struct RoutedTarget {
  std::string upstream;  // "" when there is no routing file
  std::map<std::string, std::string> headers;
  bool operator==(const RoutedTarget& o) const { return upstream == o.upstream && headers == o.headers; }
  bool operator!=(const RoutedTarget& o) const { return !(*this == o); }
};
RoutedTarget routed_target(traefik::RouteDir& routes, const std::string& app_id);

class GatewaySimulator {
 public:
  // steady: a client thread sends GET / every 5 ms; send() sends single requests either way.
  GatewaySimulator(traefik::RouteDir& routes, std::string app, bool steady = true);
  ~GatewaySimulator();
  void stop();
  // One request as Traefik would forward it now: to the route it has applied (2 s after a file
  // change), the base path stripped, with the middleware's headers.
  HttpResult send(const std::string& method, const std::string& path, const std::string& body = "",
                  std::map<std::string, std::string> headers = {}, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  RoutedTarget applied();
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  double slowest() const { return slowest_; }
  std::string last_body();
  std::vector<std::string> failures();

 private:
  void watch();
  void request();

  traefik::RouteDir& routes_;
  std::string app_;
  std::mutex m_;
  RoutedTarget applied_;
  std::string last_body_;
  double slowest_ = 0;
  std::vector<std::string> failures_;
  std::atomic<int> ok_{0}, failed_{0};
  std::atomic<bool> done_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::thread watcher_, client_;
};

// A tmpfs mounted over a folder for the life of the object (needs CAP_SYS_ADMIN; `mounted` says).
struct TmpfsMount {
  TmpfsMount(const std::string& dir, const std::string& options);
  ~TmpfsMount();
  std::string dir;
  bool mounted;
};

// The environment of an agent process on the fixture's Podman.
std::map<std::string, std::string> agent_env(int port, const std::string& token, const std::string& routing_dir,
                                             const std::string& log_dir);

// Removes every container and route of an app directly through Podman (test cleanup).
void remove_app_containers(podman::Client& podman, const std::string& app_id) noexcept;

// The upstream URL written in an app's routing file, or "" when there is none.
std::string routed_upstream(traefik::RouteDir& routes, const std::string& app_id);

}  // namespace testing
