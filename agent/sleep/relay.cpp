#include "sleep/relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "sleep/wake_http.h"

namespace agent {

using namespace relay;

namespace {
constexpr uint32_t kIn = EPOLLIN | EPOLLRDHUP;
constexpr auto kClosingTime = std::chrono::seconds(5);
}  // namespace

Relay::Relay(uint64_t id, int client, EventLoop& loop, const Limits& limits)
    : id_(id), client_(client), loop_(loop), limits_(limits), phase_(ReadingHead{}) {
  auto& reading = std::get<ReadingHead>(phase_);
  reading.due = Clock::now() + limits_.head;
  reading.first_byte_due = Clock::now() + limits_.first_byte;
}

Relay::~Relay() {
  if (client_ >= 0) {
    loop_.remove(client_);
    ::close(client_);
  }
  close_upstream();
}

void Relay::close_upstream() {
  if (upstream_ < 0) return;
  loop_.remove(upstream_);
  ::close(upstream_);
  upstream_ = -1;
}

const MessageHead& Relay::request_head() const { return std::get<ReadingHead>(phase_).request.head(); }

bool Relay::read_into(int fd, std::string& into, bool& eof, bool& broken) {
  char buffer[64 * 1024];
  bool got = false;
  while (!eof && into.size() < limits_.buffer) {
    size_t room = std::min(sizeof buffer, limits_.buffer - into.size());
    ssize_t n = ::recv(fd, buffer, room, 0);
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
      got = true;
      continue;
    }
    if (n == 0) eof = true;
    else if (errno == EINTR) continue;
    else if (errno != EAGAIN && errno != EWOULDBLOCK) broken = true;
    break;
  }
  return got;
}

bool Relay::write_from(int fd, std::string& from, bool& broken) {
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
  return sent > 0;
}

Relay::Next Relay::on_client(uint32_t events) {
  if (events & (EPOLLERR | EPOLLHUP)) return Next::drop;  // the client is gone: nobody to answer
  if (auto* reading = std::get_if<ReadingHead>(&phase_)) {
    bool broken = false;
    read_into(client_, reading->received, client_eof_, broken);
    if (broken) return Next::drop;
    // Empty lines (CRLF) before a request line are ignored (RFC 9112, 2.2).
    while (reading->request.head().raw.empty() && reading->received.size() >= 2 && reading->received.compare(0, 2, "\r\n") == 0)
      reading->received.erase(0, 2);
    size_t used = reading->request.feed(reading->received.data(), reading->received.size());
    reading->received.erase(0, used);
    if (reading->request.state() == MessageParser::State::failed) {
      const auto& f = reading->request.failure();
      return fail_answer(f.status, f.status == 431 ? "Request Header Fields Too Large" : f.status == 501 ? "Not Implemented" : "Bad Request",
                         "malformed request\n");
    }
    if (reading->request.state() == MessageParser::State::head) return client_eof_ ? Next::drop : Next::keep;
    const MessageHead& head = reading->request.head();
    head_request_ = head.method == "HEAD";
    upgrade_asked_ = head.upgrade;
    return Next::head_ready;
  }
  if (std::holds_alternative<Waiting>(phase_)) return Next::keep;  // not read while it waits
  if (auto* closing = std::get_if<Closing>(&phase_)) {
    if (!closing->written) return pump();
    char sink[4096];
    for (;;) {
      ssize_t n = ::recv(client_, sink, sizeof sink, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Next::keep;
      return Next::drop;  // closed: the answer was taken
    }
  }
  return pump();
}

Relay::Next Relay::on_upstream(uint32_t events) {
  if (auto* x = std::get_if<Exchanging>(&phase_); x && !x->connected) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(upstream_, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0 || ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT)))
      return fail_answer(502, "Bad Gateway", "the app did not accept the connection\n");
    if (!(events & EPOLLOUT)) return Next::keep;
    x->connected = true;
  }
  if (events & EPOLLERR) {
    if (!answered_) return fail_answer(502, "Bad Gateway", "the app broke the connection\n");
    return Next::drop;
  }
  if ((events & EPOLLHUP) && upstream_eof_ && std::holds_alternative<Tunnel>(phase_)) {
    // Read to its end and gone both ways: a hang-up would be reported again and again.
    close_upstream();
    upstream_shut_ = true;
  }
  return pump();
}

void Relay::wait() {
  auto reading = std::move(std::get<ReadingHead>(phase_));
  Waiting waiting{std::move(reading.request), std::move(reading.received), Clock::now() + limits_.answer};
  phase_ = std::move(waiting);
  loop_.modify(client_, 0);
}

Relay::Next Relay::relay_to(const std::string& host, int port, EventLoop::Handler on_upstream_events) {
  auto waiting = std::move(std::get<Waiting>(phase_));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  int fd = -1;
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1) fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_answer(502, "Bad Gateway", "the app has no address\n");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return fail_answer(502, "Bad Gateway", "the app did not accept the connection\n");
  }
  try {
    loop_.add(fd, EPOLLOUT, std::move(on_upstream_events));
  } catch (const std::exception&) {
    ::close(fd);
    return fail_answer(502, "Bad Gateway", "the waker cannot watch another connection\n");
  }
  upstream_ = fd;
  to_app_ = wake_http::relayed_request(waiting.request.head(), upgrade_asked_);
  from_client_ = std::move(waiting.early);
  Exchanging x{std::move(waiting.request), MessageParser(MessageParser::Kind::response), waiting.answer_due};
  if (head_request_) x.answer.answer_to_head();
  phase_ = std::move(x);
  return pump();
}

Relay::Next Relay::fail_answer(int status, const std::string& reason, const std::string& text) {
  if (answered_) return Next::drop;  // part of the app's answer went out already: only a close is left
  return answer(wake_http::answer(status, reason, text, status == 503 || status == 504));
}

Relay::Next Relay::answer(std::string bytes) {
  close_upstream();
  to_client_ = std::move(bytes);
  phase_ = Closing{Clock::now() + kClosingTime};
  return pump();
}

Relay::Next Relay::finish() {
  // The answer is complete: what is left of it goes out, then the client's close is awaited.
  close_upstream();
  phase_ = Closing{Clock::now() + kClosingTime};
  return pump();
}

// The request's bytes from the client, framed by its parser: the consumed ones go to the app; once
// the request is complete nothing more is taken.
Relay::Next Relay::take_client_bytes(MessageParser& request) {
  if (request.state() == MessageParser::State::done) {
    from_client_.clear();
    return Next::keep;
  }
  size_t used = request.feed(from_client_.data(), from_client_.size());
  if (request.state() == MessageParser::State::failed) return fail_answer(400, "Bad Request", "malformed request body\n");
  to_app_.append(from_client_, 0, used);
  from_client_.erase(0, used);
  if (request.state() == MessageParser::State::done) from_client_.clear();
  else if (client_eof_) return Next::drop;  // the client ended before its request did
  if (used) moved_ = true;
  return Next::keep;
}

// The app's answer heads: interim ones go on; the final one starts Streaming (or a Tunnel, for an
// upgrade the client asked for).
Relay::Next Relay::take_answer_heads(Exchanging& x) {
  while (!from_app_.empty()) {
    // The head so far is kept by the parser; from_app_ holds what it has not used.
    size_t used = x.answer.feed(from_app_.data(), from_app_.size());
    if (x.answer.state() == MessageParser::State::failed) return fail_answer(502, "Bad Gateway", "the app's answer could not be read\n");
    if (x.answer.state() == MessageParser::State::head) {
      from_app_.erase(0, used);
      if (used) continue;
      break;
    }
    const MessageHead& head = x.answer.head();
    to_client_ += wake_http::relayed_answer(head);
    answered_ = true;
    if (head.status >= 100 && head.status < 200 && head.status != 101) {
      from_app_.erase(0, used);
      x.answer = MessageParser(MessageParser::Kind::response);
      if (head_request_) x.answer.answer_to_head();
      continue;
    }
    if (head.status == 101) {
      if (!upgrade_asked_) return Next::drop;  // an upgrade nobody asked for: nothing more goes either way
      from_app_.erase(0, used);
      to_client_ += from_app_;
      from_app_.clear();
      to_app_ += from_client_;  // the client's bytes after its request belong to the new protocol
      from_client_.clear();
      phase_ = Tunnel{};
      return Next::keep;
    }
    // The final answer: its body follows, framed by the same parser (Streaming).
    from_app_.erase(0, used);
    Streaming s{std::move(x.request), std::move(x.answer), Clock::now() + limits_.idle};
    phase_ = std::move(s);
    return Next::keep;
  }
  if (upstream_eof_) return fail_answer(502, "Bad Gateway", "the app closed the connection without an answer\n");
  return Next::keep;
}

// Moves what can move, then sets what each socket is watched for. Level-triggered: the interest is
// recomputed every time, so a socket is never watched for what cannot be done.
Relay::Next Relay::pump() {
  bool broken = false;
  moved_ = false;
  if (auto* closing = std::get_if<Closing>(&phase_)) {
    write_from(client_, to_client_, broken);
    if (broken) return Next::drop;
    if (to_client_.empty() && !closing->written) {
      closing->written = true;
      ::shutdown(client_, SHUT_WR);
    }
    loop_.modify(client_, closing->written ? kIn : EPOLLOUT);
    return Next::keep;
  }
  auto* x = std::get_if<Exchanging>(&phase_);
  auto* s = std::get_if<Streaming>(&phase_);
  auto* t = std::get_if<Tunnel>(&phase_);
  if (!x && !s && !t) return Next::keep;
  bool connected = !x || x->connected;
  MessageParser* request = x ? &x->request : s ? &s->request : nullptr;
  bool request_done = !request || request->state() == MessageParser::State::done;

  // Client -> app. Past the end of its request what the client sends is read and dropped (it was
  // told to close): only its end is passed on.
  if (!client_eof_ && (request_done && !t)) {
    std::string dropped;
    read_into(client_, dropped, client_eof_, broken);
  } else if (!client_eof_ && to_app_.size() < limits_.buffer && (t || from_client_.size() < limits_.buffer)) {
    std::string& into = t ? to_app_ : from_client_;
    moved_ |= read_into(client_, into, client_eof_, broken);
  }
  if (request && !request_done) {
    if (take_client_bytes(*request) == Next::drop) return Next::drop;
    request_done = request->state() == MessageParser::State::done;
  }
  if (connected && upstream_ >= 0) moved_ |= write_from(upstream_, to_app_, broken);
  if (broken) return answered_ ? Next::drop : fail_answer(502, "Bad Gateway", "the app broke the connection\n");
  if (!t && connected && upstream_ >= 0 && client_eof_ && request_done && to_app_.empty() && !upstream_shut_) {
    ::shutdown(upstream_, SHUT_WR);  // the client ended its side after its request: so does the relay
    upstream_shut_ = true;
  }

  // App -> client.
  if (connected && upstream_ >= 0 && !upstream_eof_ && to_client_.size() < limits_.buffer)
    moved_ |= read_into(upstream_, from_app_, upstream_eof_, broken);
  if (broken) return answered_ ? Next::drop : fail_answer(502, "Bad Gateway", "the app broke the connection\n");
  if (x && connected) {
    if (take_answer_heads(*x) == Next::drop) return Next::drop;
    if (std::holds_alternative<Closing>(phase_)) return Next::keep;
    s = std::get_if<Streaming>(&phase_);
    t = std::get_if<Tunnel>(&phase_);
  }
  if (s) {
    size_t used = s->answer.feed(from_app_.data(), from_app_.size());
    to_client_.append(from_app_, 0, used);
    from_app_.erase(0, used);
    if (s->answer.state() == MessageParser::State::failed) return Next::drop;
    if (upstream_eof_ && s->answer.state() == MessageParser::State::body) s->answer.feed_eof();
    if (s->answer.state() == MessageParser::State::failed) return Next::drop;  // cut short
    if (s->answer.state() == MessageParser::State::done) return finish();
  }
  if (t) {
    to_client_ += from_app_;
    from_app_.clear();
  }
  moved_ |= write_from(client_, to_client_, broken);
  if (broken) return Next::drop;

  if (t) {
    if (client_eof_ && to_app_.empty() && !upstream_shut_ && upstream_ >= 0) {
      ::shutdown(upstream_, SHUT_WR);
      upstream_shut_ = true;
    }
    if (upstream_eof_ && to_client_.empty() && !client_shut_) {
      ::shutdown(client_, SHUT_WR);
      client_shut_ = true;
    }
    if (client_shut_ && upstream_shut_) return Next::drop;  // both ends done
    if ((client_eof_ || upstream_eof_) && !t->half_open_due) t->half_open_due = Clock::now() + limits_.idle;
    if (t->half_open_due && moved_) t->half_open_due = Clock::now() + limits_.idle;
  }
  if (s && moved_) s->idle_due = Clock::now() + limits_.idle;
  watch();
  return Next::keep;
}

void Relay::watch() {
  auto* x = std::get_if<Exchanging>(&phase_);
  auto* s = std::get_if<Streaming>(&phase_);
  bool tunnel = std::holds_alternative<Tunnel>(phase_);
  MessageParser* request = x ? &x->request : s ? &s->request : nullptr;
  bool request_open = request && request->state() != MessageParser::State::done;
  // A side is watched for input only while what it is read into has room: a readable socket that
  // cannot be read would be reported again and again.
  uint32_t client = 0;
  bool client_room = tunnel ? to_app_.size() < limits_.buffer
                            : !request_open || (from_client_.size() < limits_.buffer && to_app_.size() < limits_.buffer);
  if (!client_eof_ && client_room) client |= kIn;
  if (!to_client_.empty()) client |= EPOLLOUT;
  loop_.modify(client_, client);
  if (upstream_ < 0) return;
  uint32_t upstream = 0;
  if (x && !x->connected) {
    upstream = EPOLLOUT;
  } else {
    if (!upstream_eof_ && to_client_.size() < limits_.buffer && from_app_.size() < limits_.buffer) upstream |= kIn;
    if (!to_app_.empty()) upstream |= EPOLLOUT;
  }
  loop_.modify(upstream_, upstream);
}

Relay::Next Relay::expire(Clock::time_point now, std::string& expired) {
  if (auto* reading = std::get_if<ReadingHead>(&phase_)) {
    bool nothing = reading->received.empty() && reading->request.head().raw.empty();
    if (now < reading->due && !(nothing && now >= reading->first_byte_due)) return Next::keep;
    expired = "head";
    if (nothing) return Next::drop;
    return answer(wake_http::answer(408, "Request Timeout", "the request did not arrive in time\n", false));
  }
  if (auto* waiting = std::get_if<Waiting>(&phase_)) {
    if (now < waiting->answer_due) return Next::keep;
    expired = "wake";
    return answer(wake_http::answer(504, "Gateway Timeout", "the app did not wake in time; try again in a moment\n", true));
  }
  if (auto* x = std::get_if<Exchanging>(&phase_)) {
    if (now < x->answer_due) return Next::keep;
    expired = "answer";
    return fail_answer(504, "Gateway Timeout", "the app did not answer in time\n");
  }
  if (auto* s = std::get_if<Streaming>(&phase_)) {
    if (now < s->idle_due) return Next::keep;
    expired = "idle";
    return Next::drop;
  }
  if (auto* t = std::get_if<Tunnel>(&phase_)) {
    if (!t->half_open_due || now < *t->half_open_due) return Next::keep;
    expired = "half_open";
    return Next::drop;
  }
  if (auto* closing = std::get_if<Closing>(&phase_)) return now < closing->due ? Next::keep : Next::drop;
  return Next::keep;
}

}  // namespace agent
