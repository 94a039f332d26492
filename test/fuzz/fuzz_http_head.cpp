// Fuzz target: bytes as an app's answer and as a client's request reach the strict parser, split
// in two feeds where the first byte says. Whatever it takes for a head must be a head that cannot
// be read two ways: CRLF lines only, no control character in a value, one Content-Length at most;
// and the waker's rewrite of it must parse again to the same start line, with Connection: close on
// a final answer and no wake header left in a request.
#include <cstddef>
#include <cstdint>
#include <strings.h>
#include <string>

#include "http/message_parser.h"
#include "sleep/wake_http.h"
#include "traefik/route.h"

namespace {

void check_head(const agent::MessageHead& head) {
  const std::string& raw = head.raw;
  if (raw.size() < 4 || raw.compare(raw.size() - 4, 4, "\r\n\r\n") != 0) __builtin_trap();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) __builtin_trap();           // a bare LF
    if (raw[i] == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n')) __builtin_trap();  // a bare CR
    if (raw[i] == '\0') __builtin_trap();
    if (raw[i] == '\n' && i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) __builtin_trap();  // obs-fold
  }
  int lengths = 0;
  for (const auto& f : head.fields) {
    if (f.name.empty() || f.name.find_first_of(" \t:\r\n") != std::string::npos) __builtin_trap();
    for (char c : f.value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) __builtin_trap();
    if (strcasecmp(f.name.c_str(), "Content-Length") == 0) ++lengths;
  }
  if (lengths > 1) __builtin_trap();
}

agent::MessageParser parse_all(agent::MessageParser::Kind kind, const std::string& bytes, size_t split) {
  agent::MessageParser p(kind);
  std::string pending = bytes.substr(0, split);
  size_t used = p.feed(pending.data(), pending.size());
  pending.erase(0, used);
  pending += bytes.substr(split);
  while (p.state() == agent::MessageParser::State::head || p.state() == agent::MessageParser::State::body) {
    size_t n = p.feed(pending.data(), pending.size());
    if (n == 0) break;
    pending.erase(0, n);
  }
  return p;
}

// The rewrite adds a Connection line: a head at the parser's limits may pass them once rewritten
// (the app's own parser decides then); the re-parse is checked below them.
bool below_limits(const agent::MessageHead& head) {
  return head.fields.size() + 1 < agent::MessageParser::kMaxFields && head.raw.size() + 64 < agent::MessageParser::kMaxHeadBytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);

  auto answer = parse_all(agent::MessageParser::Kind::response, bytes, split);
  if (answer.state() != agent::MessageParser::State::head && answer.state() != agent::MessageParser::State::failed) {
    check_head(answer.head());
    if (!below_limits(answer.head())) return 0;
    std::string relayed = agent::wake_http::relayed_answer(answer.head());
    auto again = parse_all(agent::MessageParser::Kind::response, relayed, relayed.size());
    if (again.state() == agent::MessageParser::State::head || again.state() == agent::MessageParser::State::failed) __builtin_trap();
    if (again.head().status != answer.head().status) __builtin_trap();
    int status = answer.head().status;
    bool final_answer = status >= 200 || status < 100;
    if (final_answer && !again.head().has_token("Connection", "close")) __builtin_trap();
    if (final_answer && again.head().keep_alive) __builtin_trap();
  }

  auto request = parse_all(agent::MessageParser::Kind::request, bytes, split);
  if (request.state() != agent::MessageParser::State::head && request.state() != agent::MessageParser::State::failed) {
    check_head(request.head());
    if (!below_limits(request.head())) return 0;
    for (bool upgrade : {false, true}) {
      std::string relayed = agent::wake_http::relayed_request(request.head(), upgrade);
      auto again = parse_all(agent::MessageParser::Kind::request, relayed, relayed.size());
      if (again.state() == agent::MessageParser::State::head || again.state() == agent::MessageParser::State::failed) __builtin_trap();
      if (again.head().method != request.head().method || again.head().target != request.head().target) __builtin_trap();
      if (again.head().find(traefik::kWakeSecretHeader) || again.head().find(traefik::kWakeAppHeader)) __builtin_trap();
      if (!upgrade && again.head().keep_alive) __builtin_trap();
      // The body's framing is what it was: the app reads the body the waker relays, no more.
      if (again.head().content_length != request.head().content_length || again.head().chunked != request.head().chunked) __builtin_trap();
    }
  }
  return 0;
}
