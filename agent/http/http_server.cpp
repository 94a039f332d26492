#include "http/http_server.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Timestamp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http/buffered_exchange.h"
#include "http/event_loop.h"
#include "http/listener.h"
#include "base/metrics.h"
#include "http/request_reader.h"
#include "http/worker_pool.h"

namespace agent {

namespace {
using Clock = std::chrono::steady_clock;
constexpr uint32_t kRead = EPOLLIN | EPOLLRDHUP;
constexpr auto kLinger = std::chrono::seconds(2);
Poco::Logger& server_log() { return Poco::Logger::get("http"); }
}  // namespace

// One client connection, owned by the loop thread.
struct Connection {
  enum class Phase {
    reading,    // waiting for (the rest of) a request, or idle between requests
    handling,   // a worker runs the handler; the socket is not watched
    writing,    // the answer is being written
    lingering,  // answered and closing: what the client still sends is read and dropped
  };
  uint64_t id = 0;
  Poco::Net::StreamSocket socket;
  int fd = -1;
  Poco::Net::SocketAddress peer;
  explicit Connection(size_t max_body) : reader(max_body) {}
  RequestReader reader;
  Phase phase = Phase::reading;
  bool idle = true;  // no byte of the next request yet
  bool kept_alive = false;  // it has answered a request already
  bool continue_sent = false;
  Clock::time_point deadline;
  std::string out;
  size_t sent = 0;
  bool close_after = false;
  bool counted_busy = false;  // in busy_ (handling or writing an answer)
};

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
      : options_(options), factory_(std::move(factory)), listener_({options.host, options.port}),
        loop_([this] { tick(); }, std::chrono::milliseconds(200)), workers_(options.threads) {
    params_ = new Poco::Net::HTTPServerParams;
    params_->setServerName("fun-ai-runtime-agent");
    server_address_ = Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(listener_.port()));
  }

  void start() {
    loop_.start();
    loop_.post([this] {
      listener_.start(loop_, [this] { return admit(); }, [this](int fd, const Listener::Peer& peer) { accepted(fd, peer); });
    });
  }

  int port() const { return listener_.port(); }

  void stop(std::chrono::milliseconds drain) {
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    // No new connections; idle ones close now, the others after their answer.
    loop_.post([this] {
      listener_.stop();
      std::vector<uint64_t> idle;
      for (auto& [id, c] : connections_)
        if (c->phase == Connection::Phase::reading || c->phase == Connection::Phase::lingering) idle.push_back(id);
      for (auto id : idle) close(id);
    });
    auto deadline = Clock::now() + drain;
    while (busy_.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop_.stop();
    listener_.stop();  // in case the loop ended before the posted stop ran (safe twice)
    // The loop has ended: what remains is closed from here. Workers still in a handler finish it;
    // their answers go nowhere.
    workers_.join();
    for (auto& [id, c] : connections_) c->socket.close();
    connections_.clear();
    open_ = 0;
    metrics().http_connections(0);
  }

 private:
  bool admit() {
    if (static_cast<int>(connections_.size()) < options_.max_connections) return true;
    metrics().http_connection_refused();
    return false;
  }

  void accepted(int fd, const Listener::Peer& peer) {
    auto c = std::make_unique<Connection>(options_.max_body_bytes);
    c->id = ++next_id_;
    c->socket = Poco::Net::StreamSocket(new Poco::Net::StreamSocketImpl(fd));
    c->fd = fd;
    try {
      c->peer = Poco::Net::SocketAddress(reinterpret_cast<const sockaddr*>(&peer.address), peer.length);
    } catch (...) {
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->deadline = Clock::now() + options_.head_deadline;
    uint64_t id = c->id;
    try {
      loop_.add(fd, kRead, [this, id](uint32_t events) { on_event(id, events); });
    } catch (const std::exception& e) {
      server_log().warning(std::string("connection not taken: ") + e.what());
      return;  // the socket closes with c
    }
    connections_.emplace(id, std::move(c));
    metrics().http_connections(++open_);
  }

  Connection* find(uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.get();
  }

  void close(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if (c.counted_busy) --busy_;
    loop_.remove(c.fd);
    connections_.erase(it);  // the socket closes with it
    metrics().http_connections(--open_);
  }

  void on_event(uint64_t id, uint32_t events) {
    Connection* c = find(id);
    if (!c) return;
    switch (c->phase) {
      case Connection::Phase::reading:
        read(*c);
        break;
      case Connection::Phase::writing:
        if (events & (EPOLLERR | EPOLLHUP)) return close(id);
        flush(*c);
        break;
      case Connection::Phase::lingering:
        drain(*c);
        break;
      case Connection::Phase::handling:
        // Only errors and hang-ups are reported now: the client is gone, its answer will be dropped.
        if (events & (EPOLLERR | EPOLLHUP)) close(id);
        break;
    }
  }

  // Reads what the socket has; returns false when the connection is gone.
  bool receive(Connection& c, bool keep) {
    for (;;) {
      ssize_t n = ::recv(c.fd, buffer_, sizeof buffer_, 0);
      if (n > 0) {
        if (keep) {
          if (c.idle) {
            c.idle = false;
            // A new connection's head counts from the accept; a kept-alive one's from its first byte.
            if (c.kept_alive) c.deadline = Clock::now() + options_.head_deadline;
          }
          c.reader.feed(buffer_, static_cast<size_t>(n));
          if (c.reader.state() != RequestReader::State::head && c.reader.state() != RequestReader::State::body) return true;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n < 0 && errno == EINTR) continue;
      close(c.id);  // the client closed, or the connection broke
      return false;
    }
  }

  void read(Connection& c) {
    auto before = c.reader.state();
    if (!receive(c, true)) return;
    after_input(c, before);
  }

  // What to do once the reader has new bytes (or a kept-alive connection starts the next request).
  void after_input(Connection& c, RequestReader::State before) {
    switch (c.reader.state()) {
      case RequestReader::State::failed: {
        const auto& f = c.reader.failure();
        return answer_error(c, f.status, f.code, f.detail);
      }
      case RequestReader::State::complete:
        return dispatch(c);
      case RequestReader::State::body:
        if (before == RequestReader::State::head) c.deadline = Clock::now() + options_.body_timeout;
        if (c.reader.wants_continue() && !c.continue_sent) {
          c.continue_sent = true;
          static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          [[maybe_unused]] auto n = ::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL);
        }
        return;
      case RequestReader::State::head:
        return;
    }
  }

  void dispatch(Connection& c) {
    c.phase = Connection::Phase::handling;
    c.counted_busy = true;
    ++busy_;
    loop_.modify(c.fd, 0);
    const auto& head = c.reader.head();
    bool keep_alive = !stopping_ && head.getKeepAlive() && !c.reader.body_unread();
    bool head_only = head.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD;
    auto request = std::make_shared<Poco::Net::HTTPRequest>(head);
    auto body = std::make_shared<std::string>(c.reader.take_body());
    uint64_t id = c.id;
    Poco::Net::SocketAddress peer = c.peer;
    workers_.submit([this, id, request, body, peer, keep_alive, head_only] {
      BufferedResponse response;
      std::string bytes;
      bool keep = false;
      try {
        BufferedRequest buffered(*request, std::move(*body), peer, server_address_, params_, response);
        response.setDate(Poco::Timestamp());
        response.setVersion(buffered.getVersion());
        response.setKeepAlive(keep_alive);
        response.set("Server", params_->getServerName());
        std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory_->createRequestHandler(buffered));
        if (handler) handler->handleRequest(buffered, response);
        keep = keep_alive && response.getKeepAlive();
        response.setKeepAlive(keep);
        bytes = response.serialize(head_only);
      } catch (const std::exception& e) {
        server_log().error(std::string("request handler failed: ") + e.what());
        bytes = error_bytes(500, "internal_error", std::string("internal error: ") + e.what());
        keep = false;
      }
      loop_.post([this, id, bytes = std::move(bytes), keep]() mutable {
        Connection* c = find(id);
        if (!c) return;
        start_writing(*c, std::move(bytes), !keep || stopping_);
      });
    });
  }

  static std::string error_bytes(int status, const std::string& code, const std::string& detail) {
    BufferedResponse response;
    response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setDate(Poco::Timestamp());
    response.set("Server", "fun-ai-runtime-agent");
    response.setContentType("application/json");
    response.setKeepAlive(false);
    std::string body = nlohmann::json{{"detail", detail}, {"code", code}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    response.sendBuffer(body.data(), body.size());
    return response.serialize(false);
  }

  // An answer from the loop itself (the request could not be read): JSON, then close.
  void answer_error(Connection& c, int status, const std::string& code, const std::string& detail) {
    if (!c.counted_busy) {
      c.counted_busy = true;
      ++busy_;
    }
    start_writing(c, error_bytes(status, code, detail), true);
  }

  void start_writing(Connection& c, std::string bytes, bool close_after) {
    c.phase = Connection::Phase::writing;
    c.out = std::move(bytes);
    c.sent = 0;
    c.close_after = close_after;
    c.deadline = Clock::now() + options_.send_timeout;
    flush(c);
  }

  void flush(Connection& c) {
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        loop_.modify(c.fd, EPOLLOUT);
        return;
      }
      return close(c.id);
    }
    std::string().swap(c.out);
    if (c.counted_busy) {
      c.counted_busy = false;
      --busy_;
    }
    if (c.close_after) return linger(c);
    // Kept alive: the next request, perhaps already read (pipelined).
    auto before = RequestReader::State::head;
    c.reader.next();
    c.kept_alive = true;
    c.phase = Connection::Phase::reading;
    c.continue_sent = false;
    c.idle = !c.reader.started();
    c.deadline = Clock::now() + (c.idle ? options_.keep_alive_timeout : options_.head_deadline);
    loop_.modify(c.fd, kRead);
    after_input(c, before);
  }

  // Closes after the answer without a reset that could destroy it in flight: stop sending, then
  // read and drop what the client still sends (a body not read) until it closes, or kLinger.
  void linger(Connection& c) {
    if (stopping_) return close(c.id);
    ::shutdown(c.fd, SHUT_WR);
    c.phase = Connection::Phase::lingering;
    c.deadline = Clock::now() + kLinger;
    loop_.modify(c.fd, kRead);
  }

  void drain(Connection& c) { receive(c, false); }

  void tick() {
    auto now = Clock::now();
    if (!stopping_) listener_.tick(now);
    std::vector<uint64_t> expired;
    for (auto& [id, c] : connections_)
      if (c->phase != Connection::Phase::handling && now >= c->deadline) expired.push_back(id);
    for (auto id : expired) {
      Connection* c = find(id);
      if (!c) continue;
      if (c->phase == Connection::Phase::reading && !c->idle) {
        bool in_head = c->reader.state() == RequestReader::State::head;
        answer_error(*c, 408, in_head ? "request_timeout" : "body_incomplete",
                     in_head ? "the request head did not arrive within " + std::to_string(options_.head_deadline.count()) + " s"
                             : "the request body did not arrive complete within " + std::to_string(options_.body_timeout.count()) + " s");
      } else {
        close(id);  // idle past keep-alive, a client not taking its answer, or done lingering
      }
    }
  }

  HttpServerOptions options_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Listener listener_;
  Poco::Net::SocketAddress server_address_;  // what handlers see as the request's server address
  EventLoop loop_;
  WorkerPool workers_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;  // loop thread only
  uint64_t next_id_ = 0;
  char buffer_[64 * 1024];  // loop thread only
  std::atomic<int> open_{0};
  std::atomic<int> busy_{0};
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
};

HttpServer::HttpServer(const HttpServerOptions& options, Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
    : impl_(std::make_unique<Impl>(options, std::move(factory))) {}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

void HttpServer::start() { impl_->start(); }

int HttpServer::port() const { return impl_->port(); }

void HttpServer::stop(std::chrono::milliseconds drain) { impl_->stop(drain); }


}  // namespace agent
