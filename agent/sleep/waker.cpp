#include "sleep/waker.h"

#include <Poco/Logger.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <map>
#include <unordered_map>
#include <vector>

#include <Poco/Net/HTTPResponse.h>

#include "http/event_loop.h"
#include "base/constant_time.h"
#include "http/listener.h"
#include "http/request_reader.h"
#include "traefik/route.h"
#include "config/validation.h"
#include "sleep/wake_http.h"
#include "http/worker_pool.h"

namespace agent {

using wake_http::answer;

namespace {
using Clock = std::chrono::steady_clock;
constexpr size_t kRelayBuffer = 256 * 1024;  // per direction: past it, that side is not read
Poco::Logger& log() { return Poco::Logger::get("waker"); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

struct WakerConnection {
  enum class Phase { reading, waiting, relaying, answering };
  uint64_t id = 0;
  Phase phase = Phase::reading;
  int client = -1;
  int upstream = -1;
  bool upstream_connected = false;
  RequestReader reader{0, true};
  Clock::time_point deadline;
  std::string to_upstream;  // the request head, then what the client sends
  std::string to_client;    // what the app sends (or the waker's own answer)
  bool client_eof = false, upstream_eof = false;
  bool client_shut = false, upstream_shut = false;
  bool upstream_watched = true;   // registered in the loop
  bool response_checked = false;  // the app's answer head has been seen (and made to close)
  bool lingering = false;         // answering: the answer is out, waiting for the client to close
};

class Waker::Impl {
 public:
  Impl(const Options& options, Wake wake)
      // freebind: the apps' bridge, which holds the gateway address, exists only while a container
      // is attached to it; the listener waits for the address to come back.
      : options_(options), wake_(std::move(wake)), listener_({options.host, options.port, true}),
        loop_([this] { tick(); }, std::chrono::milliseconds(500)), workers_(options.wake_threads) {
  }

  void start() {
    loop_.start();
    loop_.post([this] {
      listener_.start(
          loop_, [this] { return static_cast<int>(connections_.size()) < options_.max_connections; },
          [this](int fd, const Listener::Peer&) { accepted(fd); });
    });
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    loop_.stop();
    workers_.join();
    for (auto& [id, c] : connections_) {
      close_fd(c->client);
      close_fd(c->upstream);
    }
    connections_.clear();
    listener_.stop();  // the loop has ended: nothing else touches its registration
  }

  int port() const { return listener_.port(); }
  std::string url() const {
    bool v6 = options_.host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(listener_.port());
  }

 private:
  void accepted(int fd) {
    auto c = std::make_unique<WakerConnection>();
    c->id = ++next_id_;
    c->client = fd;
    c->deadline = Clock::now() + options_.head_deadline;
    uint64_t id = c->id;
    try {
      loop_.add(fd, EPOLLIN | EPOLLRDHUP, [this, id](uint32_t events) { on_client(id, events); });
    } catch (const std::exception& e) {
      log().warning(std::string("connection not taken: ") + e.what());
      ::close(fd);
      return;
    }
    connections_.emplace(id, std::move(c));
  }

  WakerConnection* find(uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  void drop(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    auto& c = *it->second;
    if (c.client >= 0) loop_.remove(c.client);
    if (c.upstream >= 0 && c.upstream_watched) loop_.remove(c.upstream);
    close_fd(c.client);
    close_fd(c.upstream);
    connections_.erase(it);
  }

  void on_client(uint64_t id, uint32_t events) {
    WakerConnection* c = find(id);
    if (!c) return;
    switch (c->phase) {
      case WakerConnection::Phase::reading:
        return read_head(*c);
      case WakerConnection::Phase::waiting:
        if (events & (EPOLLERR | EPOLLHUP)) drop(id);  // gone before its app woke
        return;
      case WakerConnection::Phase::relaying:
      case WakerConnection::Phase::answering:
        return pump(*c, events, true);
    }
  }

  void read_head(WakerConnection& c) {
    char buffer[16 * 1024];
    for (;;) {
      ssize_t n = ::recv(c.client, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.reader.feed(buffer, static_cast<size_t>(n));
        if (c.reader.state() != RequestReader::State::head) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return drop(c.id);
    }
    if (c.reader.state() == RequestReader::State::failed)
      return send_answer(c, answer(c.reader.failure().status,
                                   Poco::Net::HTTPResponse::getReasonForStatus(
                                       static_cast<Poco::Net::HTTPResponse::HTTPStatus>(c.reader.failure().status)),
                                   "malformed request\n", false));
    const auto& head = c.reader.head();
    if (!token_matches(head.get(traefik::kWakeSecretHeader, ""), options_.secret))
      return send_answer(c, answer(403, "Forbidden", "forbidden\n", false));
    std::string app = head.get(traefik::kWakeAppHeader, "");
    if (!is_valid_id(app)) return send_answer(c, answer(404, "Not Found", "no such app on this node\n", false));
    c.to_upstream = wake_http::relayed_head(head) + c.reader.take_rest();
    c.phase = WakerConnection::Phase::waiting;
    loop_.modify(c.client, 0);
    auto& waiting = waiting_[app];
    waiting.push_back(c.id);
    if (waiting.size() == 1) {
      // The first request for this app: one wake, whose outcome every waiting request shares.
      workers_.submit([this, app] {
        Outcome outcome;
        try {
          outcome = wake_(app);
        } catch (const std::exception& e) {
          outcome.kind = Outcome::Kind::failed;
          outcome.detail = e.what();
        }
        loop_.post([this, app, outcome] { woken(app, outcome); });
      });
    }
  }

  void woken(const std::string& app, const Outcome& outcome) {
    std::vector<uint64_t> ids;
    ids.swap(waiting_[app]);
    waiting_.erase(app);
    if (outcome.kind == Outcome::Kind::failed)
      log().warning("app " + app + " did not wake: " + outcome.detail + " (" + std::to_string(ids.size()) + " request(s) answered 503)");
    for (auto id : ids) {
      WakerConnection* c = find(id);
      if (!c) continue;
      switch (outcome.kind) {
        case Outcome::Kind::relay:
          connect_upstream(*c, outcome.host, outcome.port);
          break;
        case Outcome::Kind::not_here:
          send_answer(*c, answer(404, "Not Found", "no such app on this node\n", false));
          break;
        case Outcome::Kind::failed:
          send_answer(*c, answer(503, "Service Unavailable", "the app could not be started; try again in a moment\n", true));
          break;
      }
    }
  }

  void connect_upstream(WakerConnection& c, const std::string& host, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    int fd = -1;
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1) fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return send_answer(c, answer(502, "Bad Gateway", "the app has no address\n", false));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return send_answer(c, answer(502, "Bad Gateway", "the app did not accept the connection\n", false));
    }
    uint64_t id = c.id;
    try {
      loop_.add(fd, EPOLLOUT, [this, id](uint32_t events) {
        WakerConnection* w = find(id);
        if (w) pump(*w, events, false);
      });
    } catch (const std::exception&) {
      ::close(fd);
      return send_answer(c, answer(502, "Bad Gateway", "the waker cannot watch another connection\n", false));
    }
    c.upstream = fd;
    c.phase = WakerConnection::Phase::relaying;
    loop_.modify(c.client, EPOLLIN | EPOLLRDHUP);
  }

  void send_answer(WakerConnection& c, std::string bytes) {
    c.phase = WakerConnection::Phase::answering;
    c.to_client = std::move(bytes);
    c.client_eof = true;  // nothing more is read from it
    c.upstream_eof = true;
    c.deadline = Clock::now() + std::chrono::seconds(5);
    pump(c, 0, true);
  }

  // Until the app's answer head is complete it is held; false when it cannot be read (too long).
  static bool close_after_answer(WakerConnection& c) {
    if (c.response_checked) return true;
    auto state = wake_http::close_after_answer(c.to_client);
    c.response_checked = state == wake_http::AnswerHead::ready;
    return state != wake_http::AnswerHead::too_long;
  }

  // Reads from one side while the other side's buffer has room, writes what is buffered, passes an
  // end of stream on, and closes both once both ends are done. Level-triggered: the interest of each
  // socket is recomputed every time, and a hang-up is never left reported with nothing to do.
  void pump(WakerConnection& c, uint32_t events, bool client_side) {
    if (client_side && (events & (EPOLLERR | EPOLLHUP))) return drop(c.id);  // the client is gone: nobody to answer
    if (!client_side && !c.upstream_connected && c.upstream >= 0) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0 || ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT))) {
        loop_.remove(c.upstream);
        close_fd(c.upstream);
        c.to_upstream.clear();
        return send_answer(c, answer(502, "Bad Gateway", "the app did not accept the connection\n", false));
      }
      if (events & EPOLLOUT) c.upstream_connected = true;
    }
    if (!client_side && c.upstream_connected && (events & EPOLLERR)) return drop(c.id);
    char buffer[64 * 1024];
    bool broken = false;
    auto read_side = [&](int fd, std::string& into, bool& eof) {
      while (!eof && into.size() < kRelayBuffer) {
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          into.append(buffer, static_cast<size_t>(n));
          continue;
        }
        if (n == 0) eof = true;
        else if (errno == EINTR) continue;
        else if (errno != EAGAIN && errno != EWOULDBLOCK) broken = true;
        break;
      }
    };
    auto write_side = [&](int fd, std::string& from) {
      size_t sent = 0;
      while (sent < from.size()) {
        ssize_t n = ::send(fd, from.data() + sent, from.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) broken = true;
        break;
      }
      from.erase(0, sent);
    };
    if (c.phase == WakerConnection::Phase::relaying) {
      read_side(c.client, c.to_upstream, c.client_eof);
      if (c.upstream_connected) {
        write_side(c.upstream, c.to_upstream);
        read_side(c.upstream, c.to_client, c.upstream_eof);
        if (!close_after_answer(c)) return drop(c.id);
      }
      // The app hung up: once its bytes are read, or while its reads are paused (the client is
      // slow), a hang-up would be reported again and again: stop watching it. What is left is read
      // when the client has taken the buffer.
      if (!client_side && (events & EPOLLHUP) && c.upstream_watched && (c.upstream_eof || c.to_client.size() >= kRelayBuffer)) {
        loop_.remove(c.upstream);
        c.upstream_watched = false;
      }
    }
    if (c.phase != WakerConnection::Phase::relaying || c.response_checked || c.upstream_eof) write_side(c.client, c.to_client);
    if (broken) return drop(c.id);
    if (c.phase == WakerConnection::Phase::relaying && c.upstream_connected && c.client_eof && c.to_upstream.empty() && !c.upstream_shut) {
      ::shutdown(c.upstream, SHUT_WR);
      c.upstream_shut = true;
    }
    if (c.upstream_eof && c.to_client.empty() && !c.client_shut) {
      ::shutdown(c.client, SHUT_WR);
      c.client_shut = true;
    }
    bool done = c.client_eof && c.upstream_eof && c.to_client.empty() && (c.to_upstream.empty() || c.upstream < 0);
    if (done) {
      if (c.phase == WakerConnection::Phase::answering && !c.lingering) {
        // Answered: wait (briefly, until the deadline) for the client to close, so the answer is
        // not lost to a reset.
        c.lingering = true;
        loop_.modify(c.client, EPOLLIN | EPOLLRDHUP);
        return;
      }
      if (c.phase == WakerConnection::Phase::answering) {
        char sink[4096];
        for (;;) {
          ssize_t n = ::recv(c.client, sink, sizeof sink, 0);
          if (n > 0) continue;
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return drop(c.id);
          return;
        }
      }
      return drop(c.id);
    }
    uint32_t client_interest = 0;
    if (c.phase == WakerConnection::Phase::relaying && !c.client_eof && c.to_upstream.size() < kRelayBuffer) client_interest |= EPOLLIN | EPOLLRDHUP;
    if (!c.to_client.empty()) client_interest |= EPOLLOUT;
    loop_.modify(c.client, client_interest);
    if (c.upstream >= 0 && c.upstream_watched) {
      uint32_t upstream_interest = 0;
      if (!c.upstream_connected) upstream_interest = EPOLLOUT;
      else {
        if (!c.upstream_eof && c.to_client.size() < kRelayBuffer) upstream_interest |= EPOLLIN | EPOLLRDHUP;
        if (!c.to_upstream.empty()) upstream_interest |= EPOLLOUT;
      }
      loop_.modify(c.upstream, upstream_interest);
    }
  }

  void tick() {
    auto now = Clock::now();
    listener_.tick(now);
    std::vector<uint64_t> expired;
    for (auto& [id, c] : connections_)
      if ((c->phase == WakerConnection::Phase::reading || c->phase == WakerConnection::Phase::answering) && now >= c->deadline)
        expired.push_back(id);
    for (auto id : expired) {
      WakerConnection* c = find(id);
      if (c && c->phase == WakerConnection::Phase::reading && c->reader.started())
        send_answer(*c, answer(408, "Request Timeout", "the request did not arrive in time\n", false));
      else
        drop(id);
    }
  }

  Options options_;
  Wake wake_;
  Listener listener_;
  EventLoop loop_;
  WorkerPool workers_;
  std::unordered_map<uint64_t, std::unique_ptr<WakerConnection>> connections_;  // loop thread only
  std::map<std::string, std::vector<uint64_t>> waiting_;                       // app -> its waiting requests
  uint64_t next_id_ = 0;
  bool stopped_ = false;
};

Waker::Waker(const Options& options, Wake wake) : impl_(std::make_unique<Impl>(options, std::move(wake))) {}
Waker::~Waker() { stop(); }
void Waker::start() { impl_->start(); }
void Waker::stop() { impl_->stop(); }
int Waker::port() const { return impl_->port(); }
std::string Waker::url() const { return impl_->url(); }

}  // namespace agent
