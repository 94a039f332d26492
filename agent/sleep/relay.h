// One connection of the waker, from Traefik's request to the end of the app's answer. Its phases
// are types, each holding what only that phase needs and saying what ends it when nothing else
// does; the waker's tick calls expire() and the phase decides. Bytes are passed on as they came
// (only whole field lines of a head are dropped, see wake_http.h), framed by the strict parser on
// both sides: past the request's end nothing the client sends reaches the app (unless it
// upgraded), past the answer's end nothing the app sends reaches the client. Every buffer is
// bounded: a side is not read while the other side's buffer is full.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "http/event_loop.h"
#include "http/message_parser.h"

namespace agent {

namespace relay {
using Clock = std::chrono::steady_clock;

struct Limits {
  std::chrono::seconds first_byte{2};  // accept -> the request's first byte (Traefik sends its head at once)
  std::chrono::seconds head{10};    // accept -> the request head
  std::chrono::seconds answer{60};  // the request head -> the app's answer head (the wake included)
  std::chrono::seconds idle{30};    // between bytes of an exchange; after one side's end of an upgrade
  size_t buffer = 256 * 1024;       // per direction
};

// The request head is being read. Ended at `due` (Limits::head from the accept): 408; closed at
// `first_byte_due` (Limits::first_byte) when nothing came.
struct ReadingHead {
  MessageParser request{MessageParser::Kind::request};
  std::string received;
  Clock::time_point due;
  Clock::time_point first_byte_due;
};
// In the app's queue while it wakes. Ended at `answer_due` (Limits::answer from the head): 504.
struct Waiting {
  MessageParser request;
  std::string early;  // bytes of the body that came with the head
  Clock::time_point answer_due;
};
// Connecting to the app, sending the request, reading its answer heads (1xx passed on). Ended at
// `answer_due`: 504 while the client has had nothing, else closed.
struct Exchanging {
  MessageParser request;
  MessageParser answer{MessageParser::Kind::response};
  Clock::time_point answer_due;
  bool connected = false;
};
// The final answer's body, and the rest of the request's. Ended at `idle_due`, which every byte
// either way moves on by Limits::idle; done when the answer is.
struct Streaming {
  MessageParser request;
  MessageParser answer;
  Clock::time_point idle_due;
};
// Upgraded (101): bytes both ways for as long as both sides keep the connection. After either
// side's end, ended at `half_open_due` (Limits::idle).
struct Tunnel {
  std::optional<Clock::time_point> half_open_due;
};
// The waker's own answer, or the end of a relayed one: written, then the client's close awaited
// (so the answer is not lost to a reset). Ended at `due`, 5 s after it began.
struct Closing {
  Clock::time_point due;
  bool written = false;
};
using Phase = std::variant<ReadingHead, Waiting, Exchanging, Streaming, Tunnel, Closing>;
}  // namespace relay

class Relay {
 public:
  enum class Next { keep, drop, head_ready };

  Relay(uint64_t id, int client, EventLoop& loop, const relay::Limits& limits);
  ~Relay();  // closes both sockets (after the loop let go of them)
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  uint64_t id() const { return id_; }
  const relay::Phase& phase() const { return phase_; }
  // ReadingHead, once head_ready: the request.
  const MessageHead& request_head() const;

  // Client socket events. ReadingHead: reads; head_ready once the head is complete (the waker then
  // calls wait() or answer()).
  Next on_client(uint32_t events);
  Next on_upstream(uint32_t events);
  // Into the app's queue; the client is not read meanwhile.
  void wait();
  // Out of the queue: connect to the app and pass the request on. The app's socket is watched
  // with `on_upstream_events`, which must find this relay again by its id (and call on_upstream).
  Next relay_to(const std::string& host, int port, EventLoop::Handler on_upstream_events);
  // The waker's own answer, then close.
  Next answer(std::string bytes);
  // Before an app was named (ReadingHead): such connections are capped per peer address.
  bool admitted() const { return !std::holds_alternative<relay::ReadingHead>(phase_); }
  // The tick: the current phase's deadline. `expired` names the phase whose deadline passed.
  Next expire(relay::Clock::time_point now, std::string& expired);
  // A byte of the app's answer went to the client.
  bool answered() const { return answered_; }

 private:
  Next pump();
  Next fail_answer(int status, const std::string& reason, const std::string& text);
  Next finish();
  bool read_into(int fd, std::string& into, bool& eof, bool& broken);
  bool write_from(int fd, std::string& from, bool& broken);
  void watch();
  Next take_client_bytes(MessageParser& request);
  Next take_answer_heads(relay::Exchanging& x);
  void close_upstream();

  uint64_t id_;
  int client_;
  int upstream_ = -1;
  EventLoop& loop_;
  relay::Limits limits_;
  relay::Phase phase_;
  std::string from_client_, to_app_, from_app_, to_client_;
  bool client_eof_ = false, upstream_eof_ = false;
  bool client_shut_ = false, upstream_shut_ = false;
  bool head_request_ = false;   // HEAD: answers have no body
  bool upgrade_asked_ = false;  // the request asked for an upgrade
  bool answered_ = false;
  bool moved_ = false;  // Streaming/Tunnel: some byte went either way in this pump
};

}  // namespace agent
