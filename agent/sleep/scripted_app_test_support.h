// For waker_test: a hostile app (a listening socket run by a script), the waker under test, and
// what the test reads of them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <dirent.h>
#include <map>
#include <memory>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "sleep/waker.h"
#include "test_support.h"
#include "traefik/route.h"

namespace waker_testing {

using testing::seconds_since;
using agent::Waker;
using testing::RawConnection;

inline const std::string kSecret = "s3cretS3cretS3cret42";

// A hostile app: accepts connections, and for each runs `script` with the socket on a thread of
// its own. Every byte any connection received is kept, for the test to look for what must not be
// there.
class ScriptedApp {
 public:
  using Script = std::function<void(int fd, ScriptedApp& app)>;
  explicit ScriptedApp(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd_, 64) == 0);
    socklen_t n = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted_;
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
          ::close(c);
          return;
        }
        workers_.emplace_back([this, c] {
          script_(c, *this);
          ::close(c);
        });
      }
    });
  }
  ~ScriptedApp() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    release();
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  // Reads until the request head is in (or the peer closes, or 5 s).
  std::string read_head(int fd) {
    std::string got;
    char buffer[4096];
    auto t0 = std::chrono::steady_clock::now();
    while (got.find("\r\n\r\n") == std::string::npos && seconds_since(t0) < 5) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<size_t>(n));
    }
    keep(got);
    return got;
  }
  // Reads whatever else comes, until the peer closes or `seconds` pass.
  void read_rest(int fd, double seconds) {
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buffer[4096];
    auto t0 = std::chrono::steady_clock::now();
    while (seconds_since(t0) < seconds) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n == 0) return;
      if (n > 0) keep(std::string(buffer, static_cast<size_t>(n)));
    }
  }
  void send(int fd, const std::string& bytes) { ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  std::string everything() {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  // Holds a script until release() (or the end).
  void hold() {
    std::unique_lock<std::mutex> lock(mutex_);
    released_cv_.wait(lock, [this] { return released_ || stopping_; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    released_cv_.notify_all();
  }

 private:
  void keep(const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    received_ += bytes;
  }
  Script script_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  bool stopping_ = false;
  std::string received_;
  std::vector<std::thread> workers_;
};

// The waker, with every app of `apps` (id -> port) awake on 127.0.0.1.
struct WakerUnderTest {
  explicit WakerUnderTest(std::map<std::string, int> apps, agent::relay::Limits limits = {}, Waker::Wake wake = nullptr) {
    Waker::Options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.secret = kSecret;
    options.limits = limits;
    options.queue_per_app = 8;
    options.relays_per_app = 16;
    if (!wake)
      wake = [apps](const std::string& app, std::chrono::steady_clock::time_point) {
        Waker::Outcome o;
        auto it = apps.find(app);
        if (it == apps.end()) return o;
        o.kind = Waker::Outcome::Kind::relay;
        o.host = "127.0.0.1";
        o.port = it->second;
        return o;
      };
    waker = std::make_unique<Waker>(options, wake);
    waker->start();
    for (int i = 0; i < 100 && waker->port() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_REQUIRE(waker->port() != 0);
  }
  std::unique_ptr<Waker> waker;
};

inline std::string request(const std::string& app, const std::string& extra = "", const std::string& first = "GET / HTTP/1.1") {
  return first + "\r\nHost: gateway\r\n" + extra + traefik::kWakeAppHeader + ": " + app + "\r\n" + traefik::kWakeSecretHeader + ": " +
         kSecret + "\r\n\r\n";
}

// Everything the waker sends back until it closes (10 s at most).
inline std::string until_closed(RawConnection& c, double seconds = 10) {
  auto t0 = std::chrono::steady_clock::now();
  while (!c.closed() && seconds_since(t0) < seconds) c.receive();
  return c.received();
}

inline double metric(const std::string& series) {
  std::string text = agent::metrics().serialize();
  auto at = text.find(series + " ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no series " + series);
  return std::stod(text.substr(at + series.size() + 1));
}

inline int open_descriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (d && ::readdir(d)) ++n;
  if (d) ::closedir(d);
  return n;
}

}  // namespace waker_testing
