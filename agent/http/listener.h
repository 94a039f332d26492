// A listening TCP socket served by an EventLoop: it accepts every pending connection, refuses those
// beyond a cap, and pauses for a moment when the process runs out of descriptors instead of spinning
// on the listener. The API server and the waker both take their connections from one.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace agent {

class EventLoop;

class Listener {
 public:
  struct Options {
    std::string host;
    int port = 0;             // 0: any free port (port() tells which)
    bool freebind = false;    // bind an address the host does not hold yet (IP_FREEBIND)
    int backlog = 1024;
  };
  struct Peer {
    sockaddr_storage address{};
    socklen_t length = 0;
  };
  // Called on the loop thread for each accepted, non-blocking descriptor, which it then owns.
  using Accepted = std::function<void(int fd, const Peer& peer)>;
  // Called on the loop thread before each accept: false refuses the connection (closed at once).
  using Admit = std::function<bool()>;

  // Binds and listens; throws std::runtime_error naming the address and the system's reason.
  explicit Listener(const Options& options);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }

  // Loop thread only. start() registers the listener with the loop; stop() removes and closes it.
  void start(EventLoop& loop, Admit admit, Accepted accepted);
  void stop();
  // Loop thread, from the loop's tick: resumes accepting once a pause is over.
  void tick(std::chrono::steady_clock::time_point now);

 private:
  void accept_all();

  int fd_ = -1;
  int port_ = 0;
  EventLoop* loop_ = nullptr;
  Admit admit_;
  Accepted accepted_;
  std::optional<std::chrono::steady_clock::time_point> paused_until_;
};

}  // namespace agent
